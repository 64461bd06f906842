"""Dey & Salem (2017) gate variants GRU0–GRU3 on MNIST rows."""

from __future__ import annotations

from bench.plan.jobs import Axes
from bench.replication.experiment import Claim, Experiment, shared_init_ablation
from bench.replication.mnist_rows import MNIST_SUBSET
from bench.plan.suites import Suite

CELLS = ("gru0", "gru1", "gru2", "gru3")

SUITE = Suite(
    name="repl-mnist-dey-salem",
    description="replication: Dey & Salem GRU0-GRU3 on MNIST rows (10k-image subset), 1x128, batch 100, "
                "Adam 1e-3, 5 epochs, seeds 0-2, both frameworks",
    device="cpu",
    grids=(Axes(tasks=("mnist",), measure="train", cells=CELLS, hidden_sizes=(128,), batch_sizes=(100,), epochs=5,
                lrs=(1e-3,), seeds=(0, 1, 2), task_options=MNIST_SUBSET),),
)

EXPERIMENT = Experiment(
    name="mnist_dey_salem",
    title="MNIST rows, Dey & Salem gate variants GRU0–GRU3",
    suite=SUITE,
    source_setup="GRU0 (classical GRU), GRU1 (gates from the state and bias), GRU2 (gates from the state only), "
                 "GRU3 (gates from the bias only) on MNIST read row by row",
    our_setup="task `mnist` with `limit_train=10000`, `limit_val=1000` (full 10,000-image test set); the custom "
              "cells `gru0`–`gru3` (reset-before, z selects the new candidate), one layer of 128 units, batch 100, "
              "Adam 1e-3, 5 epochs, seeds 0/1/2, both frameworks",
    claims=(Claim(source="Dey & Salem 2017, 'Gate-variants of gated recurrent unit (GRU) neural networks'",
                  text="GRU1 and GRU2 come close to GRU0; GRU3 is clearly behind",
                  cells=CELLS, baseline="gru0"),),
    ablations=(shared_init_ablation(
        SUITE, "is the gap between the frameworks (Keras 3-10 points ahead of torch, most for GRU3) the "
               "initialiser? Both frameworks start from the same model here: Keras's recipe, drawn in NumPy"),),
)
