"""An exclusive lock on a device for the timed part of a job.

With `bench run --parallel N` several job processes share one GPU. Their imports,
model building and compilation overlap (that is the point: compiling is CPU work and
the GPU machine has many cores), but the timed steps of one job never overlap with
another's: a job takes the device's lock after its first (compiling) step and holds
it through its warm-up and timed steps. The executor names the lock folder in an
environment variable; a job started without it (the default, sequential run) takes
no lock at all. On a machine with enough cores the executor also sets a few cores
aside: the jobs compile on the others, and the job holding the lock moves onto them.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from filelock import FileLock

LOCK_DIR_ENV = "RNNBENCH_DEVICE_LOCK_DIR"  # set by the executor when jobs run side by side
PARALLEL_ENV = "RNNBENCH_PARALLEL_JOBS"  # how many jobs the executor runs at once (recorded with each timing)
JOB_CPUS_ENV = "RNNBENCH_JOB_CPUS"  # cores a side-by-side job compiles on ("0,1,2"), set by the executor
TIMING_CPUS_ENV = "RNNBENCH_TIMING_CPUS"  # cores kept free for the one job holding the lock
TIMING_CORES = 2  # cores set aside for the timed job: its host side is a Python thread or two
MIN_CORES_TO_SPLIT = 6  # below this the split would starve the compiling jobs: no split


def split_cores(cores: list[int], parallel: int) -> tuple[list[int], list[int]] | None:
    """(cores for compiling jobs, cores for the timed job), or None where no split is made.

    Side by side, the other jobs' compiling loads the CPU while one job is timed, and a
    GPU step whose time is the host's is slowed by it (the Keras-on-JAX steps on the H100
    varied by 0.76 of their median that way). The timed job moves to cores nobody else
    runs on while it holds the lock.
    """
    if parallel < 2 or len(cores) < MIN_CORES_TO_SPLIT:
        return None
    ordered = sorted(cores)
    return ordered[:-TIMING_CORES], ordered[-TIMING_CORES:]


def cpu_list(text: str | None) -> list[int] | None:
    """Parse "0,1,5" into [0, 1, 5]; None or "" gives None."""
    return [int(part) for part in text.split(",")] if text else None


def pin_process(cpus: list[int]) -> bool:
    """Every thread of this process onto `cpus` (threads made later inherit it); False where the OS refuses.

    os.sched_setaffinity(0, ...) moves only the calling thread on Linux, so each thread
    listed in /proc/self/task is moved by its id.
    """
    try:
        tids = [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:
        tids = [0]
    moved = False
    for tid in tids:
        try:
            os.sched_setaffinity(tid, cpus)
            moved = True
        except ProcessLookupError:  # the thread ended meanwhile
            continue
        except (OSError, AttributeError, ValueError):  # no affinity on this OS, or cores not ours
            return False
    return moved


@contextmanager
def timing_cores() -> Iterator[list[int] | None]:
    """Run the body on the cores kept for timing (RNNBENCH_TIMING_CPUS), then back on the job's.

    Yields the cores used, or None where the executor set none or the OS refused.
    """
    timing, job = cpu_list(os.environ.get(TIMING_CPUS_ENV)), cpu_list(os.environ.get(JOB_CPUS_ENV))
    if not timing or not job or not pin_process(timing):
        yield None
        return
    try:
        yield timing
    finally:
        pin_process(job)


@contextmanager
def device_lock(device: str, lock_dir: str | os.PathLike | None = None) -> Iterator[dict[str, float]]:
    """Hold `device`'s lock (blocking) for the body; yields {"wait_s": seconds spent waiting}.

    Without a lock folder (argument or RNNBENCH_DEVICE_LOCK_DIR) this takes no lock
    and waits 0 s. The lock is an OS file lock (filelock), so it is released when the
    process dies, and a killed job cannot leave the device locked.
    """
    folder = lock_dir if lock_dir is not None else os.environ.get(LOCK_DIR_ENV)
    facts = {"wait_s": 0.0}
    if not folder:
        yield facts
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with FileLock(Path(folder) / f"{device.replace(':', '_')}.lock"):
        facts["wait_s"] = time.perf_counter() - start
        yield facts
