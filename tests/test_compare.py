"""The regression gate must fail on every kind of regression and stay quiet otherwise.

The records are the committed baseline (reports/baseline/regress.jsonl, written by
`python -m bench run --suite regress`); each test doctors a copy of them.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from bench import compare
from bench.config import ConfigError
from bench.records import RecordStore, read_records
from bench.tolerances import parse_tolerance, resolve_tolerances

BASELINE = Path(__file__).resolve().parents[1] / "reports" / "baseline" / "regress.jsonl"
SLOWDOWN = 2.0  # how much slower the doctored custom cell (or the whole machine) gets
ACCURACY_DROP = 0.05  # five points
MIN_JOBS = 10  # the committed baseline must hold a real suite, not a stub


@pytest.fixture(scope="module")
def baseline() -> list[dict]:
    records = read_records(BASELINE)
    assert len(records) >= MIN_JOBS, f"{BASELINE} holds {len(records)} records; regenerate it (reports/baseline/README.md)"
    return records


def _write(tmp_path: Path, records: list[dict], name: str = "current.jsonl") -> Path:
    store = RecordStore(tmp_path / name)
    for record in records:
        store.append(record)
    return store.path


def _gate(tmp_path: Path, current: list[dict], *extra: str, capsys=None) -> tuple[int, str]:
    path = _write(tmp_path, current)
    code = compare.main(["--baseline", str(BASELINE), str(path), "--markdown", str(tmp_path / "gate.md"), *extra])
    out = capsys.readouterr().out if capsys is not None else ""
    return code, out


def _pick(records: list[dict], *, native: bool, framework: str = "torch") -> dict:
    """A record of a custom (or native) cell that has timing and accuracy."""
    from bench.cells import get_spec

    for record in records:
        identity = record["identity"]
        if (record["status"] == "ok" and record.get("timing") and record.get("train")
                and identity["framework"] == framework and get_spec(identity["cell"]).native == native):
            return record
    raise AssertionError("the baseline lacks a suitable record")


def _scale_timing(record: dict, factor: float) -> None:
    for kind in ("train_step", "inference_step"):
        stats = record["timing"][kind]
        for key in ("median_s", "q1_s", "q3_s", "iqr_s", "mean_s"):
            stats[key] *= factor


def _label(record: dict) -> str:
    return compare.job_label(record["identity"])


def test_unchanged_records_pass(tmp_path, baseline, capsys):
    code, out = _gate(tmp_path, baseline, capsys=capsys)
    assert code == compare.EXIT_PASS, out
    assert "PASSED" in out
    assert (tmp_path / "gate.md").read_text().startswith("# rnnbench regression gate")
    # every baseline job appears in the table
    for record in baseline:
        assert _label(record) in out


def test_custom_cell_twice_as_slow_relative_to_native_fails(tmp_path, baseline, capsys):
    current = copy.deepcopy(baseline)
    victim = _pick(current, native=False)
    cell, framework = victim["identity"]["cell"], victim["identity"]["framework"]
    for record in current:  # every round of that cell, so the fastest round is slower too
        if record["identity"]["cell"] == cell and record["identity"]["framework"] == framework:
            _scale_timing(record, SLOWDOWN)
    code, out = _gate(tmp_path, current, capsys=capsys)
    assert code == compare.EXIT_REGRESSION, out
    regressions = out.split("## Regressions", 1)[1]
    assert f"{cell}/{framework}-" in regressions and "time relative to the native layer rose" in regressions


def test_accuracy_drop_of_five_points_fails(tmp_path, baseline, capsys):
    current = copy.deepcopy(baseline)
    victim = _pick(current, native=False, framework="keras")
    victim["train"]["test_metric"] -= ACCURACY_DROP
    code, out = _gate(tmp_path, current, capsys=capsys)
    assert code == compare.EXIT_REGRESSION, out
    regressions = out.split("## Regressions", 1)[1]
    assert _label(victim) in regressions and "test accuracy fell" in regressions


def test_job_turned_into_an_error_fails(tmp_path, baseline, capsys):
    current = copy.deepcopy(baseline)
    victim = _pick(current, native=True)
    victim.update(status="error", error="RuntimeError: doctored failure for the gate test", train=None, timing=None)
    code, out = _gate(tmp_path, current, capsys=capsys)
    assert code == compare.EXIT_REGRESSION, out
    regressions = out.split("## Regressions", 1)[1]
    assert _label(victim) in regressions and "now error: RuntimeError: doctored failure" in regressions


def test_missing_job_fails(tmp_path, baseline, capsys):
    victim = _pick(baseline, native=False, framework="keras")
    current = [r for r in baseline if r["job_id"] != victim["job_id"]]
    code, out = _gate(tmp_path, current, capsys=capsys)
    assert code == compare.EXIT_REGRESSION, out
    regressions = out.split("## Regressions", 1)[1]
    assert _label(victim) in regressions and "missing from the current records" in regressions


def test_uniformly_slower_machine_passes(tmp_path, baseline, capsys):
    current = copy.deepcopy(baseline)
    for record in current:  # custom and native cells alike
        if record.get("timing"):
            _scale_timing(record, SLOWDOWN)
    code, out = _gate(tmp_path, current, capsys=capsys)
    assert code == compare.EXIT_PASS, out


def test_other_machine_class_is_reported_and_speed_not_judged(tmp_path, baseline, capsys):
    current = copy.deepcopy(baseline)
    victim = _pick(current, native=False)
    for record in current:
        record["environment"]["device_name"] = "Some Other CPU @ 3.0GHz"
        if record["identity"]["cell"] == victim["identity"]["cell"]:
            _scale_timing(record, SLOWDOWN)
    code, out = _gate(tmp_path, current, capsys=capsys)
    assert code == compare.EXIT_PASS, out
    assert "Machine class differs" in out and "not judged: machine class differs" in out
    # with --speed always the same slowdown is judged, and caught
    code, out = _gate(tmp_path, current, "--speed", "always", capsys=capsys)
    assert code == compare.EXIT_REGRESSION, out


def test_other_backend_is_matched_and_reported(tmp_path, baseline, capsys):
    current = copy.deepcopy(baseline)
    for record in current:
        if record["identity"]["framework"] == "keras":
            record["identity"]["backend"] = "jax"
    code, out = _gate(tmp_path, current, capsys=capsys)
    assert code == compare.EXIT_PASS, out
    assert "Backends differ" in out and "not judged: backend differs (tensorflow in the baseline, jax now)" in out
    assert "missing" not in out


def test_native_kernel_change_fails(tmp_path, baseline, capsys):
    current = copy.deepcopy(baseline)
    victim = _pick(current, native=True)
    for record in current:
        if record["identity"]["cell"] == victim["identity"]["cell"] and \
                record["identity"]["framework"] == victim["identity"]["framework"]:
            record["native_path"] = "generic: doctored fallback"
    code, out = _gate(tmp_path, current, capsys=capsys)
    assert code == compare.EXIT_REGRESSION, out
    assert "the native layer ran" in out.split("## Regressions", 1)[1]


def test_tolerance_option_widens_the_gate(tmp_path, baseline, capsys):
    current = copy.deepcopy(baseline)
    _pick(current, native=False, framework="keras")["train"]["test_metric"] -= ACCURACY_DROP
    code, out = _gate(tmp_path, current, "--tolerance", "accuracy:0.1", capsys=capsys)
    assert code == compare.EXIT_PASS, out


def test_parse_tolerance():
    [absolute] = parse_tolerance("accuracy:0.02")
    assert (absolute.field, absolute.value, absolute.relative) == ("accuracy", 0.02, False)
    train, infer = parse_tolerance("ratio:15%")
    assert {train.field, infer.field} == {"train_ratio", "infer_ratio"} and train.relative
    assert train.value == pytest.approx(0.15)
    assert train.exceeded(1.0, 1.16) and not train.exceeded(1.0, 1.14)
    assert absolute.exceeded(0.90, 0.87) and not absolute.exceeded(0.90, 0.89)
    assert resolve_tolerances(["mse:0.5"])["mse"].value == 0.5


@pytest.mark.parametrize("text, fragment", [
    ("accuracy", "is not FIELD:THRESHOLD"),
    ("speed:10%", "unknown tolerance field 'speed'"),
    ("ratio:fast", "is not a number or a percentage"),
])
def test_bad_tolerance_is_explained(text, fragment):
    with pytest.raises(ConfigError, match=fragment):
        parse_tolerance(text)


def test_missing_or_empty_files_are_explained(tmp_path, capsys):
    code = compare.main(["--baseline", str(tmp_path / "nope.jsonl"), str(BASELINE)])
    assert code == 2 and "no baseline records file" in capsys.readouterr().err
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    code = compare.main(["--baseline", str(BASELINE), str(empty)])
    assert code == 2 and "holds no readable records" in capsys.readouterr().err


def test_github_step_summary_is_appended(tmp_path, baseline, monkeypatch, capsys):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    path = _write(tmp_path, baseline)
    assert compare.main(["--baseline", str(BASELINE), str(path)]) == compare.EXIT_PASS
    text = summary.read_text()
    assert text.startswith("earlier step\n") and "PASSED" in text
