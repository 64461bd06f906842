"""The timing helper, with a fake clock: warm-up discarded, sync around every step, statistics."""

import numpy as np
import pytest

from bench.timing import time_steps

TOL = 1e-12  # the fake clock is exact; only float rounding separates expected and measured


class FakeClock:
    """A clock that advances only when a step runs, by a scripted duration per step."""

    def __init__(self, durations):
        self.now = 100.0
        self.durations = list(durations)
        self.steps_run = 0
        self.events = []

    def __call__(self):
        self.events.append(("clock", self.steps_run))
        return self.now

    def step(self):
        self.now += self.durations[self.steps_run]
        self.steps_run += 1
        self.events.append(("step", self.steps_run))
        return f"result{self.steps_run}"

    def sync(self, result):
        self.events.append(("sync", result))


def test_warmup_is_discarded_and_statistics_match_numpy():
    warmup = [5.0, 0.9]  # compilation, then a slow second step: neither may enter the statistics
    timed = [0.010, 0.013, 0.011, 0.017, 0.012, 0.014, 0.019, 0.015]
    clock = FakeClock(warmup + timed)
    stats = time_steps(clock.step, warmup=2, repeats=len(timed), batch_size=64, clock=clock, sync=clock.sync)

    assert clock.steps_run == len(warmup) + len(timed)
    assert stats.n == len(timed) and stats.warmup_n == 2
    q1, median, q3 = np.percentile(timed, [25, 50, 75])
    assert stats.median_s == pytest.approx(median, abs=TOL)
    assert stats.q1_s == pytest.approx(q1, abs=TOL) and stats.q3_s == pytest.approx(q3, abs=TOL)
    assert stats.iqr_s == pytest.approx(q3 - q1, abs=TOL)
    assert stats.mean_s == pytest.approx(np.mean(timed), abs=TOL)
    assert stats.first_s == pytest.approx(5.0, abs=TOL)
    assert stats.warmup_s == pytest.approx(warmup, abs=TOL)
    assert stats.compile_s == pytest.approx(5.0 - median, abs=TOL)
    assert stats.throughput_seq_s == pytest.approx(64 / median)


def test_device_is_synchronised_before_and_after_every_step():
    clock = FakeClock([0.5, 0.25, 0.125])
    time_steps(clock.step, warmup=1, repeats=2, batch_size=8, clock=clock, sync=clock.sync)
    # per step: drain queued work, read the clock, run, wait for the step's own result, read the clock
    per_step = [[("sync", None), ("clock", i), ("step", i + 1), ("sync", f"result{i + 1}"), ("clock", i + 1)]
                for i in range(3)]
    assert clock.events == [event for step in per_step for event in step]


def test_step_that_finishes_asynchronously_is_charged_to_itself():
    """A device that finishes work only at sync time: the wait belongs to the step that queued it."""
    class AsyncDevice:
        def __init__(self):
            self.now, self.pending = 0.0, 0.0

        def clock(self):
            return self.now

        def step(self):
            self.now += 0.001  # launching is quick
            self.pending += 0.1  # the kernel runs later
            return "queued"

        def sync(self, result):
            self.now += self.pending
            self.pending = 0.0

    device = AsyncDevice()
    stats = time_steps(device.step, warmup=1, repeats=5, batch_size=1, clock=device.clock, sync=device.sync)
    assert stats.median_s == pytest.approx(0.101, abs=TOL)


def test_compile_time_is_never_negative():
    clock = FakeClock([0.001, 0.5, 0.5, 0.5])  # a first step faster than steady state
    stats = time_steps(clock.step, warmup=1, repeats=3, batch_size=4, clock=clock, sync=clock.sync)
    assert stats.compile_s == 0.0


@pytest.mark.parametrize("warmup, repeats", [(0, 5), (1, 0)])
def test_bad_counts_are_refused(warmup, repeats):
    with pytest.raises(ValueError, match="must be >= 1"):
        time_steps(lambda: None, warmup=warmup, repeats=repeats, batch_size=1)
