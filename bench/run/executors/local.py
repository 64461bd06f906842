"""Run jobs in Python subprocesses on this machine: one after another, or N at once.

A fresh process per job means a crash, a compile cache or a leaked thread never
touches the next job, and threads and the Keras backend are set before any import.
With `reuse_processes` (the quick suite's way) one process per framework serves job
after job (`python -m bench.run.worker --serve`): the framework is imported once and
torch.compile's worker pool and kernel cache stay warm; a job that times out or
kills its process takes only that process down, and the next job starts a new one.
With `parallel` > 1 (`bench run --parallel N`), N job processes run side by side on
one GPU: their start-up and compilation overlap, and a device lock
(bench.run.device_lock) keeps their timed steps from overlapping.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import psutil

from bench.plan.config import DEFAULT_JOB_TIMEOUT_S, ConfigError
from bench.records.environment import REPO_ROOT, available_cores, now_iso, own_cores
from bench.run.executors.base import failure_record
from bench.run.device_lock import JOB_CPUS_ENV, LOCK_DIR_ENV, PARALLEL_ENV, TIMING_CPUS_ENV, split_cores
from bench.run.executors.ray_resources import is_timing
from bench.plan.jobs import Job
from bench.records.schema import Record
from bench.records.store import parse_record

STDERR_TAIL_CHARS = 3000  # how much of a dead job's output goes into its record
PARENT_PID_ENV = "RNNBENCH_PARENT_PID"  # the sweep's process id: a job process ends when that process does
RESULT_POLL_S = 0.05  # how often the executor looks for a served job's record
SERVE_EXIT_S = 10.0  # how long a served process has to end after its last job, before it is killed


def job_env(job: Job, threads: int, lock_dir: Path | None = None, parallel: int = 1,
            cores: tuple[list[int], list[int]] | None = None,
            settings: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of a job process: backend, thread counts, visible devices, quiet logs, device lock.

    `cores` (device_lock.split_cores): the cores jobs compile on and those kept for the timed job.
    `settings`: the run's own variables (bench.commands.options.job_settings: --data-dir, --profile), over this
    process's environment.
    """
    env = dict(os.environ)
    env.update(settings or {})
    env.update({
        "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
        "TF_NUM_INTRAOP_THREADS": str(threads), "TF_NUM_INTEROP_THREADS": str(min(threads, 2)),
        "TF_CPP_MIN_LOG_LEVEL": env.get("TF_CPP_MIN_LOG_LEVEL", "2"),
        "PYTHONUNBUFFERED": "1",
        # idle OpenMP threads sleep instead of spinning: with spinning, torch step times grow
        # tenfold as soon as another process shares the cores (measured on the 2-core machine)
        "OMP_WAIT_POLICY": env.get("OMP_WAIT_POLICY", "PASSIVE"),
        PARENT_PID_ENV: str(os.getpid()),  # bench.run.worker.die_with_parent: no orphan if the sweep is killed
    })
    if job.framework == "keras":
        env["KERAS_BACKEND"] = job.backend
    if job.backend == "jax":
        # JAX grabs 75% of the GPU at start-up by default: that breaks jobs sharing the GPU and
        # makes its peak-memory figure the preallocation rather than what the model used
        env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    if lock_dir is not None:
        env[LOCK_DIR_ENV] = str(lock_dir)
        env[PARALLEL_ENV] = str(parallel)
        # torch.compile's worker pool per job: the cores are shared by `parallel` jobs
        env.setdefault("TORCHINDUCTOR_COMPILE_THREADS", str(max(1, threads)))
        if cores is not None:  # compile on most cores; the job holding the lock moves to the rest
            env[JOB_CPUS_ENV], env[TIMING_CPUS_ENV] = (",".join(map(str, cpus)) for cpus in cores)
    if job.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""  # a CPU job must not touch (or be placed on) a GPU
        if job.backend == "jax":
            env["JAX_PLATFORMS"] = "cpu"
    # the job imports this checkout's packages even when run from elsewhere
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


