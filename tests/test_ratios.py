"""One ratio: the report and the regression gate print the same custom ÷ native number for every job.

Both call bench.records.ratios. Before it, the report divided medians over seeds and the gate fastest rounds,
and they grouped records by different keys; `test_records_on_which_the_old_rules_disagreed` builds
records where the two old rules gave 0.95 and 0.50.
"""

import copy
import json
from pathlib import Path

import pytest

from bench.gate import stored as compare
from bench.records import ratios
from bench.records.store import RecordStore, parse_record
from bench.records.typed import record_json
from bench.report.frame import is_native, load_frame
from bench.report.tables import timing_table

ROOT = Path(__file__).resolve().parents[1]
GATE_QUALITY_RUNS = ROOT / "reports" / "gate-quality" / "runs"
# the first run of each kind (aa-busy, power-4, ...), its name without the trailing number: the 80 runs are rounds of
# one suite in one layout, and what reads them (`bench gate-quality`) reads their gate.json, not ratios
_FIRST_OF_KIND: dict[str, str] = {}
for _run in sorted(folder.name for folder in GATE_QUALITY_RUNS.iterdir() if folder.is_dir()):
    _FIRST_OF_KIND.setdefault(_run.rsplit("-", 1)[0], _run)
FIRST_RUNS = set(_FIRST_OF_KIND.values())


def _one_run_of_each_kind(path: Path) -> bool:
    """Any records file but a gate-quality run's, whose round files count only for the first run of its kind."""
    if GATE_QUALITY_RUNS not in path.parents:
        return True
    return path.relative_to(GATE_QUALITY_RUNS).parts[0] in FIRST_RUNS


# every committed records file with timed jobs (the replications' are accuracy runs only)
COMMITTED = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("reports/**/*.jsonl")
                   if _one_run_of_each_kind(p) and any(r.status == "ok" and r.timing for r in RecordStore(p).load()))
KINDS = {"train_step": "train_ratio", "inference_step": "infer_ratio"}


def _gate_ratios(records):
    groups = compare.timing_groups(records)
    return {key: {kind: compare.ratio(groups, group, kind) for kind in KINDS} for key, group in groups.items()}


def _report_rows(path):
    summary = timing_table(load_frame(path)[0])
    return {row["_rounds"]: row for _, row in summary.iterrows()}


@pytest.mark.parametrize("path", COMMITTED)
def test_the_report_and_the_gate_print_the_same_ratio_for_every_job_of_a_committed_file(path):
    records = list(RecordStore(ROOT / path).load())
    gate, report = _gate_ratios(records), _report_rows(ROOT / path)
    judged = 0
    for key, by_kind in gate.items():
        if is_native(json.loads(key)["cell"]):  # a native layer is its own baseline: no ratio to judge
            continue
        for kind, column in KINDS.items():
            expected = by_kind[kind]
            got = report[key][column]
            if expected is None:
                assert got is None or got != got, (path, key, kind)  # None or NaN: nothing to divide by
                continue
            assert got == expected.value, (path, key, kind)
            judged += 1
    assert judged  # every committed file has timed custom cells


def _torch_timing_json(path):
    """The ok torch timing records of a file, as JSON objects to edit."""
    return [record_json(r) for r in RecordStore(path).load()
            if r.status == "ok" and r.timing and r.job.framework == "torch"]


def _rounds(template, cell, medians_ms, paired):
    out = []
    for seed, median in enumerate(medians_ms):
        record = copy.deepcopy(template)
        record["identity"].update(cell=cell, seed=seed)
        record["identity"].pop("paired", None)
        record["job_id"] = f"{cell}-{seed}"
        record["timing"]["paired"] = paired
        if not paired:
            record["timing"].pop("paired_ratio", None)
            record["timing"].pop("native", None)
        for kind in KINDS:
            record["timing"][kind]["median_s"] = median / 1e3
        out.append(record)
    return out


def test_records_on_which_the_old_rules_disagreed_give_one_number(tmp_path):
    base = _torch_timing_json(ROOT / "reports/baseline/regress.jsonl")
    template = next(r for r in base if r["identity"]["cell"] == "gru4")
    # unpaired rounds: the custom cell at 10 and 30 ms, its native layer at 20 and 22 ms. The report's old rule
    # (median over seeds each side) gave 20/21 = 0.952; the gate's (fastest round each side) 10/20 = 0.5
    records = _rounds(template, "gru0", [10.0, 30.0], paired=False) + _rounds(template, "gru4", [20.0, 22.0], False)
    path = tmp_path / "rounds.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    key = ratios.rounds_key(records[0]["identity"])
    gate = _gate_ratios(list(RecordStore(path).load()))[key]["train_step"]
    row = _report_rows(path)[key]
    assert (gate.value, gate.method) == (0.5, ratios.CROSS_JOB)
    assert (row["train_ratio"], row["ratio_method"]) == (0.5, ratios.CROSS_JOB)


