"""Result records: the schema, and an append-only JSONL store that survives being killed.

One JSON object per line and job. A record is appended with a single write of a
complete line; a process killed mid-write leaves at most one partial last line, which
the reader skips (with a warning) and the next append starts after.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import warnings
from pathlib import Path
from typing import Any, Iterable, Iterator

from filelock import FileLock, Timeout

from bench.plan.jobs import Job
from bench.records.schema import Environment, Record
from bench.records.typed import build_record, record_json, section_of
from bench.records.validation import record_problems

SCHEMA_VERSION = 1
# "incorrect": the cell failed its correctness gate (bench.correctness) in the job, so it was not timed
STATUSES = ("ok", "diverged", "oom", "error", "timeout", "incorrect")
# the run could not measure these: `bench run` exits 1, and `--retry-failed` runs them again (a transient
# failure, or a cell fixed since)
FAILED_STATUSES = ("error", "timeout", "incorrect")

class RecordError(ValueError):
    """A record that does not follow the schema."""


def validate_record(record: dict[str, Any]) -> None:
    """Raise RecordError naming every problem with `record`, nested fields included."""
    if not isinstance(record, dict):
        raise RecordError(f"a record must be a JSON object, got {type(record).__name__}")
    problems = record_problems(record)  # every section and the identity, against bench.records.schema
    version = record.get("schema_version")
    if isinstance(version, int) and version != SCHEMA_VERSION:
        problems.append(f"schema_version {version} is not {SCHEMA_VERSION}; "
                        "this record was written by another version of rnnbench")
    if "status" in record and record["status"] not in STATUSES:
        problems.append(f"status {record['status']!r} is not one of {STATUSES}")
    if record.get("status") not in ("ok", None) and not record.get("error"):
        problems.append(f"status {record.get('status')!r} needs an error message")
    measure = record.get("identity", {}).get("measure") if isinstance(record.get("identity"), dict) else None
    if record.get("status") == "ok":
        if measure in ("train", "both") and not record.get("train"):
            problems.append("an ok train job needs its 'train' measurements")
        if measure in ("timing", "both") and not record.get("timing"):
            problems.append("an ok timing job needs its 'timing' measurements")
    if problems:
        raise RecordError(f"invalid record {record.get('job_id', '?')}: " + "; ".join(problems))


def parse_record(data: Any) -> Record:
    """The typed record of a JSON object, validated (RecordError names every problem)."""
    validate_record(data)
    try:
        return build_record(data)
    except (ValueError, TypeError, KeyError) as err:  # ConfigError and UnknownModeError are ValueErrors
        raise RecordError(f"invalid record {data.get('job_id', '?')}: its identity is not a job this version of "
                          f"rnnbench knows ({err})") from err


def dumps(record: Record | dict[str, Any]) -> str:
    """One JSON line; non-finite floats become null so every line is standard JSON."""
    data = record_json(record) if isinstance(record, Record) else record
    return json.dumps(_finite(data), sort_keys=True, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


class RecordsBusyError(RuntimeError):
    """Another sweep is appending to the same records file."""


class RecordStore:
    """Append-only JSONL file of records."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.skipped_lines: list[int] = []  # 1-based numbers of unreadable lines seen by the last load

    def load(self) -> list[Record]:
        """Every readable record in file order; unreadable lines are skipped with a warning."""
        self.skipped_lines = []
        if not self.path.exists():
            return []
        records = []
        with self.path.open("r", encoding="utf-8", errors="replace") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    record = parse_record(json.loads(line))
                except (json.JSONDecodeError, RecordError) as err:
                    self.skipped_lines.append(number)
                    why = ("not JSON (a run killed mid-write leaves a partial line)"
                           if isinstance(err, json.JSONDecodeError) else "not a valid record")
                    warnings.warn(f"{self.path}:{number}: skipping an unreadable record, {why}: {str(err)[:200]}",
                                  stacklevel=2)
                    continue
                records.append(record)
        return records

    def finished_ids(self, retry_failed: bool = False) -> set[str]:
        """Ids of jobs that have a record (the latest one counts); with `retry_failed`, not error/timeout/incorrect."""
        latest = latest_by_job(self.load())
        return {job_id for job_id, rec in latest.items()
                if not (retry_failed and rec.status in FAILED_STATUSES)}

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """This process alone runs a sweep into the file while inside (filelock's lock on RECORDS.jsonl.lock).

        Two sweeps writing to one file at once would each run the jobs the other has not
        recorded yet: the same jobs twice, on a machine both are timing on.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(f"{self.path}.lock", timeout=0)  # fail at once rather than wait for the other sweep
        try:
            lock.acquire()
        except Timeout:
            raise RecordsBusyError(
                f"another sweep is writing to {self.path} right now; wait for it to finish (then rerun to "
                "resume, which runs only what it left), or give this run another --output") from None
        except (OSError, NotImplementedError) as err:  # a file system without locks (some network mounts)
            warnings.warn(f"{self.path}: cannot lock the records file ({err}); nothing stops a second sweep "
                          "into it while this one runs", stacklevel=3)
            yield
            return
        try:
            yield
        finally:
            lock.release()

    def append(self, record: Record | dict[str, Any]) -> None:
        """Validate and append one record (typed, or its JSON object) as one line, flushed to disk."""
        data = _finite(record_json(record) if isinstance(record, Record) else record)
        validate_record(data)
        line = dumps(data) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as fh:
            if fh.tell() > 0 and not _ends_with_newline(self.path):
                line = "\n" + line  # close a partial line left by a killed writer
            fh.write(line.encode("utf-8"))  # one write: a kill leaves this line whole or partial
            fh.flush()
            os.fsync(fh.fileno())


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def read_records(path: str | os.PathLike) -> list[Record]:
    """Readable records of a JSONL file (see RecordStore.load)."""
    return RecordStore(path).load()


def latest_by_job(records: Iterable[Record]) -> dict[str, Record]:
    """The last record of each job id (a job run again after a failure supersedes it)."""
    return {record.job_id: record for record in records}


def new_record(job: Job, environment: dict[str, Any], started_at: str) -> Record:
    """A record with every schema key, before any measurement (status "ok" until something fails)."""
    return Record(schema_version=SCHEMA_VERSION, job_id=job.job_id, identity=job.identity(), status="ok", error=None,
                  started_at=started_at, duration_s=0.0, native_path=None, params=None, train=None, timing=None,
                  memory=None, environment=section_of(Environment, environment), job=job)
