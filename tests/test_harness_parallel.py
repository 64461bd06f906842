"""Jobs side by side (`bench run --parallel N`): the device lock keeps timed steps apart.

The lock is tested across real processes; the runner's use of it with a fake adapter
whose steps look at the lock file while they run; the executor with real tiny jobs.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time

import numpy as np
import pytest
from filelock import FileLock, Timeout

from bench.records.typed import record_json
from bench.plan.config import ConfigError, TimingConfig
from bench.run.device_lock import (JOB_CPUS_ENV, LOCK_DIR_ENV, PARALLEL_ENV, TIMING_CPUS_ENV, device_lock,
                                   split_cores, timing_cores)
from bench.run.executors.local import LocalExecutor, job_env
from bench.plan.jobs import Axes, expand
from bench.run.runners.batches import Batch
from bench.run.runners.measure import measure_steps

HOLD_S = 0.4  # how long each process holds the lock in the cross-process test
START_SLACK_S = 0.05  # clock and scheduling slack between two processes' timestamps


def _hold(lock_dir: str, queue) -> None:
    with device_lock("cuda", lock_dir) as facts:
        start = time.time()
        time.sleep(HOLD_S)
        queue.put((start, time.time(), facts["wait_s"]))


def test_the_device_lock_lets_one_process_at_a_time_hold_the_device(tmp_path):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    procs = [context.Process(target=_hold, args=(str(tmp_path), queue)) for _ in range(2)]
    for proc in procs:
        proc.start()
    spans = sorted(queue.get(timeout=60) for _ in procs)
    for proc in procs:
        proc.join(timeout=30)
    (start_a, end_a, _), (start_b, _, wait_b) = spans
    assert start_b >= end_a - START_SLACK_S  # the second began only after the first let go
    assert wait_b > 0 or start_b >= end_a  # and it waited for that, unless it simply came later


def test_without_a_lock_folder_no_lock_is_taken(monkeypatch):
    monkeypatch.delenv(LOCK_DIR_ENV, raising=False)
    with device_lock("cuda") as outer, device_lock("cuda") as inner:  # would deadlock if it locked
        assert outer["wait_s"] == inner["wait_s"] == 0.0


class _LockProbe:
    """A fake ModelAdapter whose steps note whether the device lock is held while they run."""

    def __init__(self, lock_path) -> None:
        self.lock_path, self.calls = lock_path, []

    def _held(self) -> bool:
        try:
            FileLock(self.lock_path).acquire(timeout=0)
        except Timeout:
            return True
        FileLock(self.lock_path).release()
        return False

    def timed_train_step(self, batch):
        return lambda: self.calls.append(("train", self._held()))

    def timed_infer_step(self, batch):
        return lambda: self.calls.append(("infer", self._held()))

    def sync(self, result) -> None:
        pass

    def peak_memory(self):
        return {"peak_bytes": 1, "kind": "fake"}


def test_a_job_primes_outside_the_lock_and_times_holding_it(tmp_path, monkeypatch):
    monkeypatch.setenv(LOCK_DIR_ENV, str(tmp_path))
    monkeypatch.setenv(PARALLEL_ENV, "3")
    (job,) = expand(Axes(tasks=("mnist",), measure="timing", cells=("gru4",), frameworks=("torch",),
                         timing=TimingConfig(warmup_steps=2, timed_steps=4)))
    probe = _LockProbe(tmp_path / "cpu.lock")
    batch = Batch(x=np.zeros((2, 3, 4), np.float32), y=np.zeros(2, np.int64), lengths=None, weights=None)
    result = measure_steps(probe, job, batch)
    train = [held for kind, held in probe.calls if kind == "train"]
    # priming (2 calls: compile + warm) without the lock, then 2 warm-up and 4 timed calls holding it
    assert train == [False, False] + [True] * 6
    assert result["device_lock"] == {"used": True, "wait_s": pytest.approx(result["device_lock"]["wait_s"]),
                                     "parallel_jobs": 3}
    assert result["memory_alone"] == {"peak_bytes": 1, "kind": "fake"}
    assert result["train_step"]["warmup_n"] == 2 and result["train_step"]["n"] == 4


def _tiny_train_jobs():
    return expand(Axes(tasks=("digits",), measure="train", cells=("gru0", "mgu", "rnn"), frameworks=("torch",),
                       hidden_sizes=(8,), epochs=1, seeds=(5,)))


@pytest.mark.slow
def test_parallel_accuracy_jobs_give_the_same_records_as_sequential_ones(monkeypatch):
    import bench.run.executors.local as local

    jobs = _tiny_train_jobs()
    sequential = {r.job_id: record_json(r) for r in LocalExecutor(threads=1).run(jobs)}
    # as on a many-core machine; accuracy-only jobs are never timed, so none of the cores is kept back
    monkeypatch.setattr(local, "own_cores", lambda: set(range(16)))
    envs = []
    monkeypatch.setattr(local, "job_env", lambda *args, **kw: envs.append(job_env(*args, **kw)) or envs[-1])
    parallel = {r.job_id: record_json(r) for r in LocalExecutor(threads=1, parallel=2).run(jobs)}
    assert len(envs) == len(jobs) and not any(TIMING_CPUS_ENV in env for env in envs)
    assert set(parallel) == set(sequential) == {job.job_id for job in jobs}
    for job_id, record in parallel.items():
        assert record["status"] == "ok", record["error"]
        assert record["train"]["test_metric"] == pytest.approx(sequential[job_id]["train"]["test_metric"])


def test_parallel_refuses_cpu_timing_jobs_before_running_any():
    jobs = expand(Axes(tasks=("mnist",), measure="timing", cells=("gru0",), frameworks=("torch",)))
    with pytest.raises(ConfigError, match="CPU timing job.*--parallel 1"):
        list(LocalExecutor(parallel=2).run(jobs))
    with pytest.raises(ConfigError, match="--parallel must be >= 1"):
        LocalExecutor(parallel=0)


def test_side_by_side_jobs_keep_cores_free_for_the_timed_one(monkeypatch):
    assert split_cores(list(range(16)), parallel=14) == (list(range(14)), [14, 15])
    assert split_cores(list(range(16)), parallel=1) is None  # one job at a time: nobody to keep away
    assert split_cores([0, 1], parallel=2) is None  # too few cores to give any away
    (job,) = expand(Axes(tasks=("mnist",), measure="timing", cells=("gru4",), frameworks=("torch",), device="cuda"))
    env = job_env(job, threads=1, lock_dir="/tmp/locks", parallel=14, cores=split_cores(list(range(16)), 14))
    assert env[JOB_CPUS_ENV] == ",".join(map(str, range(14))) and env[TIMING_CPUS_ENV] == "14,15"
    assert TIMING_CPUS_ENV not in job_env(job, threads=1, lock_dir="/tmp/locks", parallel=2, cores=None)


def _allowed_cpus(tid: int) -> str:
    with open(f"/proc/self/task/{tid}/status") as status:
        return next(line.split()[1] for line in status if line.startswith("Cpus_allowed_list"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/task") or not hasattr(os, "sched_setaffinity"),
                    reason="thread affinity through /proc is Linux's")
def test_the_timed_section_moves_every_thread_of_the_job_and_moves_them_back(monkeypatch):
    """os.sched_setaffinity(0) would move the calling thread only; a framework's own threads must move too."""
    own = sorted(os.sched_getaffinity(0))
    timing = own[-1:]
    monkeypatch.setenv(TIMING_CPUS_ENV, ",".join(map(str, timing)))
    monkeypatch.setenv(JOB_CPUS_ENV, ",".join(map(str, own)))
    stop = threading.Event()
    helper = threading.Thread(target=stop.wait, daemon=True)  # stands in for an intra-op or runtime thread
    helper.start()
    try:
        with timing_cores() as cpus:
            assert cpus == timing
            assert {_allowed_cpus(int(tid)) for tid in os.listdir("/proc/self/task")} == {str(timing[0])}
        assert {_allowed_cpus(int(tid)) for tid in os.listdir("/proc/self/task")} == {_allowed_cpus(os.getpid())}
        assert sorted(os.sched_getaffinity(0)) == own
    finally:
        stop.set()
        os.sched_setaffinity(0, own)


