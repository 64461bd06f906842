"""The job process: `python -m bench.run.worker JOB.json RESULT.json`, or `python -m bench.run.worker --serve`.

Runs one job with the framework's runner and writes its record to RESULT.json
(atomically). Any failure inside the job becomes the record's status; the parent
writes the record only when this process itself dies (crash, kill, timeout).

`--serve` keeps the process for job after job of one framework (the local executor's
`reuse_processes`): it reads one line per job from stdin, `JOB.json RESULT.json`, and
runs it as above, so the framework is imported and torch.compile's worker pool and
caches are warm once, not once per job. Between jobs it clears what a job leaves
behind (torch.compile's graphs, the Keras session) and the peak-memory mark; each
record says which job of its process it was (`environment.process`).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Iterable

from bench.records.environment import base_environment, now_iso
from bench.plan.jobs import Job
from bench.records.schema import Memory, Record
from bench.records.typed import update_environment
from bench.records.store import new_record

ERROR_TAIL_CHARS = 4000  # how much of a traceback goes into a record
PARENT_POLL_S = 1.0  # where the kernel cannot signal a parent's death, how often the job looks for its parent
INDUCTOR_CACHE_ENV = "TORCHINDUCTOR_CACHE_DIR"  # where torch.compile keeps what it compiled, between processes
PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h): a signal to receive when the parent dies
_served_cache: str | None = None  # the Inductor cache a served process made for its jobs (see serve)


def die_with_parent(parent_pid: int) -> None:
    """End this job process when the sweep that started it dies, SIGKILL included (which it cannot handle).

    Linux delivers SIGKILL to us when the parent goes (the parent-death signal); elsewhere a daemon
    thread watches for the parent to change. A parent that died before this ran is caught by the check
    at the end.
    """
    import ctypes
    import signal
    import threading

    armed = False
    if sys.platform.startswith("linux"):
        try:
            armed = ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
    if not armed:
        def watch() -> None:
            while os.getppid() == parent_pid:
                time.sleep(PARENT_POLL_S)
            os._exit(1)

        threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    if os.getppid() != parent_pid:
        os._exit(1)


def run_in_process(job: Job, threads: int) -> Record:
    """Run `job` here and return its record; never raises for a failing job."""
    started = time.perf_counter()
    record = new_record(job, base_environment(), now_iso())
    record.environment.threads_requested = threads
    try:
        if job.framework == "torch":
            from bench.run.runners import torch_runner as runner
        else:
            os.environ["KERAS_BACKEND"] = job.backend  # must precede the first keras import
            from bench.run.runners import keras_runner as runner
        update_environment(record.environment, runner.setup(job, threads))
        runner.run(job, record)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - every failure becomes a status; the sweep goes on
        from bench.correctness import IncorrectCell
        from bench.run.runners.common import Diverged, is_oom, peak_rss

        explained = isinstance(exc, (Diverged, IncorrectCell))  # their message says it all; a bug needs the trace
        record.status = ("diverged" if isinstance(exc, Diverged) else "incorrect" if isinstance(exc, IncorrectCell)
                            else "oom" if is_oom(exc) else "error")
        message = f"{type(exc).__name__}: {exc}"
        if record.status == "oom":  # what to do first: the report shows a record's first line
            message = (f"out of {job.device} memory at batch {job.batch_size}, hidden {job.hidden_size}: a smaller "
                       f"--batch-size or --hidden fits, or fewer jobs side by side (--parallel). {message}")
        if not explained:
            message += "\n" + traceback.format_exc()[-ERROR_TAIL_CHARS:]
        record.error = message
        if record.memory is None:
            record.memory = Memory(**peak_rss())
    record.duration_s = time.perf_counter() - started
    return record


def write_atomically(path: Path, record: Record) -> None:
    from bench.records.store import dumps

    tmp = path.with_suffix(".tmp")
    tmp.write_text(dumps(record))
    os.replace(tmp, path)


def run_job_file(job_file: Path, result_file: Path, process: str) -> None:
    """Run the job described in `job_file` and write its record to `result_file`."""
    payload = json.loads(job_file.read_text())
    job = Job.from_identity(payload["identity"])
    # a torch job compiles into an Inductor cache of its own, so its compile time is a cold compile's, not a
    # lookup of what an earlier job or run left on disk; a cache the user names (TORCHINDUCTOR_CACHE_DIR), or
    # a served process's own, is used
    fresh = job.framework == "torch" and not os.environ.get(INDUCTOR_CACHE_ENV)
    own = _served_cache is not None and os.environ.get(INDUCTOR_CACHE_ENV) == _served_cache
    with tempfile.TemporaryDirectory(prefix="rnnbench-inductor-") if fresh else contextlib.nullcontext() as cache:
        if cache:
            os.environ[INDUCTOR_CACHE_ENV] = cache
        record = run_in_process(job, int(payload["threads"]))
        if cache:
            del os.environ[INDUCTOR_CACHE_ENV]
    record.environment.process = process
    if job.framework == "torch":
        record.environment.compile_cache = (
            "fresh for this job" if fresh else "this process's own, fresh at its first job" if own
            else f"shared: {os.environ[INDUCTOR_CACHE_ENV]}")
    write_atomically(result_file, record)


def clear_between_jobs() -> None:
    """What one job of a served process leaves that would change the next: compiled graphs, the Keras session,
    the peak-memory mark (the next job's peak starts from what is resident now)."""
    if "torch" in sys.modules:
        import torch

        torch._dynamo.reset()  # graphs and guards of the last model; Inductor's compiled kernels stay cached
    if "keras" in sys.modules:
        import keras

        keras.backend.clear_session()
    from bench.run.runners.common import reset_peak_rss

    reset_peak_rss()


def serve(lines: Iterable[str]) -> None:
    """Run each `JOB.json RESULT.json` line's job in turn, in this process; return at the end of `lines`."""
    # one Inductor cache for this process's jobs, unless the user named one: its first job compiles cold
    global _served_cache
    with tempfile.TemporaryDirectory(prefix="rnnbench-inductor-") as cache:
        if not os.environ.get(INDUCTOR_CACHE_ENV):
            os.environ[INDUCTOR_CACHE_ENV] = _served_cache = cache
        for index, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            job_file, result_file = line.split()
            if index > 1:
                clear_between_jobs()
            run_job_file(Path(job_file), Path(result_file),
                         "fresh" if index == 1 else f"reused: job {index} of this process")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv != ["--serve"] and len(argv) != 2:
        print("usage: python -m bench.run.worker JOB.json RESULT.json, or --serve (started by the local executor)",
              file=sys.stderr)
        return 2
    from bench.run.executors.local import PARENT_PID_ENV

    if os.environ.get(PARENT_PID_ENV):
        die_with_parent(int(os.environ[PARENT_PID_ENV]))
    from bench.plan.plugins import load_plugins

    load_plugins()  # the sweep's plugin files ($RNNBENCH_PLUGINS) and installed entry points, as the parent did
    from bench.run.device_lock import JOB_CPUS_ENV, cpu_list, pin_process

    job_cpus = cpu_list(os.environ.get(JOB_CPUS_ENV))
    if job_cpus:  # side by side with other jobs: compile off the cores kept for timing (before any thread starts)
        pin_process(job_cpus)
    if argv == ["--serve"]:
        serve(sys.stdin)
    else:
        run_job_file(Path(argv[0]), Path(argv[1]), "fresh")
    return 0


if __name__ == "__main__":
    sys.exit(main())
