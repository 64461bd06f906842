"""The A/B gate: a base revision and the working tree run the same suite on this machine, rounds alternating.

Round 1 runs the whole suite on both sides: status, accuracy and the native kernel path are
judged from it by bench.gate.stored (same machine, same seeds: an unchanged cell reproduces
exactly). Speed is judged from every round: a custom cell's paired ratio to its native layer,
head's ÷ base's, with a bootstrap interval (bench.gate.stats). Rounds alternate which side goes
first (A B, B A, A B, …) so a drift in the machine's load falls on both. Rounds after the first
run only the custom cells' jobs, and after `min_rounds` only those whose verdict is still
inconclusive, up to `max_rounds`.

Each side runs its own `python -m bench run` (its own code, its own interpreter: bench.gate.sides),
so the base may be any revision whose CLI has `--suite`, `--cells`, `--frameworks` and `--output`.
Every round's records stay in the run's folder; the verdict is computed from them alone.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from bench.gate.stored import OMIT_SPEED, Comparison, compare, job_label, machine_class
from bench.plan.config import ConfigError
from bench.records.environment import source_digest
from bench.gate.sides import Side
from bench.gate.stats import FAIL, INCONCLUSIVE, Interval, geometric_mean, quotient_interval, rounds_of
from bench.records.ratios import TIMING_KINDS, timed_rounds
from bench.records.schema import Record
from bench.records.store import RecordStore
from bench.gate.tolerances import Tolerance

GATE_SCHEMA_VERSION = 1  # of the gate's own summary (gate.json): bench history and the gate-quality report read it
STDERR_TAIL_CHARS = 3000  # how much of a side's failed `bench run` an error quotes
RUN_TIMEOUT_S = 1800.0  # one side's `bench run` of one round


@dataclass(frozen=True)
class ABSettings:
    """How an A/B run is run and judged."""

    suite: str  # the suite both sides run (its definition on each side)
    threshold: float  # relative slowdown of the paired ratio that fails, e.g. 0.03
    tolerances: dict[str, Tolerance]  # accuracy and other metrics, as the stored-baseline gate
    min_rounds: int  # rounds every custom cell gets
    max_rounds: int  # rounds at most, for the ones still inconclusive
    threads: int  # threads per job, the same on both sides
    out_dir: Path  # every round's records and the summary go here
    select: tuple[str, ...] = ()  # extra `bench run` arguments narrowing the suite (--cells, --frameworks, --plugin)
    tag: str = ""  # a word the user gave to tell runs apart (gate.json)


@dataclass(frozen=True)
class SpeedRow:
    """One custom cell's step kind: head's paired ratio against base's."""

    key: str  # rounds_key of the timing job (identity without seed)
    label: str  # the job's label without its seed
    cell: str
    framework: str
    kind: str  # "train_step" or "inference_step"
    base_ratio: float  # geometric mean over the base's rounds of the paired ratio
    head_ratio: float
    interval: Interval  # head ÷ base with its interval
    verdict: str  # FAIL, pass or inconclusive (bench.gate.stats)
    detectable: float  # the smallest slowdown this row's spread would have failed

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "cell": self.cell, "framework": self.framework,
                "kind": self.kind, "base_ratio": self.base_ratio, "head_ratio": self.head_ratio,
                "quotient": self.interval.estimate, "low": self.interval.low, "high": self.interval.high,
                "base_rounds": self.interval.base_rounds, "head_rounds": self.interval.head_rounds,
                "verdict": self.verdict, "detectable": self.detectable}


@dataclass
class ABResult:
    """Everything an A/B run found."""

    base: Side
    head: Side
    settings: ABSettings
    comparison: Comparison  # status, accuracy and kernel rows from round 1 (bench.gate.stored)
    speed: list[SpeedRow] = field(default_factory=list)
    rounds: int = 0  # rounds run (the most any cell got)
    wall_s: float = 0.0  # the whole run, both sides and every round
    machine: str = ""  # machine class of the head's records
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average at the start and at the end

    @property
    def failed(self) -> bool:
        return bool(self.comparison.failures) or any(row.verdict == FAIL for row in self.speed)

    @property
    def inconclusive(self) -> list[SpeedRow]:
        return [row for row in self.speed if row.verdict == INCONCLUSIVE]

    def summary(self) -> dict[str, Any]:
        """The gate's own record (gate.json): what bench history and the gate-quality report read."""
        def side(s: Side) -> dict[str, Any]:
            return {"commit": s.commit, "label": s.label, "source_digest": source_digest(s.root),
                    "env": s.env, "interpreter": s.note}
        return {"schema_version": GATE_SCHEMA_VERSION, "tag": self.settings.tag, "suite": self.settings.suite,
                "threshold": self.settings.threshold, "min_rounds": self.settings.min_rounds,
                "max_rounds": self.settings.max_rounds, "threads": self.settings.threads,
                "select": list(self.settings.select), "base": side(self.base), "head": side(self.head),
                "machine": self.machine, "rounds": self.rounds, "wall_s": self.wall_s,
                "load_start": self.load[0], "load_end": self.load[1],
                "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "verdict": "FAIL" if self.failed else "pass",
                "other_failures": [row.message for row in self.comparison.failures],
                "speed": [row.as_dict() for row in self.speed]}


