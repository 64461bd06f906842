"""The `regress` suite: the small set of jobs the CI gate runs against reports/baseline/.

Each job trains on the digits task (accuracy) and then times its training and
inference steps (measure "both"), so one process per cell and framework gives both
numbers. A custom cell's job also builds its native layer in the same process and times
the two interleaved, step pair by step pair (TimingConfig.paired), so the ratio the gate
judges is measured under one and the same load; one round (seed) is therefore enough.
The native cells' own jobs stay: they gate the native layers' accuracy and kernel path.

Registered in bench/plan/suites.py as `Suite(name=REGRESS_NAME, description=REGRESS_DESCRIPTION,
device="cpu", grids=REGRESS_GRIDS)`.
"""

from __future__ import annotations

from bench.plan.config import TimingConfig
from bench.plan.jobs import Axes

REGRESS_NAME = "regress"
# The classic GRU, the MGU and the LSTM with their native baselines (gru4, lstm_native):
# every job is a process start (5-8 s). Gate more cells with your own suite and baseline
# (docs/regression_gate.md).
REGRESS_CELLS = ("gru0", "mgu", "gru4", "lstm", "lstm_native")
# Seeds: one round. Paired timing makes the ratio robust to load within the job, so
# repeating every job (as the cross-job ratio needed) buys little for its process starts.
REGRESS_SEEDS = (0,)
# Step timing: process start-up dominates a job, so many timed pairs cost little and
# steady the median (a training step at this shape takes 1-3 ms on one core).
REGRESS_TIMING = TimingConfig(warmup_steps=10, timed_steps=200, paired=True)
# Threads per job that `tox -e regress` and the baseline command pass with --threads:
# one thread per job keeps a step from waiting on a second core another process holds.
REGRESS_THREADS = 1

REGRESS_GRIDS: tuple[Axes, ...] = (
    Axes(tasks=("digits",), measure="both", cells=REGRESS_CELLS, frameworks=("torch", "keras"),
         modes=("default",), hidden_sizes=(32,), batch_sizes=(32,), epochs=3, lrs=(1e-2,),
         seeds=REGRESS_SEEDS, target=0.8, timing=REGRESS_TIMING),
)
REGRESS_DESCRIPTION = (f"the CI gate's suite: {len(REGRESS_CELLS)} cells in both frameworks, digits accuracy "
                       f"(3 epochs, H32) and step timing ({REGRESS_TIMING.timed_steps} steps, custom cells paired "
                       "with their native layer in the same process); CPU, about 1.5 min with --threads 1")
