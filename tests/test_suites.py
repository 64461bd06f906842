"""Suite overrides change only what they name."""

import dataclasses

from bench.config import TimingConfig
from bench.jobs import Axes
from bench.suites import SUITES, Suite


def test_step_count_override_keeps_the_grids_pairing_choice():
    grid = Axes(tasks=("mnist",), measure="timing", modes=("default",), cells=("gru0",), frameworks=("torch",),
                hidden_sizes=(16,), batch_sizes=(4,), timing=TimingConfig(warmup_steps=2, timed_steps=5, paired=False))
    suite = Suite(name="t", description="t", device="cpu", grids=(grid,))
    (job,) = suite.jobs({"timed_steps": 7})
    assert job.timed_steps == 7 and job.warmup_steps == 2
    assert job.paired is False


def test_every_named_suite_expands_to_registered_cells():
    from bench.cells import list_cells

    for suite in SUITES.values():
        jobs = suite.jobs()
        assert jobs, suite.name
        assert {job.cell for job in jobs} <= set(list_cells())
        assert all(job.device == suite.device for job in jobs)
