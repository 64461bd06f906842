"""Step timing: warm up, then time each step between two device synchronisations.

The clock and the synchronisation are injected, so the helper is tested with a fake
clock, and each runner passes what "the device is done" means for it
(torch.cuda.synchronize, reading a TensorFlow value back, JAX block_until_ready).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
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
    first_s: float  # the first warm-up step, which includes compilation/tracing
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
    warmup_times = [_timed(step, clock, sync) for _ in range(warmup)]
    times = np.array([_timed(step, clock, sync) for _ in range(repeats)], dtype=np.float64)
    q1, median, q3 = (float(v) for v in np.percentile(times, [25, 50, 75]))
    return StepStats(
        median_s=median, q1_s=q1, q3_s=q3, iqr_s=q3 - q1, mean_s=float(times.mean()), n=int(times.size),
        warmup_n=warmup, first_s=warmup_times[0], warmup_s=warmup_times,
        compile_s=max(0.0, warmup_times[0] - median), batch_size=batch_size,
        throughput_seq_s=batch_size / median if median > 0 else None)


def _timed(step: Callable[[], Any], clock: Callable[[], float], sync: Callable[[Any], None]) -> float:
    sync(None)  # drain work queued before this step
    start = clock()
    result = step()
    sync(result)
    return clock() - start
