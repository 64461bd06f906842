"""Run each job in its own Python subprocess, one after another, on this machine.

A fresh process per job means a crash, a compile cache or a leaked thread never
touches the next job, and threads and the Keras backend are set before any import.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import psutil

from bench.environment import REPO_ROOT, available_cores, now_iso
from bench.executors.base import failure_record
from bench.jobs import Job
from bench.records import validate_record

STDERR_TAIL_CHARS = 3000  # how much of a dead job's output goes into its record


def job_env(job: Job, threads: int) -> dict[str, str]:
    """Environment of a job process: backend, thread counts, visible devices, quiet logs."""
    env = dict(os.environ)
    env.update({
        "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
        "TF_NUM_INTRAOP_THREADS": str(threads), "TF_NUM_INTEROP_THREADS": str(min(threads, 2)),
        "TF_CPP_MIN_LOG_LEVEL": env.get("TF_CPP_MIN_LOG_LEVEL", "2"),
        "PYTHONUNBUFFERED": "1",
        # idle OpenMP threads sleep instead of spinning: with spinning, torch step times grow
        # tenfold as soon as another process shares the cores (measured on the 2-core machine)
        "OMP_WAIT_POLICY": env.get("OMP_WAIT_POLICY", "PASSIVE"),
    })
    if job.framework == "keras":
        env["KERAS_BACKEND"] = job.backend
    if job.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""  # a CPU job must not touch (or be placed on) a GPU
        if job.backend == "jax":
            env["JAX_PLATFORMS"] = "cpu"
    # the job imports this checkout's packages even when run from elsewhere
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


@dataclass
class LocalExecutor:
    """One subprocess per job, sequential (timing jobs never share the machine with each other)."""

    timeout_s: float = 1800.0  # wall-clock limit per job; past it the job tree is killed -> "timeout"
    threads: int | None = None  # threads per job; None = every core this process may use
    python: str = field(default_factory=lambda: sys.executable)  # interpreter that runs the jobs

    def run(self, jobs: Sequence[Job], on_start: Callable[[Job], None] | None = None) -> Iterator[dict[str, Any]]:
        threads = self.threads or available_cores()
        with tempfile.TemporaryDirectory(prefix="rnnbench-") as tmp:
            for job in jobs:
                if on_start is not None:
                    on_start(job)
                yield self._run_one(job, threads, Path(tmp))

    def _run_one(self, job: Job, threads: int, tmp: Path) -> dict[str, Any]:
        job_file, result_file, log_file = (tmp / f"{job.job_id}.{ext}" for ext in ("job.json", "result.json", "log"))
        job_file.write_text(json.dumps({"identity": job.identity(), "threads": threads}))
        result_file.unlink(missing_ok=True)
        started_at, start = now_iso(), time.perf_counter()
        with log_file.open("wb") as log:
            proc = subprocess.Popen([self.python, "-m", "bench.worker", str(job_file), str(result_file)],
                                    env=job_env(job, threads), cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
            try:
                returncode = proc.wait(timeout=self.timeout_s)
            except subprocess.TimeoutExpired:
                kill_tree(proc.pid)
                proc.wait()
                return failure_record(job, "timeout", f"the job ran longer than the per-job timeout of "
                                      f"{self.timeout_s:g} s and was killed; raise --timeout if it needs longer.\n"
                                      + _tail(log_file), time.perf_counter() - start, started_at)
            except BaseException:  # Ctrl-C or the parent being stopped: take the job down with us
                kill_tree(proc.pid)
                proc.wait()
                raise
        duration = time.perf_counter() - start
        if returncode == 0 and result_file.exists():
            try:
                record = json.loads(result_file.read_text())
                validate_record(record)
                record["duration_s"] = duration  # include process start and imports
                return record
            except (ValueError, OSError) as err:
                return failure_record(job, "error", f"the job wrote an unreadable record: {err}\n" + _tail(log_file),
                                      duration, started_at)
        return failure_record(job, "error", f"the job process died ({_describe_exit(returncode)}) before writing "
                              "its record; its last output:\n" + _tail(log_file), duration, started_at)


def kill_tree(pid: int) -> None:
    """Kill a process and all its descendants (torch.compile and XLA start helper processes)."""
    try:
        parent = psutil.Process(pid)
        procs = parent.children(recursive=True) + [parent]
    except psutil.NoSuchProcess:
        return
    for proc in procs:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs[:-1], timeout=10)  # the job itself is reaped by Popen.wait


def _describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


def _tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-STDERR_TAIL_CHARS:]
    except OSError:
        return "(no output captured)"
