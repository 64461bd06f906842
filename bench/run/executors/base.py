"""The seam every executor implements (local subprocesses now, a Ray cluster later)."""

from __future__ import annotations

from typing import Callable, Iterator, Protocol, Sequence

from bench.records.environment import base_environment, now_iso
from bench.plan.jobs import Job
from bench.records.schema import Record
from bench.records.store import new_record


class Executor(Protocol):
    """Runs jobs and yields one record per job as each finishes, in any order.

    An executor never raises for a failing job: a job that crashes, runs out of
    memory or times out still yields a record with that status, so the sweep goes on.
    `on_start` is called when a job starts, for the progress display.
    """

    def run(self, jobs: Sequence[Job], on_start: Callable[[Job], None] | None = None) -> Iterator[Record]:
        ...


def failure_record(job: Job, status: str, error: str, duration_s: float, started_at: str | None = None) -> Record:
    """The record an executor writes for a job whose process died before writing its own."""
    record = new_record(job, base_environment(), started_at or now_iso())
    record.status, record.error, record.duration_s = status, error, duration_s
    return record
