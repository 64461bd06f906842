"""Random noise regression, GRU0–GRU4: does the native GRU stall while the custom ones improve?"""

from __future__ import annotations

from bench.plan.jobs import Axes
from bench.replication.experiment import Claim, Experiment
from bench.plan.suites import Suite

CELLS = ("gru0", "gru1", "gru2", "gru3", "gru4")
# rand(N, T, 500) as in the source; N and T are cut to what 2 CPU cores train in minutes
NOISE_OPTIONS = (("features", 500), ("n", 1000), ("seq_len", 20))

SUITE = Suite(
    name="repl-noise",
    description="replication: random noise rand(1000, 20, 500) -> 10 random targets, MSE, gru0-gru4 H128, "
                "batch 32, Adam 1e-3, 30 epochs, seeds 0-2, both frameworks",
    device="cpu",
    grids=(Axes(tasks=("noise",), measure="train", cells=CELLS, hidden_sizes=(128,), batch_sizes=(32,),
                epochs=30, lrs=(1e-3,), seeds=(0, 1, 2), task_options=NOISE_OPTIONS),),
)

EXPERIMENT = Experiment(
    name="noise",
    title="Random noise, GRU0–GRU4 (training-loss curves)",
    suite=SUITE,
    source_setup="inputs rand(batch, time, 500), MSE loss; loss curves per cell GRU0–GRU4 (GRU4 = the native layer)",
    our_setup="task `noise`: N = 1,000 sequences (800 / 100 / 100) of T = 20 steps × 500 uniform values, 10 "
              "uniform random targets per sequence, MSE; one layer of 128 units, batch 32, Adam 1e-3, 30 epochs, "
              "seeds 0/1/2 (the task's noise is drawn from the seed too), both frameworks. Nothing generalises on noise, so the training loss (memorisation) is "
              "the curve that can improve; validation MSE stays near the variance of the targets",
    claims=(Claim(source="source quoted in issue 7 (random-noise comparison)",
                  text="the native GRU (gru4) stalls while the custom GRU0–GRU3 keep improving",
                  cells=CELLS, baseline="gru4"),),
    loss_curves=True,
)
