"""The `regress` suite: the small set of jobs the CI gate runs against reports/baseline/.

Each job trains on the digits task (accuracy) and then times its training and
inference steps (measure "both"), so one process per cell and framework gives both
numbers. The same grid is repeated once per round with a different seed: rounds run one
after another, so a custom cell and its native layer are timed close together in every
round, and the gate takes the median over rounds. A burst of load from another process
then spoils one round of one job, not the comparison.

Registered in bench/suites.py as `Suite(name=REGRESS_NAME, description=REGRESS_DESCRIPTION,
device="cpu", grids=REGRESS_GRIDS)`.
"""

from __future__ import annotations

from bench.config import TimingConfig
from bench.jobs import Axes

REGRESS_NAME = "regress"
# The classic GRU, the MGU and the LSTM with their native baselines (gru4, lstm_native):
# every job is a process start (5-8 s), so the CI budget buys five cells in two frameworks
# and three rounds. Gate more cells with your own suite and baseline (docs/regression_gate.md).
REGRESS_CELLS = ("gru0", "mgu", "gru4", "lstm", "lstm_native")
# Seeds, one interleaved round of every job each; the gate takes each job's fastest
# round, since load from other processes only ever adds time.
REGRESS_ROUNDS = (0, 1, 2)
# Step timing: process start-up dominates a job, so many timed steps cost little and
# steady the median (a training step at this shape takes 1-3 ms on one core).
REGRESS_TIMING = TimingConfig(warmup_steps=10, timed_steps=200)
# Threads per job that `tox -e regress` and the baseline command pass with --threads:
# one thread per job keeps a step from waiting on a second core another process holds.
REGRESS_THREADS = 1


def _round(seed: int) -> Axes:
    return Axes(tasks=("digits",), measure="both", cells=REGRESS_CELLS, frameworks=("torch", "keras"),
                modes=("default",), hidden_sizes=(32,), batch_sizes=(32,), epochs=3, lrs=(1e-2,),
                seeds=(seed,), target=0.8, timing=REGRESS_TIMING)


REGRESS_GRIDS: tuple[Axes, ...] = tuple(_round(seed) for seed in REGRESS_ROUNDS)
REGRESS_DESCRIPTION = (f"the CI gate's suite: {len(REGRESS_CELLS)} cells in both frameworks, digits accuracy "
                       f"(3 epochs, H32) and step timing ({REGRESS_TIMING.timed_steps} steps), "
                       f"{len(REGRESS_ROUNDS)} interleaved rounds; CPU, about 3 min with --threads 1")