def test_without_cores_set_aside_the_timed_section_stays_where_it_is(monkeypatch):
    monkeypatch.delenv(TIMING_CPUS_ENV, raising=False)
    before = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    with timing_cores() as cpus:
        assert cpus is None
    assert (os.sched_getaffinity(0) if before is not None else None) == before


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no thread affinity on this OS")
def test_a_timing_record_names_the_cores_its_timed_section_ran_on(tmp_path, monkeypatch):
    own = sorted(os.sched_getaffinity(0))
    monkeypatch.setenv(LOCK_DIR_ENV, str(tmp_path))
    monkeypatch.setenv(TIMING_CPUS_ENV, str(own[-1]))
    monkeypatch.setenv(JOB_CPUS_ENV, ",".join(map(str, own)))
    (job,) = expand(Axes(tasks=("mnist",), measure="timing", cells=("gru4",), frameworks=("torch",),
                         timing=TimingConfig(warmup_steps=1, timed_steps=2)))
    batch = Batch(x=np.zeros((2, 3, 4), np.float32), y=np.zeros(2, np.int64), lengths=None, weights=None)
    try:
        result = measure_steps(_LockProbe(tmp_path / "cpu.lock"), job, batch)
    finally:
        os.sched_setaffinity(0, own)
    assert result["device_lock"]["timing_cpus"] == [own[-1]]
    assert sorted(os.sched_getaffinity(0)) == own  # back on the job's cores afterwards
