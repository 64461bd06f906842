"""The regression gate must fail on every kind of regression and stay quiet otherwise.

The records are the committed baseline (reports/baseline/regress.jsonl, written by
`python -m bench run --suite regress`); each test doctors a copy of them. Its custom
cells were timed paired (their native layer interleaved in the same process); the speed
tests run twice, on those records and on the same records with the pairing stripped, as
records from before pairing look, so the gate's cross-job fallback is held to the same
standard.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from bench.commands import compare as compare_command
from bench.gate import stored as compare
from bench.cells import get_spec
from bench.plan.config import ConfigError
from bench.plan.jobs import Job
from bench.records.ratios import paired_ratio
from bench.records.store import RecordStore, parse_record, read_records
from bench.records.typed import record_json
from bench.gate.tolerances import parse_tolerance, resolve_tolerances

BASELINE = Path(__file__).resolve().parents[1] / "reports" / "baseline" / "regress.jsonl"
SLOWDOWN = 2.0  # how much slower the doctored custom cell (or the whole machine) gets
ACCURACY_DROP = 0.05  # five points
MIN_JOBS = 10  # the committed baseline must hold a real suite, not a stub


@pytest.fixture(scope="module")
def baseline() -> list[dict]:
    records = read_records(BASELINE)
    assert len(records) >= MIN_JOBS, f"{BASELINE} holds {len(records)} records; regenerate it (reports/baseline/README.md)"
    assert any(paired_ratio(r, "train_step") for r in records), f"{BASELINE} has no paired timing"
    return [record_json(r) for r in records]  # JSON objects, for the tests to doctor


def _unpaired(records: list[dict]) -> list[dict]:
    """The records as a run without pairing writes them: no native half, no paired ratio, no identity flag."""
    out = copy.deepcopy(records)
    for record in out:
        record["identity"].pop("paired", None)
        if record.get("timing"):
            for key in ("native", "paired_ratio"):
                record["timing"].pop(key, None)
            record["timing"]["paired"] = False
    return out


@pytest.fixture(params=["paired", "cross-job"])
def method(request) -> str:
    """How the ratios of the baseline and the current records were measured."""
    return request.param


@pytest.fixture
def records(baseline, method) -> list[dict]:
    """The baseline records, as timed with `method`."""
    return copy.deepcopy(baseline) if method == "paired" else _unpaired(baseline)


@pytest.fixture
def baseline_path(tmp_path, records) -> Path:
    """A baseline file holding `records`."""
    return _write(tmp_path, records, "baseline.jsonl")


def _write(tmp_path: Path, records: list[dict], name: str = "current.jsonl") -> Path:
    store = RecordStore(tmp_path / name)
    for record in records:
        store.append(record)
    return store.path


def _gate(tmp_path: Path, current: list[dict], *extra: str, capsys=None,
          baseline: Path = BASELINE) -> tuple[int, str]:
    path = _write(tmp_path, current)
    code = compare_command.main(["--baseline", str(baseline), str(path), "--markdown", str(tmp_path / "gate.md"), *extra])
    out = capsys.readouterr().out if capsys is not None else ""
    return code, out


def _pick(records: list[dict], *, native: bool, framework: str = "torch") -> dict:
    """A record of a custom (or native) cell that has timing and accuracy."""
    for record in records:
        identity = record["identity"]
        if (record["status"] == "ok" and record.get("timing") and record.get("train")
                and identity["framework"] == framework and get_spec(identity["cell"]).native == native):
            return record
    raise AssertionError("the baseline lacks a suitable record")


def _scale_stats(stats: dict, factor: float) -> None:
    for key in ("median_s", "q1_s", "q3_s", "iqr_s", "mean_s"):
        stats[key] *= factor


def _scale_timing(record: dict, factor: float) -> None:
    """The job's process ran `factor` times slower: its own steps and, when paired, its native half alike."""
    for kind in ("train_step", "inference_step"):
        _scale_stats(record["timing"][kind], factor)
        if record["timing"].get("native"):
            _scale_stats(record["timing"]["native"][kind], factor)


def _slow_cell(record: dict, factor: float) -> None:
    """The cell's own steps got `factor` times slower; a paired native half in the same job did not."""
    for kind in ("train_step", "inference_step"):
        _scale_stats(record["timing"][kind], factor)
        ratio = (record["timing"].get("paired_ratio") or {}).get(kind)
        if ratio:  # every custom_i / native_i is `factor` times larger
            for key in ("median", "q1", "q3", "iqr"):
                ratio[key] *= factor


def _label(record: dict) -> str:
    return compare.job_label(parse_record(record))


def test_unchanged_records_pass(tmp_path, baseline, capsys):
    code, out = _gate(tmp_path, baseline, capsys=capsys)
    assert code == compare.EXIT_PASS, out
    assert "PASSED" in out
    assert (tmp_path / "gate.md").read_text().startswith("# rnnbench regression gate")
    # every baseline job appears in the table
    for record in baseline:
        assert _label(record) in out


