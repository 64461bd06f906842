"""The history store, its page and export: records in, one plot per series out, steps named by commit."""

from __future__ import annotations

import copy
import json
import sqlite3
import subprocess
import sys
from html.parser import HTMLParser

import numpy as np
import pytest

from bench.plan.config import REPO_ROOT, ConfigError
from bench.gate.history import SCHEMA_VERSION, History
from bench.gate.history_page import STEP_MIN, export_benchmark_json, series_of, steps, write_page
from bench.records.store import RecordStore
from bench.records.typed import record_json

TEMPLATES = REPO_ROOT / "reports" / "baseline" / "regress.jsonl"  # real regress records: paired custom cells
COMMITS = 8  # points of the synthetic history
JUMP = 1.25  # the slowdown put in at the middle commit: well above STEP_MIN
NOISE = 0.01  # per-pair spread of the synthetic ratios
BACKFILLED = "3274a60..2c38dca"  # the range reports/history/ was backfilled over


def _real_commits(count: int) -> list[str]:
    listed = subprocess.run(["git", "rev-list", "--first-parent", f"--max-count={count}", "HEAD"], cwd=REPO_ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    return listed[::-1]  # oldest first


def _history_records(commits: list[str], rng: np.random.Generator) -> list[dict]:
    templates = [record_json(r) for r in RecordStore(TEMPLATES).load()]
    out = []
    for index, commit in enumerate(commits):
        level = JUMP if index >= len(commits) // 2 else 1.0
        for template in templates:
            record = copy.deepcopy(template)
            record["environment"]["git"] = {"commit": commit, "dirty": False}
            paired = (record.get("timing") or {}).get("paired_ratio") or {}
            for kind in ("train_step", "inference_step"):
                if paired.get(kind):
                    ratios = level * np.exp(rng.normal(0, NOISE, 200))
                    paired[kind].update(median=float(np.median(ratios)), ratios=[float(r) for r in ratios])
            out.append(record)
    return out


@pytest.fixture
def history(tmp_path) -> History:
    commits = _real_commits(COMMITS)
    if len(commits) < COMMITS:
        pytest.skip(f"needs {COMMITS} commits of history; this clone has {len(commits)}")
    store = History(tmp_path / "history.sqlite")
    rng = np.random.default_rng(0)
    records = _history_records(commits, rng)
    for commit in commits:
        path = tmp_path / f"{commit[:7]}.jsonl"
        for record in records:
            if record["environment"]["git"]["commit"] == commit:
                RecordStore(path).append(record)
        store.add_records(path, "backfill", path.name)
    return store


class _Figures(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.series: list[str] = []
        self.svgs = 0

    def handle_starttag(self, tag, attrs):
        if tag == "figure" and dict(attrs).get("class") == "plot":
            self.series.append(dict(attrs)["data-series"])
        if tag == "svg":
            self.svgs += 1


def test_the_page_has_one_plot_per_series(history, tmp_path):
    written = write_page(history, tmp_path / "page")
    parser = _Figures()
    parser.feed(written[0].read_text())
    expected = series_of(history)
    assert len(expected) == 10  # the regress suite's 10 jobs, one machine, one stack each
    assert sorted(parser.series) == sorted(s.key for s in expected)
    assert parser.svgs == len(expected)  # each plot inline: the page stands alone
    markdown = written[1].read_text()
    assert all(f"## {s.job}" in markdown for s in expected)


def test_a_slowdown_is_a_step_at_the_commit_that_made_it(history):
    commits = _real_commits(COMMITS)
    by_cell = {s.cell: s for s in series_of(history) if s.framework == "torch"}
    found = steps(by_cell["gru0"])
    assert {step.kind for step in found} == {"train", "infer"}
    assert all(step.commit == commits[COMMITS // 2][:7] for step in found)
    assert all(step.change > STEP_MIN for step in found)
    assert steps(by_cell["gru4"]) == []  # a native layer has no ratio, so no step


def test_export_is_github_action_benchmark_custom_json(history, tmp_path):
    path = tmp_path / "bench.json"
    count = export_benchmark_json(history, path)
    entries = json.loads(path.read_text())
    assert count == len(entries) == 12  # three custom cells, two frameworks, two step kinds
    assert all(set(entry) >= {"name", "unit", "value"} and isinstance(entry["value"], float) for entry in entries)


def test_a_history_file_from_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "history.sqlite"
    History(path).check_writable()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(ConfigError, match="newer rnnbench"):
        History(path).count()
    out = subprocess.run([sys.executable, "-m", "bench", "history", "--history", str(path), "--out",
                          str(tmp_path / "page")], cwd=REPO_ROOT, capture_output=True, text=True)
    assert out.returncode == 2 and "newer rnnbench" in out.stderr


def test_a_commit_that_could_not_run_the_suite_is_a_row(tmp_path):
    from bench.gate.backfill import failure_file

    commit = _real_commits(1)[0]
    records = tmp_path / f"{commit[:7]}.jsonl"
    failure_file(records).write_text(json.dumps({"commit": commit, "error": "Traceback\nImportError: no bench"}))
    store = History(tmp_path / "history.sqlite")
    store.add_backfill(commit, records)
    (row,) = store.rows()
    assert row["status"] == "error" and row["error"] == "ImportError: no bench" and row["commit_id"] == commit


def test_backfill_refuses_a_range_that_is_not_one(tmp_path):
    from bench.gate.backfill import commits_in

    with pytest.raises(ConfigError, match="A..B"):
        commits_in("HEAD")
    with pytest.raises(ConfigError, match="no revision"):
        commits_in("no-such-rev..HEAD")


def test_the_committed_page_has_a_plot_per_series_and_its_screenshot():
    """reports/history/ holds the page a backfill made, and the screenshot of it in a real browser."""
    folder = REPO_ROOT / "reports" / "history"
    page = folder / "index.html"
    if not page.is_file():
        pytest.skip("no committed history page yet")
    parser = _Figures()
    parser.feed(page.read_text())
    assert parser.series and parser.svgs == len(parser.series)
    assert len(set(parser.series)) == len(parser.series)
    assert (folder / "screenshot.png").stat().st_size > 10_000
    assert len({p.stem for p in (folder / "records").glob("*.jsonl")}) >= 30


def test_the_committed_page_regenerates_from_its_records(tmp_path):
    """The history page is generated from the committed per-commit records alone (the README's command)."""
    folder = REPO_ROOT / "reports" / "history"
    if not (folder / "index.html").is_file():
        pytest.skip("no committed history page yet")
    from bench.gate.backfill import backfill

    store = History(tmp_path / "history.sqlite")
    for point in backfill(BACKFILLED, folder / "records", say=lambda text: None):
        assert not point.ran, f"{point.commit} has no records file: the backfill would have run it"
        store.add_backfill(point.commit, point.records)
    write_page(store, tmp_path / "page")
    for name in ("index.html", "history.md"):
        assert (tmp_path / "page" / name).read_text() == (folder / name).read_text(), (
            f"reports/history/{name} differs from its records; rerun the commands in reports/history/README.md")


def test_a_backfilled_commit_leaves_its_records_file_and_no_lock_beside_it(tmp_path, monkeypatch):
    import contextlib
    from pathlib import Path
    from types import SimpleNamespace

    from bench.gate import backfill as backfill_module

    commit = "a" * 40
    monkeypatch.setattr(backfill_module, "commits_in", lambda span: [commit])
    monkeypatch.setattr(backfill_module.sides, "short", lambda c: c[:7])
    monkeypatch.setattr(backfill_module.sides, "subject", lambda c: "a commit")
    monkeypatch.setattr(backfill_module.sides, "worktree", lambda c: contextlib.nullcontext(tmp_path))
    monkeypatch.setattr(backfill_module.sides, "base_side", lambda c, root, env: SimpleNamespace(
        command=lambda *args: list(args), environ=lambda: {}))

    def a_sweep(command, **kwargs):  # what `bench run --output X.partial` leaves: its records and its lock
        output = Path(command[command.index("--output") + 1])
        output.write_text('{"a": "record"}\n')
        Path(f"{output}.lock").touch()
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(backfill_module.subprocess, "run", a_sweep)
    (point,) = backfill_module.backfill("x..y", tmp_path / "records", say=lambda text: None)
    assert point.ran and point.ok
    assert sorted(p.name for p in (tmp_path / "records").iterdir()) == [f"{commit[:7]}.jsonl"]
