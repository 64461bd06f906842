"""Step timing: warm up, then time each step between two device synchronisations.

`time_pair` times two step functions (a custom cell and its native layer) interleaved
in one process, so their ratio is measured under the same load. The clock and the
synchronisation are injected, so the helpers are tested with a fake clock, and each
runner passes what "the device is done" means for it (torch.cuda.synchronize, reading
a TensorFlow value back, JAX block_until_ready).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np


@dataclass(frozen=True)
class StepStats:
    """Statistics of one timed step function; all times in seconds."""

    median_s: float  # median of the timed steps
    q1_s: float  # 25th percentile
    q3_s: float  # 75th percentile
    iqr_s: float  # q3 - q1, the spread reported beside the median
    mean_s: float  # mean of the timed steps
    n: int  # number of timed steps
    warmup_n: int  # untimed warm-up steps before them
    first_s: float  # the first call of the step, which includes compilation/tracing (bench.run.runners.measure primes it)
    warmup_s: list[float]  # every warm-up step
    compile_s: float  # first step minus the steady-state median (>= 0): the one-off cost
    batch_size: int  # sequences per step
    throughput_seq_s: float | None  # batch_size / median_s (None if the clock did not advance)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def no_sync(result: Any) -> None:
    """For work that is finished when the step returns (CPU torch, NumPy results)."""


def time_steps(step: Callable[[], Any], *, warmup: int, repeats: int, batch_size: int,
               clock: Callable[[], float] = time.perf_counter,
               sync: Callable[[Any], None] = no_sync) -> StepStats:
    """Run `step` `warmup` times untimed (timing the first for compile time), then `repeats` times timed.

    Each timed step is bracketed by `sync`, called with the previous and then the
    step's own result, so queued device work is neither charged to the next step nor
    missed. The warm-up steps are discarded from the statistics.
    """
    if warmup < 1:
        raise ValueError(f"warmup must be >= 1 so compilation is not timed, got {warmup}")
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    warmup_times = [timed_call(step, clock, sync) for _ in range(warmup)]
    times = np.array([timed_call(step, clock, sync) for _ in range(repeats)], dtype=np.float64)
    return _stats(times, warmup_times, batch_size)


def _stats(times: np.ndarray, warmup_times: list[float], batch_size: int) -> StepStats:
    q1, median, q3 = (float(v) for v in np.percentile(times, [25, 50, 75]))
    return StepStats(
        median_s=median, q1_s=q1, q3_s=q3, iqr_s=q3 - q1, mean_s=float(times.mean()), n=int(times.size),
        warmup_n=len(warmup_times), first_s=warmup_times[0], warmup_s=warmup_times,
        compile_s=max(0.0, warmup_times[0] - median), batch_size=batch_size,
        throughput_seq_s=batch_size / median if median > 0 else None)


def timed_call(step: Callable[[], Any], clock: Callable[[], float] = time.perf_counter,
               sync: Callable[[Any], None] = no_sync) -> float:
    """Seconds one call of `step` takes, with the device drained before and synchronised after."""
    sync(None)  # drain work queued before this step
    start = clock()
    result = step()
    sync(result)
    return clock() - start


RATIO_DIGITS = 5  # significant digits kept of each per-pair ratio: far below the pairs' own spread


@dataclass(frozen=True)
class RatioStats:
    """Per-pair ratios custom_i / native_i of an interleaved measurement."""

    median: float  # median over the timed pairs: the paired ratio the report and gate use
    q1: float  # 25th percentile of the per-pair ratios
    q3: float  # 75th percentile
    iqr: float  # q3 - q1
    n: int  # timed pairs
    # every pair's ratio in timing order, to RATIO_DIGITS significant digits: the A/B gate resamples them
    ratios: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PairedStats:
    """Two step functions timed interleaved, pair by pair, in one process."""

    a: StepStats  # the first step (the custom cell), over its timed steps
    b: StepStats  # the second step (its native baseline)
    ratio: RatioStats | None  # a_i / b_i over the pairs; None if a step of b took no measurable time
    order: str  # the order of the pairs: "ABBA" (alternating which step goes first)


def time_pair(step_a: Callable[[], Any], step_b: Callable[[], Any], *, warmup: int, repeats: int, batch_size: int,
              clock: Callable[[], float] = time.perf_counter, sync_a: Callable[[Any], None] = no_sync,
              sync_b: Callable[[Any], None] = no_sync) -> PairedStats:
    """Time `step_a` and `step_b` interleaved: pair i is one step of each, back to back.

    Even pairs run a then b, odd pairs b then a (ABBA...), so neither step always goes
    first (after the other's cache traffic or allocation). Both are warmed up the same
    way first. Load that lasts longer than one pair (another process, a slow drift)
    hits both halves of the pair alike, so the median of the per-pair ratios keeps
    what the two steps cost relative to each other, where a ratio of medians timed one
    after the other does not.
    """
    if warmup < 1:
        raise ValueError(f"warmup must be >= 1 so compilation is not timed, got {warmup}")
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    timed_a, timed_b = (step_a, clock, sync_a), (step_b, clock, sync_b)

    def pairs(count: int) -> tuple[list[float], list[float]]:
        times_a, times_b = [], []
        for i in range(count):
            if i % 2 == 0:
                times_a.append(timed_call(*timed_a))
                times_b.append(timed_call(*timed_b))
            else:
                times_b.append(timed_call(*timed_b))
                times_a.append(timed_call(*timed_a))
        return times_a, times_b

    warm_a, warm_b = pairs(warmup)
    times_a, times_b = pairs(repeats)
    a = _stats(np.array(times_a), warm_a, batch_size)
    b = _stats(np.array(times_b), warm_b, batch_size)
    return PairedStats(a=a, b=b, ratio=ratio_stats(times_a, times_b), order="ABBA")


def ratio_stats(times_a: list[float], times_b: list[float]) -> RatioStats | None:
    """Median and quartiles of a_i / b_i; None when some b_i is not positive (a clock that did not advance)."""
    a, b = np.asarray(times_a, dtype=np.float64), np.asarray(times_b, dtype=np.float64)
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"need the same positive number of a and b times, got {a.size} and {b.size}")
    if (b <= 0).any():
        return None
    ratios = a / b
    q1, median, q3 = (float(v) for v in np.percentile(ratios, [25, 50, 75]))
    return RatioStats(median=median, q1=q1, q3=q3, iqr=q3 - q1, n=int(a.size),
                      ratios=[float(f"{r:.{RATIO_DIGITS}g}") for r in ratios])