def test_custom_cell_twice_as_slow_relative_to_native_fails(tmp_path, records, baseline_path, method, capsys):
    current = copy.deepcopy(records)
    victim = _pick(current, native=False)
    cell, framework = victim["identity"]["cell"], victim["identity"]["framework"]
    for record in current:  # every round of that cell, so the fastest round is slower too
        if record["identity"]["cell"] == cell and record["identity"]["framework"] == framework:
            _slow_cell(record, SLOWDOWN)
    code, out = _gate(tmp_path, current, capsys=capsys, baseline=baseline_path)
    assert code == compare.EXIT_REGRESSION, out
    regressions = out.split("## Regressions", 1)[1]
    assert f"{cell}/{framework}-" in regressions and "time relative to the native layer rose" in regressions
    assert f"× native ({method})" in out  # the table says how the ratio was measured


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


def test_uniformly_slower_machine_passes(tmp_path, records, baseline_path, capsys):
    current = copy.deepcopy(records)
    for record in current:  # custom and native cells alike
        if record.get("timing"):
            _scale_timing(record, SLOWDOWN)
    code, out = _gate(tmp_path, current, capsys=capsys, baseline=baseline_path)
    assert code == compare.EXIT_PASS, out


def test_load_on_the_native_jobs_alone_moves_only_the_cross_job_ratio(tmp_path, records, baseline_path, method,
                                                                      capsys):
    """Another process's load while the native layers' own jobs ran: the paired ratio never saw it."""
    current = copy.deepcopy(records)
    for record in current:
        if record.get("timing") and get_spec(record["identity"]["cell"]).native:
            _scale_timing(record, 1 / SLOWDOWN)  # the native jobs ran in a quiet moment, the others did not
    code, out = _gate(tmp_path, current, capsys=capsys, baseline=baseline_path)
    if method == "paired":
        assert code == compare.EXIT_PASS, out
    else:  # the false alarm pairing removes
        assert code == compare.EXIT_REGRESSION, out


def test_a_baseline_from_before_pairing_still_matches_but_its_ratios_are_not_judged(tmp_path, baseline, capsys):
    old = _write(tmp_path, _unpaired(baseline), "old-baseline.jsonl")
    current = copy.deepcopy(baseline)
    _slow_cell(_pick(current, native=False), SLOWDOWN)
    code, out = _gate(tmp_path, current, capsys=capsys, baseline=old)
    assert code == compare.EXIT_PASS, out
    assert "missing" not in out and "| new " not in out  # jobs match although the identity gained "paired"
    assert "not judged: the baseline's ratio is cross-job, the current one paired; regenerate the baseline" in out


def test_other_machine_class_is_reported_and_speed_not_judged(tmp_path, baseline, capsys):
    current = copy.deepcopy(baseline)
    victim = _pick(current, native=False)
    for record in current:
        record["environment"]["device_name"] = "Some Other CPU @ 3.0GHz"
        if record["identity"]["cell"] == victim["identity"]["cell"]:
            _slow_cell(record, SLOWDOWN)
    code, out = _gate(tmp_path, current, capsys=capsys)
    assert code == compare.EXIT_PASS, out
    assert "Machine class differs" in out and "not judged: machine class differs" in out
    # with --speed always the same slowdown is judged, and caught
    code, out = _gate(tmp_path, current, "--speed", "always", capsys=capsys)
    assert code == compare.EXIT_REGRESSION, out


def test_other_backend_is_matched_and_reported(tmp_path, baseline, capsys):
    # the Keras jobs in XLA mode, which TensorFlow and JAX both have: the same jobs on the other backend
    before = copy.deepcopy(baseline)
    for record in before:
        if record["identity"]["framework"] == "keras":
            record["identity"]["mode"] = "xla"
            record["job_id"] = Job.from_identity(record["identity"]).job_id
    current = copy.deepcopy(before)
    for record in current:
        if record["identity"]["framework"] == "keras":
            record["identity"]["backend"] = "jax"
            record["job_id"] = Job.from_identity(record["identity"]).job_id
    code, out = _gate(tmp_path, current, capsys=capsys, baseline=_write(tmp_path, before, "baseline.jsonl"))
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
    code = compare_command.main(["--baseline", str(tmp_path / "nope.jsonl"), str(BASELINE)])
    assert code == 2 and "no baseline records file" in capsys.readouterr().err
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    code = compare_command.main(["--baseline", str(BASELINE), str(empty)])
    assert code == 2 and "holds no readable records" in capsys.readouterr().err


def test_a_folder_given_as_the_markdown_file_is_explained_before_comparing(tmp_path, capsys):
    code = compare_command.main(["--baseline", str(BASELINE), str(BASELINE), "--markdown", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 2 and f"--markdown {tmp_path} is a folder" in captured.err
    assert "regression gate" not in captured.out  # refused before comparing, not after


def test_github_step_summary_is_appended(tmp_path, baseline, monkeypatch, capsys):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    path = _write(tmp_path, baseline)
    assert compare_command.main(["--baseline", str(BASELINE), str(path)]) == compare.EXIT_PASS
    text = summary.read_text()
    assert text.startswith("earlier step\n") and "PASSED" in text
