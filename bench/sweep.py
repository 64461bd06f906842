"""Drive a sweep: skip finished jobs, run the rest through an executor, append records."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from tqdm import tqdm

from bench.config import ConfigError
from bench.executors.base import Executor
from bench.jobs import Job
from bench.records import FAILED_STATUSES, RecordStore


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
    """Run every pending job, appending each record as it arrives; failures never stop the sweep."""
    todo = pending_jobs(jobs, store, resume, retry_failed)
    result = SweepResult(output=store.path, total=len(jobs), skipped=len(jobs) - len(todo))
    # tqdm's rate gives the estimate of the time left; the postfix names the running job
    with tqdm(total=len(todo), unit="job", disable=not progress, dynamic_ncols=True,
              desc=f"{store.path.name}") as bar:
        def on_start(job: Job) -> None:
            bar.set_postfix_str(job.label(), refresh=True)

        for record in executor.run(todo, on_start=on_start):
            store.append(record)
            result.statuses[record["status"]] += 1
            if record["status"] != "ok":
                label = Job.from_identity(record["identity"]).label()
                first_line = (record.get("error") or "").strip().splitlines()
                bar.write(f"[{record['status']}] {label}: {first_line[0] if first_line else ''}")
                if record["status"] in FAILED_STATUSES:
                    result.failed.append(label)
            bar.update(1)
    return result


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


def run_suite(suite, output: Path, executor: Executor, *, progress: bool = True) -> SweepResult:
    """Every job of `suite` not yet recorded in `output`, through `executor` (what `bench replicate` runs)."""
    jobs = suite.jobs()
    check_tasks(jobs)
    store = RecordStore(output)
    with store.held():  # no other sweep appends to this file meanwhile
        print(f"{suite.name}: {len(jobs)} jobs on {suite.device}; records -> {output.resolve()}", flush=True)
        result = run_sweep(jobs, store, executor, progress=progress)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(result.statuses.items())) or "nothing to run"
    print(f"ran {result.ran} ({counts}); {result.skipped} already recorded", flush=True)
    return result
