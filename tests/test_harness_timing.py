"""The timing helpers, with a fake clock: warm-up discarded, sync around every step, statistics,
and custom and native steps timed interleaved in pairs (robust to load that hits both)."""

import numpy as np
import pytest

from bench.run.timing import ratio_stats, time_pair, time_steps

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


# -- paired (interleaved) timing ----------------------------------------------------------

CUSTOM_COST, NATIVE_COST = 3.0e-3, 2.0e-3  # seconds per step on an idle machine: true ratio 1.5
TRUE_RATIO = CUSTOM_COST / NATIVE_COST
SPIKE_LOAD = 4.0  # another process's burst makes every step this many times slower
DRIFT_PER_S = 2.0  # a slow drift: the load rises by this much per second (x1.4 over the paired run)
DRIFT_REL = 0.01  # within one pair the drift moves the load by < 1 %, so each pair's ratio stays this close
PAIRS = 41  # timed pairs (odd: the median is one pair's ratio)


class LoadedMachine:
    """Two steps whose cost is their idle cost times the load at the moment they run.

    `load(t)` gives the slowdown at clock time t; a step's duration is fixed when it
    starts, so load that lasts longer than one step pair hits both halves of it alike.
    """

    def __init__(self, load):
        self.now, self.load, self.order = 0.0, load, []

    def clock(self):
        return self.now

    def _run(self, name, cost):
        self.order.append(name)
        self.now += cost * self.load(self.now)
        return name

    def custom(self):
        return self._run("A", CUSTOM_COST)

    def native(self):
        return self._run("B", NATIVE_COST)


def _spike(start, end):
    return lambda t: SPIKE_LOAD if start <= t < end else 1.0


def test_pairs_alternate_which_step_goes_first_and_sync_each_step():
    machine = LoadedMachine(lambda t: 1.0)
    synced = []
    stats = time_pair(machine.custom, machine.native, warmup=2, repeats=4, batch_size=8, clock=machine.clock,
                      sync_a=lambda r: synced.append(("a", r)), sync_b=lambda r: synced.append(("b", r)))
    assert "".join(machine.order) == "ABBA" * 3  # 2 warm-up pairs, then 4 timed pairs
    assert stats.order == "ABBA"
    # every step: drain before (None), then its own result after
    assert synced[:4] == [("a", None), ("a", "A"), ("b", None), ("b", "B")]
    assert len(synced) == 2 * 2 * (2 + 4)
    assert stats.a.n == stats.b.n == stats.ratio.n == 4
    assert stats.a.warmup_n == stats.b.warmup_n == 2
    assert stats.ratio.median == pytest.approx(TRUE_RATIO, abs=TOL)


def test_a_load_spike_on_both_halves_of_the_pairs_leaves_the_paired_ratio_unchanged():
    # the burst arrives after about a quarter of the pairs and lasts past the last one
    idle_run_s = PAIRS * (CUSTOM_COST + NATIVE_COST)
    machine = LoadedMachine(_spike(idle_run_s / 4, idle_run_s * (SPIKE_LOAD + 1)))
    paired = time_pair(machine.custom, machine.native, warmup=1, repeats=PAIRS, batch_size=1, clock=machine.clock)
    assert paired.a.median_s == pytest.approx(CUSTOM_COST * SPIKE_LOAD, abs=TOL)  # the raw times carry the load
    assert paired.ratio.median == pytest.approx(TRUE_RATIO, abs=TOL)
    assert paired.ratio.iqr == pytest.approx(0.0, abs=TOL)

    # the same spike while the custom cell is timed on its own, then the native: the
    # ratio of the two medians is off by the whole spike
    machine = LoadedMachine(_spike(0.0, CUSTOM_COST * SPIKE_LOAD * (1 + 0.6 * PAIRS)))  # warm-up + 60 % of steps
    alone_a = time_steps(machine.custom, warmup=1, repeats=PAIRS, batch_size=1, clock=machine.clock)
    alone_b = time_steps(machine.native, warmup=1, repeats=PAIRS, batch_size=1, clock=machine.clock)
    assert alone_a.median_s / alone_b.median_s == pytest.approx(TRUE_RATIO * SPIKE_LOAD, rel=1e-9)


def test_a_slow_drift_in_load_does_not_move_the_paired_ratio():
    drift = lambda t: 1.0 + DRIFT_PER_S * t  # noqa: E731 - load rising steadily through the run
    machine = LoadedMachine(drift)
    paired = time_pair(machine.custom, machine.native, warmup=1, repeats=PAIRS, batch_size=1, clock=machine.clock)
    assert paired.ratio.median == pytest.approx(TRUE_RATIO, rel=DRIFT_REL)
    machine = LoadedMachine(drift)
    alone_a = time_steps(machine.custom, warmup=1, repeats=PAIRS, batch_size=1, clock=machine.clock)
    alone_b = time_steps(machine.native, warmup=1, repeats=PAIRS, batch_size=1, clock=machine.clock)
    # the native steps ran later, under more load, so the ratio of medians comes out too low
    assert alone_a.median_s / alone_b.median_s < TRUE_RATIO * (1 - 5 * DRIFT_REL)




def test_ratio_statistics_and_a_clock_that_did_not_advance():
    ratio = ratio_stats([2.0, 6.0, 3.0, 8.0], [1.0, 2.0, 3.0, 2.0])  # per pair 2, 3, 1, 4
    q1, median, q3 = np.percentile([2.0, 3.0, 1.0, 4.0], [25, 50, 75])
    assert (ratio.median, ratio.q1, ratio.q3, ratio.n) == (pytest.approx(median), pytest.approx(q1),
                                                           pytest.approx(q3), 4)
    assert ratio_stats([1.0, 1.0], [1.0, 0.0]) is None
    with pytest.raises(ValueError, match="same positive number"):
        ratio_stats([1.0], [1.0, 2.0])


@pytest.mark.parametrize("warmup, repeats", [(0, 5), (1, 0)])
def test_bad_pair_counts_are_refused(warmup, repeats):
    with pytest.raises(ValueError, match="must be >= 1"):
        time_pair(lambda: None, lambda: None, warmup=warmup, repeats=repeats, batch_size=1)