def test_a_job_recorded_twice_counts_by_its_latest_record_in_the_report_and_the_gate(tmp_path):
    """A rerun (say with --profile) appended to a sweep's file supersedes the first record in both, never pools."""
    base = _torch_timing_json(ROOT / "reports/baseline/regress.jsonl")
    template = next(r for r in base if r["identity"]["cell"] == "gru4")
    first, rerun = _rounds(template, "gru0", [10.0], paired=False) * 2
    rerun = copy.deepcopy(rerun)
    for kind in KINDS:
        rerun["timing"][kind]["median_s"] = 0.016
    records = [first] + _rounds(template, "gru4", [20.0], paired=False) + [rerun]
    path = tmp_path / "rerun.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    key = ratios.rounds_key(records[0]["identity"])
    gate = _gate_ratios(list(RecordStore(path).load()))[key]["train_step"]
    assert gate.value == pytest.approx(16.0 / 20.0) and _report_rows(path)[key]["train_ratio"] == gate.value
    assert compare.timing_groups(RecordStore(path).load())[key].seeds == [0]  # one round, not two


def test_a_compiled_cell_against_the_native_layer_as_users_run_it_is_the_cross_job_rule(tmp_path):
    """The report's cross-mode table divides by bench.records.ratios too: fastest round over fastest round, never medians."""
    from bench.report.tables import default_mode_pivots

    base = _torch_timing_json(ROOT / "reports/baseline/regress.jsonl")
    template = next(r for r in base if r["identity"]["cell"] == "gru4")
    compiled = copy.deepcopy(template)
    compiled["identity"]["mode"] = "compiled"
    # the compiled custom cell at 10 and 30 ms; eager nn.GRU at 20 and 22 ms (medians over seeds: 20 / 21 = 0.952)
    records = (_rounds(compiled, "gru0", [10.0, 30.0], paired=False)
               + _rounds(template, "gru4", [20.0, 22.0], paired=False))
    path = tmp_path / "modes.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    summary = timing_table(load_frame(path)[0])
    row = summary[summary.cell == "gru0"].iloc[0]
    groups = ratios.timed_rounds([parse_record(r) for r in records])
    expected = ratios.ratio_to_usual(groups, row["_rounds"], "gru4", "eager", "train_step")
    assert (expected.value, expected.method) == (0.5, ratios.CROSS_JOB)
    assert row["train_ratio_to_usual"] == expected.value
    [(title, pivot)] = default_mode_pivots(summary)
    assert "compiled cells ÷ eager native layer" in title and pivot.loc["gru0"].iloc[0] == 0.5
    # a cell already in the usual mode has its own ratio_in; there is no second figure for it
    assert ratios.ratio_to_usual(groups, ratios.rounds_key(records[2]["identity"], cell="gru0"), "gru4", "eager",
                                 "train_step") is None


def test_a_job_that_also_timed_the_usual_native_layer_gives_the_paired_ratio_to_it(tmp_path):
    """Where every round timed eager nn.GRU in its own process (paired_ratio_usual), that median of the rounds'
    paired ratios is the figure, not the cross-job one; one round without it and the rule falls back."""
    from bench.report.tables import default_mode_pivots

    base = _torch_timing_json(ROOT / "reports/baseline/regress.jsonl")
    template = next(r for r in base if r["identity"]["cell"] == "gru4")
    compiled = copy.deepcopy(template)
    compiled["identity"]["mode"] = "compiled"
    custom = _rounds(compiled, "gru0", [10.0, 30.0], paired=False)
    for record, median in zip(custom, (0.8, 0.9)):
        record["timing"]["paired"] = True
        record["timing"]["paired_ratio_usual"] = {"order": "ABBA", **{kind: {"median": median, "iqr": 0.1}
                                                                      for kind in KINDS}}
    records = custom + _rounds(template, "gru4", [20.0, 22.0], paired=False)
    path = tmp_path / "usual.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    summary = timing_table(load_frame(path)[0])
    row = summary[summary.cell == "gru0"].iloc[0]
    assert row["train_ratio_to_usual"] == pytest.approx(0.85) and row["train_ratio_to_usual_method"] == ratios.PAIRED
    [(title, _)] = default_mode_pivots(summary)
    assert "train step, paired —" in title
    del records[1]["timing"]["paired_ratio_usual"]
    groups = ratios.timed_rounds([parse_record(r) for r in records])
    fallback = ratios.ratio_to_usual(groups, row["_rounds"], "gru4", "eager", "train_step")
    assert (fallback.value, fallback.method) == (0.5, ratios.CROSS_JOB)
