"""`bench history --backfill A..B`: run the regress suite at each commit of a range, as `asv run` does.

Each commit that touched the code a step time depends on (BACKFILL_PATHS) is checked out in a
temporary worktree and runs its *own* `bench run --suite regress` with the interpreter its pins call
for (bench.gate.sides). Its records go to RECORDS_DIR/<commit>.jsonl, so the history is rebuilt from
records and a stopped backfill resumes at the first commit without a file. A commit that cannot run
the suite gets RECORDS_DIR/<commit>.failed.json instead, its output quoted: never dropped.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from bench.plan.config import ConfigError
from bench.gate import sides

# what a commit must touch to be worth a point of history: cells, runners, timing, the suite, the stack; a history
# spans layouts, so the paths are both the stage folders' and those of the flat bench/ before them
BACKFILL_PATHS = ("cells_torch", "cells_tf", "bench/cells", "constraints.txt",
                  "bench/run/runners", "bench/run/timing.py", "bench/plan/regress_suite.py", "bench/run/executors",
                  "bench/run/worker.py",
                  "bench/runners", "bench/timing.py", "bench/regress_suite.py", "bench/executors", "bench/worker.py")
SUITE = "regress"
RUN_TIMEOUT_S = 1800.0
OUTPUT_TAIL_CHARS = 2000


@dataclass(frozen=True)
class Point:
    """One commit of the backfill."""

    commit: str  # full id
    records: Path  # its records file (or failure note)
    ran: bool  # False when the file was already there (resumed)
    ok: bool  # whether its `bench run` produced records
    seconds: float  # wall time of its run (0 when resumed)


def commits_in(span: str, paths: tuple[str, ...] = BACKFILL_PATHS) -> list[str]:
    """The first-parent commits of `A..B` that touched `paths`, oldest first."""
    if ".." not in span:
        raise ConfigError(f"--backfill takes a range A..B (e.g. HEAD~40..HEAD), got {span!r}")
    start, end = span.split("..", 1)
    sides.resolve(start or "HEAD")
    sides.resolve(end or "HEAD")
    listed = sides.git("rev-list", "--reverse", "--first-parent", span, "--", *paths)
    return listed.split()


FAILED_SUFFIX = ".failed.json"


def failure_file(records: Path) -> Path:
    return records.with_name(records.name.removesuffix(".jsonl") + FAILED_SUFFIX)


def backfill(span: str, records_dir: Path, threads: int = 1, say: Callable[[str], None] = print) -> list[Point]:
    """Run the suite at every commit of `span` that has no records file yet."""
    commits = commits_in(span)
    if not commits:
        raise ConfigError(f"no commit of {span} touched {', '.join(BACKFILL_PATHS)}: nothing to backfill")
    records_dir = records_dir.resolve()  # each commit's run works in its own worktree
    records_dir.mkdir(parents=True, exist_ok=True)
    points = []
    for number, commit in enumerate(commits, 1):
        target = records_dir / f"{sides.short(commit)}.jsonl"
        if target.is_file() or failure_file(target).is_file():
            points.append(Point(commit, target, False, True, 0.0))
            continue
        say(f"[{number}/{len(commits)}] {sides.short(commit)} {sides.subject(commit)[:70]}")
        started = time.monotonic()
        partial = target.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        with sides.worktree(commit) as root:
            try:
                side = sides.base_side(commit, root, {})
                out = subprocess.run(side.command("run", "--suite", SUITE, "--threads", str(threads), "--no-report",
                                                  "--output", str(partial)),
                                     cwd=root, env=side.environ(), capture_output=True, text=True,
                                     timeout=RUN_TIMEOUT_S)
                # exit 1: some job failed, its record written (older CLIs have no --allow-failures)
                ok = out.returncode in (0, 1) and partial.is_file() and partial.stat().st_size > 0
                text = out.stdout + out.stderr
            except (ConfigError, subprocess.TimeoutExpired) as err:
                ok, text = False, str(err)
        Path(f"{partial}.lock").unlink(missing_ok=True)  # the sweep's lock (RecordStore.held) outlives the sweep
        if ok:
            partial.replace(target)
        else:
            partial.unlink(missing_ok=True)
            failure_file(target).write_text(json.dumps({"commit": commit, "error": text[-OUTPUT_TAIL_CHARS:]}) + "\n",
                                            encoding="utf-8")
            say(f"    could not run the suite: {text.strip().splitlines()[-1][:160] if text.strip() else '?'}")
        points.append(Point(commit, target, True, ok, time.monotonic() - started))
    return points
