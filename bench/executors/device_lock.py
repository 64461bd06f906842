"""An exclusive lock on a device for the timed part of a job.

With `bench run --parallel N` several job processes share one GPU. Their imports,
model building and compilation overlap (that is the point: compiling is CPU work and
the GPU machine has many cores), but the timed steps of one job never overlap with
another's: a job takes the device's lock after its first (compiling) step and holds
it through its warm-up and timed steps. The executor names the lock folder in an
environment variable; a job started without it (the default, sequential run) takes
no lock at all.
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
