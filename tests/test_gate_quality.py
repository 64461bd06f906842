"""The gate-quality report: false alarms and catches counted from gate.json files, and the committed report
regenerates from its committed runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bench.plan.config import REPO_ROOT, ConfigError
from bench.gate.quality import run_table, summary_markdown, write_quality_report

REPORT = REPO_ROOT / "reports" / "gate-quality"


def _gate(folder: Path, tag: str, verdict: str, train: str, infer: str, quotient: float, wall: float) -> None:
    def row(kind: str, what: str) -> dict:
        return {"label": "gru0/torch-eager/both/digits/L1H32", "kind": kind, "quotient": quotient, "low": quotient - 0.02,
                "high": quotient + 0.02, "verdict": what, "detectable": 0.05, "base_rounds": 2, "head_rounds": 2}
    folder.mkdir(parents=True)
    (folder / "gate.json").write_text(json.dumps({
        "tag": tag, "verdict": verdict, "rounds": 2, "wall_s": wall, "load_start": 1.0, "load_end": 1.5,
        "machine": "cpu: test", "base": {"commit": "a" * 40}, "head": {"commit": "a" * 40},
        "speed": [row("train_step", train), row("inference_step", infer)]}))


def test_false_alarms_and_catches_are_counted_from_the_verdicts(tmp_path):
    _gate(tmp_path / "aa-quiet-1", "aa-quiet", "pass", "pass", "inconclusive", 1.0, 200)
    _gate(tmp_path / "aa-busy-1", "aa-busy", "FAIL", "FAIL", "pass", 1.06, 250)
    _gate(tmp_path / "power-2-1", "power-2", "FAIL", "FAIL", "pass", 1.05, 60)
    _gate(tmp_path / "power-2-2", "power-2", "FAIL", "pass", "FAIL", 1.04, 60)  # caught by the other row: no catch
    from bench.gate.quality import load_runs

    runs = load_runs(tmp_path)
    table = run_table(runs)
    text = summary_markdown(runs, table)
    assert re.search(r"\| false alarms in A/A runs\s*\| 1 of 2 ", text)
    assert re.search(r"\| \+5% slowdown caught \(measured \+4\.5%\)\s*\| 1 of 2 ", text)
    assert "max 250 s" in text


def test_no_runs_is_an_error_that_says_what_to_run(tmp_path):
    with pytest.raises(ConfigError, match="no \\*/gate.json"):
        write_quality_report(tmp_path, tmp_path / "out")


def test_the_committed_report_regenerates_from_its_runs(tmp_path):
    if not (REPORT / "summary.md").is_file():
        pytest.skip("no committed gate-quality report yet")
    write_quality_report(REPORT / "runs", tmp_path)
    assert (tmp_path / "summary.md").read_text() == (REPORT / "summary.md").read_text(), (
        "reports/gate-quality/summary.md differs from its runs; run "
        "python -m bench gate-quality reports/gate-quality/runs --out reports/gate-quality")
