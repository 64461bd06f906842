"""Drive a sweep: skip finished jobs, run the rest through an executor, append records."""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from tqdm import tqdm

from bench.plan.config import ConfigError
from bench.run.executors.base import Executor, failure_record
from bench.plan.jobs import Job
from bench.records.schema import Record
from bench.records.store import FAILED_STATUSES, RecordStore, latest_by_job


EXIT_JOBS_FAILED = 1  # `bench run` and `bench replicate`: a job ended error, timeout or incorrect (its record is kept)


@dataclass
class SweepResult:
    """What a sweep did."""

    output: Path  # the JSONL file
    total: int  # jobs in the sweep
    skipped: int  # already recorded (resume)
    statuses: Counter = field(default_factory=Counter)  # status -> jobs run now
    failed: list[str] = field(default_factory=list)  # labels of the jobs run now that ended error, timeout or incorrect

    @property
    def ran(self) -> int:
        return sum(self.statuses.values())


def pending_jobs(jobs: Sequence[Job], store: RecordStore, resume: bool, retry_failed: bool = False) -> list[Job]:
    """The jobs that still need a record."""
    if not resume:
        return list(jobs)
    done = store.finished_ids(retry_failed=retry_failed)
    return [job for job in jobs if job.job_id not in done]


def run_sweep(jobs: Sequence[Job], store: RecordStore, executor: Executor, *, resume: bool = True,
              retry_failed: bool = False, progress: bool = True) -> SweepResult:
    """Run every pending job, appending each record as it arrives; failures never stop the sweep.

    Timing jobs run shortest sequence first (one wave per length), so a job whose same job at a shorter
    sequence ran out of time is recorded as such without being started (`outgrown_by`).
    """
    todo = pending_jobs(jobs, store, resume, retry_failed)
    result = SweepResult(output=store.path, total=len(jobs), skipped=len(jobs) - len(todo))
    # tqdm's rate gives the estimate of the time left; the postfix names the running job
    with tqdm(total=len(todo), unit="job", disable=not progress, dynamic_ncols=True,
              desc=f"{store.path.name}") as bar:
        def on_start(job: Job) -> None:
            bar.set_postfix_str(job.label(), refresh=True)

        def keep(record: Record) -> None:
            store.append(record)
            result.statuses[record.status] += 1
            if record.status != "ok":
                label = record.job.label()
                bar.write(f"[{record.status}] {label}: {_first_line(record)}")
                if record.status in FAILED_STATUSES:
                    result.failed.append(label)
            bar.update(1)

        for wave in _waves_by_length(todo):
            # a job's latest record counts: a timeout run again (--retry-failed) and finished is no longer one
            timed_out = [r for r in latest_by_job(store.load()).values() if r.status == "timeout"]
            to_run = []
            for job in wave:
                shorter = outgrown_by(job, timed_out)
                if shorter is None:
                    to_run.append(job)
                else:
                    keep(_outgrown_record(job, shorter))
            for record in executor.run(to_run, on_start=on_start):
                keep(record)
    return result


def _waves_by_length(jobs: Sequence[Job]) -> list[list[Job]]:
    """The jobs in their order, split into waves by timing sequence length, shortest first (one wave if none)."""
    lengths = sorted({job.seq_len for job in jobs if job.measure == "timing" and job.seq_len})
    if len(lengths) < 2:
        return [list(jobs)]
    wave_of = {length: i for i, length in enumerate(lengths)}
    waves: list[list[Job]] = [[] for _ in lengths]
    for job in jobs:
        waves[wave_of.get(job.seq_len, 0) if job.measure == "timing" else 0].append(job)
    return waves


def outgrown_by(job: Job, timed_out: Sequence[Record]) -> Record | None:
    """A timeout record of this same timing job at a shorter sequence, if any: the longer one needs more."""
    if job.measure != "timing" or not job.seq_len:
        return None
    for record in timed_out:
        other = record.job
        if (other.seq_len or job.seq_len) < job.seq_len and dataclasses.replace(other, seq_len=job.seq_len) == job:
            return record
    return None


def _outgrown_record(job: Job, shorter: Record) -> Record:
    return failure_record(job, "timeout", (
        f"not started: the same job at T {shorter.job.seq_len} ran out of time (record "
        f"{shorter.job_id}: {_first_line(shorter) or 'timeout'}), and a job's compile and steps only "
        "grow with the sequence length"), 0.0)


def _first_line(record: Record) -> str:
    lines = (record.error or "").strip().splitlines()
    return lines[0] if lines else ""



def check_tasks(jobs: Sequence[Job]) -> None:
    """Unknown dataset names fail here, before any job starts, not once per job."""
    wanted = {job.task for job in jobs if job.measure != "timing"}
    if not wanted:
        return
    import datasets

    unknown = sorted(wanted - set(datasets.list_tasks()))
    if unknown:
        raise ConfigError(f"unknown task(s) {', '.join(unknown)}; tasks are: {', '.join(datasets.list_tasks())} "
                          "(timing shapes such as 'noise' need --measure timing)")


def run_suite(suite, output: Path, executor: Executor, *, progress: bool = True,
              rerun: Callable[[Record], bool] | None = None) -> SweepResult:
    """Every job of `suite` not yet recorded in `output`, through `executor` (what `bench replicate` runs).

    With `rerun`, instead only the recorded jobs whose latest record it picks run again; the new record is
    appended and supersedes the old one, which stays in the file.
    """
    jobs = suite.jobs()
    check_tasks(jobs)
    store = RecordStore(output)
    with store.held():  # no other sweep appends to this file meanwhile
        print(f"{suite.name}: {len(jobs)} jobs on {suite.device}; records -> {output.resolve()}", flush=True)
        if rerun is None:
            result = run_sweep(jobs, store, executor, progress=progress)
        else:
            picked = {job_id for job_id, record in latest_by_job(store.load()).items() if rerun(record)}
            again = [job for job in jobs if job.job_id in picked]
            result = run_sweep(again, store, executor, resume=False, progress=progress)
            result.total, result.skipped = len(jobs), len(jobs) - len(again)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(result.statuses.items())) or "nothing to run"
    left = "not picked to run again" if rerun is not None else "already recorded"
    print(f"ran {result.ran} ({counts}); {result.skipped} {left}", flush=True)
    return result
