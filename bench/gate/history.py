"""The history store: one SQLite file of results over commits, machines and software stacks.

A row is one job of one run at one commit: its status, its test metric, and for a custom cell's
timing job the paired ratio of each step kind with its bootstrap interval over the run's rounds
(bench.gate.stats.ratio_interval) and the median step times. Rows come from records only: an A/B
run's folder (both sides), a `bench run` records file, or a backfill's file per commit. Series are
told apart by machine class and stack (Python and framework versions, Keras backend), so two
machines' or two stacks' numbers never share a line. A file written by a newer schema is refused.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from bench.gate.stored import job_label, machine_class
from bench.plan.config import ConfigError
from bench.gate import sides
from bench.gate.backfill import failure_file
from bench.gate.stats import ratio_interval, rounds_of
from bench.records.ratios import rounds_key, step_stats
from bench.records.schema import Record
from bench.records.store import RecordStore

SCHEMA_VERSION = 1
SUITE_JOB = "(the whole suite)"  # the job named by a row that says a commit could not run the suite at all
COLUMNS = {  # column -> SQL type; one owner for the table's shape
    "source": "TEXT NOT NULL",  # gate, run or backfill
    "run_id": "TEXT NOT NULL",  # the A/B folder, records file or backfill file it came from
    "side": "TEXT NOT NULL",  # base or head for an A/B run; '' otherwise
    "machine": "TEXT NOT NULL",  # machine class (bench.gate.stored.machine_class)
    "stack": "TEXT NOT NULL",  # python, torch, tensorflow, keras versions and the Keras backend
    "commit_id": "TEXT",  # the commit the code was at; with dirty = 1, plus uncommitted changes
    "dirty": "INTEGER",
    "source_digest": "TEXT",  # digest of the sources that ran (bench.records.environment.source_digest)
    "committed_at": "TEXT",  # the commit's date (ISO), for ordering; '' when git does not know it
    "subject": "TEXT",  # the commit's subject line
    "job": "TEXT NOT NULL",  # the job's label without its seed
    "job_key": "TEXT NOT NULL",  # its identity without the seed (bench.records.ratios.rounds_key)
    "cell": "TEXT", "framework": "TEXT", "mode": "TEXT",
    "status": "TEXT NOT NULL",  # ok, or the first failure among its rounds
    "error": "TEXT",  # the failure's first line
    "metric": "TEXT", "metric_value": "REAL",  # the test metric (round 1's)
    "rounds": "INTEGER",  # records (job processes) behind the row
    **{f"{prefix}_{part}": "REAL" for prefix in ("train", "infer") for part in ("ratio", "low", "high")},
    "train_median_s": "REAL", "infer_median_s": "REAL",  # the custom cell's step times (median over rounds)
    "native_train_median_s": "REAL", "native_infer_median_s": "REAL",  # its native layer's, paired
    "recorded_at": "TEXT",
}
KIND_PREFIX = {"train_step": "train", "inference_step": "infer"}


@dataclass(frozen=True)
class CommitInfo:
    committed_at: str
    subject: str


class History:
    """The history file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._commits: dict[str, CommitInfo] = {}

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path)
        db.row_factory = sqlite3.Row
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        version = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if version is None:
            db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif int(version[0]) > SCHEMA_VERSION:
            db.close()
            raise ConfigError(f"{self.path} was written by a newer rnnbench (history schema {version[0]}, this one "
                              f"reads up to {SCHEMA_VERSION}); upgrade rnnbench, or give another --history file")
        columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
        db.execute(f"CREATE TABLE IF NOT EXISTS results ({columns}, "
                   "UNIQUE (source, run_id, side, job_key) ON CONFLICT REPLACE)")
        db.commit()
        return db

    def check_writable(self) -> None:
        """Open (and create) the file now: a newer schema fails before any work is done."""
        self._connect().close()

    def count(self) -> int:
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM results").fetchone()[0]

    def rows(self) -> list[dict[str, Any]]:
        """Every row, oldest commit first."""
        with self._connect() as db:
            found = db.execute("SELECT * FROM results ORDER BY committed_at, commit_id, source, run_id, side, job")
            return [dict(row) for row in found]

    def _commit(self, commit: str | None) -> CommitInfo:
        if not commit:
            return CommitInfo("", "")
        if commit not in self._commits:
            text = sides.git("log", "-1", "--format=%cI%n%s", commit, check=False)
            when, _, subject = text.partition("\n")
            self._commits[commit] = CommitInfo(when, subject)
        return self._commits[commit]

    def _insert(self, rows: Iterable[dict[str, Any]]) -> int:
        rows = list(rows)
        if rows:
            names = list(COLUMNS)
            with self._connect() as db:
                db.executemany(f"INSERT INTO results ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                               [[row.get(name) for name in names] for row in rows])
        return len(rows)

    def add_records(self, path: Path, source: str, run_id: str, side: str = "",
                    records: list[Record] | None = None) -> int:
        """One row per job of a records file (its rounds, if a job ran several times, pooled)."""
        records = RecordStore(path).load() if records is None else records
        if not records and source != "gate":
            raise ConfigError(f"{path} holds no readable records; give a records file written by `bench run`")
        return self._insert(self._rows(records, source, run_id, side))

    def _rows(self, records: list[Record], source: str, run_id: str, side: str) -> Iterable[dict[str, Any]]:
        groups: dict[str, list[Record]] = defaultdict(list)
        for record in records:
            groups[rounds_key(record.identity)].append(record)
        for key, group in groups.items():
            yield self._row(key, group, source, run_id, side)

    def _row(self, key: str, group: list[Record], source: str, run_id: str, side: str) -> dict[str, Any]:
        first, job = group[0], group[0].job
        env, git = first.environment, first.environment.git
        failed = [r for r in group if r.status != "ok"]
        info = self._commit(git.commit)
        row = {"source": source, "run_id": run_id, "side": side, "machine": machine_class(first),
               "stack": stack(first), "commit_id": git.commit, "dirty": int(bool(git.dirty)),
               "source_digest": env.source_digest, "committed_at": info.committed_at,
               "subject": info.subject, "job": job_label(first).rsplit("/seed", 1)[0], "job_key": key,
               "cell": job.cell, "framework": job.framework, "mode": job.mode,
               "status": failed[0].status if failed else "ok",
               "error": (failed[0].error or "").strip().splitlines()[0][:200] if failed else None,
               "metric": first.train.metric if first.train else None,
               "metric_value": first.train.test_metric if first.train else None, "rounds": len(group),
               "recorded_at": env.recorded_at}
        ok = [r for r in group if r.status == "ok" and r.timing]
        for kind, prefix in KIND_PREFIX.items():
            medians = [s.median_s for s in (step_stats(r, kind) for r in ok) if s and s.median_s]
            natives = [s.median_s for s in (step_stats(r, kind, native=True) for r in ok) if s and s.median_s]
            row[f"{prefix}_median_s"] = statistics.median(medians) if medians else None
            row[f"native_{prefix}_median_s"] = statistics.median(natives) if natives else None
            rounds = rounds_of(ok, kind)
            if rounds:
                row[f"{prefix}_ratio"], row[f"{prefix}_low"], row[f"{prefix}_high"] = ratio_interval(rounds)
        return row

    def add_gate(self, folder: Path) -> int:
        """Both sides of an A/B run: every round's records of each side pooled per job."""
        summary_path = Path(folder) / "gate.json"
        if not summary_path.is_file():
            raise ConfigError(f"no gate.json in {folder}: give the folder an A/B run (bench compare --against) wrote")
        count = 0
        for side in ("base", "head"):
            records = [r for path in sorted(Path(folder).glob(f"round*-{side}*.jsonl"))
                       for r in RecordStore(path).load()]
            count += self.add_records(summary_path, "gate", Path(folder).name, side, records)
        return count

    def add_backfill(self, commit: str, records: Path) -> int:
        """A backfilled commit: its records, or one row saying it could not run the suite."""
        failed = failure_file(records)
        if failed.is_file():
            error = json.loads(failed.read_text(encoding="utf-8")).get("error", "")
            info = self._commit(commit)
            last = error.strip().splitlines()[-1][:200] if error.strip() else "no output"
            return self._insert([{"source": "backfill", "run_id": failed.name, "side": "", "machine": "unknown",
                                  "stack": "unknown", "commit_id": commit, "dirty": 0,
                                  "committed_at": info.committed_at, "subject": info.subject, "job": SUITE_JOB,
                                  "job_key": SUITE_JOB, "status": "error", "error": last}])
        return self.add_records(records, "backfill", records.name)


def stack(record: Record) -> str:
    """The software a record ran on, as one label: Python, the frameworks, the Keras backend."""
    versions = record.environment.versions or {}
    tf = versions.get("tensorflow") or versions.get("tensorflow-cpu")
    parts = [f"python {versions.get('python')}", f"torch {versions.get('torch')}", f"tensorflow {tf}",
             f"keras {versions.get('keras')}"]
    if record.job.framework == "keras":
        parts.append(f"backend {record.job.backend}")
    return ", ".join(parts)