def run_side(side: Side, settings: ABSettings, output: Path, narrow: tuple[str, ...] = ()) -> list[Record]:
    """One round of one side: its own `bench run` of the suite into `output`; its records."""
    args = ("run", "--suite", settings.suite, "--threads", str(settings.threads), "--reuse-processes",
            "--no-resume", "--no-report", "--no-progress", "--allow-failures", "--output", str(output),
            *settings.select, *narrow)
    started = time.monotonic()
    try:
        out = subprocess.run(side.command(*args), cwd=side.root, env=side.environ(), capture_output=True,
                             text=True, timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise ConfigError(f"the {side.name} ({side.label}) ran the suite for over {RUN_TIMEOUT_S:.0f} s; "
                          f"its records so far are in {output}") from None
    if out.returncode != 0:
        tail = (out.stdout + out.stderr).strip()[-STDERR_TAIL_CHARS:]
        raise ConfigError(f"the {side.name} ({side.label}) could not run `bench run --suite {settings.suite}` "
                          f"(exit {out.returncode} after {time.monotonic() - started:.0f} s):\n{tail}")
    records = RecordStore(output).load()
    _check_code(side, records)
    return records


def _check_code(side: Side, records: list[Record]) -> None:
    """Every record must name the side's own sources: else the other side's code (or an installed copy) ran."""
    expected = source_digest(side.root)
    wrong = {r.environment.source_digest for r in records} - {expected}
    if wrong:
        raise ConfigError(f"the {side.name}'s records name source digest {', '.join(map(str, sorted(wrong)))}, not "
                          f"{expected} of {side.root}: its jobs imported another copy of bench (an installed, "
                          "non-editable rnnbench shadows the checkout?). Install the project editable (pip install -e .)")


def _custom_timing(records: list[Record]) -> dict[str, list[Record]]:
    """Paired timing records of custom cells, by rounds_key."""
    return {key: group for key, group in timed_rounds(records).items() if group[0].timing.paired}


def judge_speed(base: dict[str, list[Record]], head: dict[str, list[Record]], threshold: float) -> list[SpeedRow]:
    """A SpeedRow per custom timing job and step kind timed on both sides."""
    rows = []
    for key in sorted(set(base) & set(head), key=lambda k: job_label(head[k][0])):
        first = head[key][0]
        for kind in TIMING_KINDS:
            b, h = rounds_of(base[key], kind), rounds_of(head[key], kind)
            if not b or not h:
                continue
            interval = quotient_interval(b, h)
            rows.append(SpeedRow(key, job_label(first).rsplit("/seed", 1)[0], first.job.cell, first.job.framework,
                                 kind, geometric_mean(b), geometric_mean(h), interval, interval.verdict(threshold),
                                 interval.smallest_detectable(threshold)))
    return rows


def _narrow(keys: set[str], groups: dict[str, list[Record]]) -> list[tuple[str, ...]]:
    """`bench run` arguments running just the jobs of `keys`: one run per framework, its cells named."""
    cells: dict[str, set[str]] = {}
    for key in keys:
        job = groups[key][0].job
        cells.setdefault(job.framework, set()).add(job.cell)
    return [("--frameworks", framework, "--cells", ",".join(sorted(names))) for framework, names in sorted(cells.items())]


def run_ab(base: Side, head: Side, settings: ABSettings, say: Callable[[str], None] = print) -> ABResult:
    """Run rounds until every custom cell's verdict is in or `max_rounds` is reached; judge."""
    if settings.min_rounds < 2 or settings.max_rounds < settings.min_rounds:
        raise ConfigError(f"need 2 <= --min-rounds <= --max-rounds, got {settings.min_rounds} and "
                          f"{settings.max_rounds}: an interval needs at least two rounds a side")
    settings.out_dir.mkdir(parents=True, exist_ok=True)
    started, load_start = time.monotonic(), os.getloadavg()[0]
    timing: dict[str, dict[str, list[Record]]] = {"base": {}, "head": {}}
    first: dict[str, list[Record]] = {}
    pending: set[str] | None = None  # None: the whole suite (round 1)
    rounds_run = 0
    speed: list[SpeedRow] = []
    for number in range(1, settings.max_rounds + 1):
        sides = (base, head) if number % 2 else (head, base)
        narrows = [()] if pending is None else _narrow(pending, timing["head"])
        for side in sides:
            for i, narrow in enumerate(narrows):
                output = settings.out_dir / f"round{number}-{side.name}{f'-{i}' if i else ''}.jsonl"
                say(f"round {number}: {side.name} ({side.label}){' ' + ' '.join(narrow) if narrow else ''}")
                records = run_side(side, settings, output, narrow)
                first.setdefault(side.name, records)
                for key, group in _custom_timing(records).items():
                    timing[side.name].setdefault(key, []).extend(group)
        rounds_run = number
        if pending is None:
            pending = set(timing["base"]) & set(timing["head"])
        if number >= settings.min_rounds:
            speed = judge_speed(timing["base"], timing["head"], settings.threshold)
            pending = {row.key for row in speed if row.verdict == INCONCLUSIVE}
        if not pending:
            break
    comparison = compare(first.get("base", []), first.get("head", []), settings.tolerances, OMIT_SPEED)
    head_ok = [r for r in first.get("head", []) if r.status == "ok"]
    result = ABResult(base, head, settings, comparison, speed, rounds_run, time.monotonic() - started,
                      machine_class(head_ok[0]) if head_ok else "unknown", (load_start, os.getloadavg()[0]))
    (settings.out_dir / "gate.json").write_text(json.dumps(result.summary(), indent=1) + "\n", encoding="utf-8")
    return result