@dataclass
class LocalExecutor:
    """One subprocess per job; sequential unless `parallel` > 1 (GPU or accuracy-only jobs)."""

    timeout_s: float = DEFAULT_JOB_TIMEOUT_S  # wall-clock limit per job; past it the job tree is killed -> "timeout"
    threads: int | None = None  # threads per job; None = every core this process may use, shared by `parallel`
    python: str = field(default_factory=lambda: sys.executable)  # interpreter that runs the jobs
    parallel: int = 1  # job processes at once; > 1 holds a device lock around each job's timed steps
    settings: dict[str, str] = field(default_factory=dict)  # environment variables every job process gets
    # sequential runs: one process per framework runs job after job instead of a fresh process per job
    reuse_processes: bool = False

    def __post_init__(self) -> None:
        if self.parallel < 1:
            raise ConfigError(f"--parallel must be >= 1, got {self.parallel}")
        self._running: set[subprocess.Popen] = set()
        self._guard = threading.Lock()  # guards _running and _stopping together
        self._stopping = False  # set when a parallel run is torn down: no job process may start after

    def run(self, jobs: Sequence[Job], on_start: Callable[[Job], None] | None = None) -> Iterator[Record]:
        check_parallel(jobs, self.parallel)
        threads = self.threads or max(1, available_cores() // self.parallel)
        with tempfile.TemporaryDirectory(prefix="rnnbench-") as tmp:
            if self.parallel == 1:
                served: dict[tuple[str, str, str], _Served] = {}
                try:
                    for job in jobs:
                        if on_start is not None:
                            on_start(job)
                        yield (self._run_served(job, threads, Path(tmp), served) if self.reuse_processes
                               else self._run_one(job, threads, Path(tmp)))
                finally:  # the end of the run, Ctrl-C, or the sweep stopped reading
                    for process in served.values():
                        process.close()
                return
            yield from self._run_parallel(jobs, threads, Path(tmp), on_start)

    def _run_parallel(self, jobs: Sequence[Job], threads: int, tmp: Path,
                      on_start: Callable[[Job], None] | None) -> Iterator[Record]:
        lock_dir = tmp / "locks"
        # cores kept for the timed job, only where some job is timed: accuracy-only runs keep every core
        cores = split_cores(sorted(own_cores() or ()), self.parallel) if any(map(is_timing, jobs)) else None
        with self._guard:
            self._stopping = False  # this executor may run again after an earlier run was torn down

        def one(job: Job) -> Record:
            if on_start is not None:
                on_start(job)
            return self._run_one(job, threads, tmp, lock_dir, cores)

        pool = ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="rnnbench-job")
        pending = {pool.submit(one, job) for job in jobs}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        finally:  # Ctrl-C, or the sweep stopped reading: no job may outlive the run
            for future in pending:
                future.cancel()
            with self._guard:
                self._stopping = True  # a job starting after this kills its own process (see _run_one)
                running = list(self._running)
            for proc in running:
                kill_tree(proc.pid)
            pool.shutdown(wait=True)

    def _run_one(self, job: Job, threads: int, tmp: Path, lock_dir: Path | None = None,
                 cores: tuple[list[int], list[int]] | None = None) -> Record:
        job_file, result_file = _hand_over(job, threads, tmp)
        log_file = tmp / f"{job.job_id}.log"
        started_at, start = now_iso(), time.perf_counter()
        with log_file.open("wb") as log:
            proc = subprocess.Popen([self.python, "-m", "bench.run.worker", str(job_file), str(result_file)],
                                    env=job_env(job, threads, lock_dir, self.parallel, cores, self.settings),
                                    cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
            with self._guard:
                self._running.add(proc)
                if self._stopping:  # the run was torn down while this job was starting
                    kill_tree(proc.pid)
            try:
                returncode = proc.wait(timeout=self.timeout_s)
            except subprocess.TimeoutExpired:
                kill_tree(proc.pid)
                proc.wait()
                return self._timeout_record(job, _tail(log_file), time.perf_counter() - start, started_at)
            except BaseException:  # Ctrl-C or the parent being stopped: take the job down with us
                kill_tree(proc.pid)
                proc.wait()
                raise
            finally:
                with self._guard:
                    self._running.discard(proc)
        # the duration includes process start and imports
        return _collect(job, result_file if returncode == 0 else None, returncode, _tail(log_file),
                        time.perf_counter() - start, started_at)

    def _timeout_record(self, job: Job, output: str, duration: float, started_at: str) -> Record:
        return failure_record(job, "timeout", f"the job ran longer than the per-job timeout of {self.timeout_s:g} s "
                              "and was killed; raise --timeout if it needs longer.\n" + output, duration, started_at)


    def _run_served(self, job: Job, threads: int, tmp: Path, served: dict[tuple[str, str, str], _Served]
                    ) -> Record:
        """Run `job` in its framework's served process (started if there is none); the same failures as _run_one."""
        key = (job.framework, job.backend, job.device)
        alive = key in served and served[key].proc.poll() is None
        log_start = served[key].log_size() if alive else 0  # this job's output starts there
        if not alive:
            descriptor, name = tempfile.mkstemp(prefix=f"served-{'-'.join(key)}-", suffix=".log", dir=tmp)
            os.close(descriptor)
            log_file = Path(name)
            with log_file.open("wb") as log:  # the child keeps its own descriptor
                proc = subprocess.Popen([self.python, "-m", "bench.run.worker", "--serve"], stdin=subprocess.PIPE,
                                        env=job_env(job, threads, settings=self.settings), cwd=REPO_ROOT,
                                        stdout=log, stderr=subprocess.STDOUT)
            served[key] = _Served(proc, log_file)
        process = served[key]
        job_file, result_file = _hand_over(job, threads, tmp)
        started_at, start = now_iso(), time.perf_counter()
        try:
            process.submit(job_file, result_file)
            while not result_file.exists() and process.proc.poll() is None:
                if time.perf_counter() - start > self.timeout_s:
                    process.kill()
                    del served[key]
                    return self._timeout_record(job, _tail(process.log_file, log_start),
                                                time.perf_counter() - start, started_at)
                time.sleep(RESULT_POLL_S)
        except BrokenPipeError:
            pass  # the process died before reading the job: reported below as a dead process
        except BaseException:  # Ctrl-C or the parent being stopped: take the job down with us
            process.kill()
            del served[key]
            raise
        duration = time.perf_counter() - start  # from handing the job over to its record
        returncode = None  # the process lives on for the next job, unless it died without a record
        if not result_file.exists():
            returncode = process.proc.wait()
            del served[key]
        return _collect(job, result_file, returncode, _tail(process.log_file, log_start), duration, started_at)


@dataclass
class _Served:
    """A `bench.run.worker --serve` process and the log its output goes to."""

    proc: subprocess.Popen  # the process; its stdin takes one `JOB.json RESULT.json` line per job
    log_file: Path  # its stdout and stderr, every job's in turn

    def submit(self, job_file: Path, result_file: Path) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{job_file} {result_file}\n".encode())
        self.proc.stdin.flush()

    def log_size(self) -> int:
        try:
            return self.log_file.stat().st_size
        except OSError:
            return 0

    def kill(self) -> None:
        kill_tree(self.proc.pid)
        self.proc.wait()

    def close(self) -> None:
        """End of input: the process returns after its current job; killed if it has not within SERVE_EXIT_S."""
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.proc.wait(timeout=SERVE_EXIT_S)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()
        except BaseException:
            self.kill()
            raise


def check_parallel(jobs: Sequence[Job], parallel: int) -> None:
    """Refuse side-by-side CPU timing: the lock keeps timed steps apart, not other jobs' compiling off the cores."""
    if parallel == 1:
        return
    cpu_timing = [job for job in jobs if job.device == "cpu" and is_timing(job)]
    if cpu_timing:
        raise ConfigError(f"--parallel {parallel} would time {len(cpu_timing)} CPU job(s) (e.g. {cpu_timing[0].label()}) "
                          "while other jobs load the same cores; run CPU timing jobs with --parallel 1, and use "
                          "--parallel for GPU suites or accuracy-only (--measure train) runs")


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


def _hand_over(job: Job, threads: int, tmp: Path) -> tuple[Path, Path]:
    """The job file a job process reads (bench.run.worker), written, and the result file it will write, not yet there."""
    job_file, result_file = (tmp / f"{job.job_id}.{ext}" for ext in ("job.json", "result.json"))
    job_file.write_text(json.dumps({"identity": job.identity(), "threads": threads}))
    result_file.unlink(missing_ok=True)
    return job_file, result_file


def _tail(path: Path, since: int = 0) -> str:
    """The last STDERR_TAIL_CHARS of what was written to `path` from byte `since` on (a served job's own output)."""
    try:
        with path.open("rb") as log:
            log.seek(since)
            return log.read().decode(errors="replace")[-STDERR_TAIL_CHARS:]
    except OSError:
        return "(no output captured)"


def _collect(job: Job, result_file: Path | None, returncode: int | None, output: str, duration: float,
             started_at: str) -> Record:
    """The job's own record from `result_file`, or, where it wrote none (None) or an unreadable one, the record
    the parent writes for it with its process's exit and last output."""
    if result_file is not None and result_file.exists():
        try:
            record = parse_record(json.loads(result_file.read_text()))
            record.duration_s = duration
            return record
        except (ValueError, OSError) as err:
            return failure_record(job, "error", f"the job wrote an unreadable record: {err}\n" + output, duration,
                                  started_at)
    return failure_record(job, "error", f"the job process died ({_describe_exit(returncode)}) before writing "
                          "its record; its last output:\n" + output, duration, started_at)
