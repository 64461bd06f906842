"""Reports from the small committed records file (written by `python -m bench run`)."""

import json
from types import SimpleNamespace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.cells import get_spec
from bench.cli import main
from bench.plan import settings as run_settings
from bench.report.plots import convergence_curves
from bench.report.summary import write_report
from bench.records.store import RecordStore
from bench.report.frame import load_frame
from bench.report.tables import accuracy_table, time_spent_table, timing_table

RECORDS = Path(__file__).parent / "data" / "harness_records.jsonl"  # timed before pairing: cross-job ratios
PAIRED_RECORDS = Path(__file__).parents[1] / "reports" / "baseline" / "regress.jsonl"  # custom cells timed paired
RATIO_TOL = 1e-9  # ratios are recomputed from the same floats
PRINTED_TOL = 5e-3  # a figure printed to 3 significant digits, read back


@pytest.fixture(scope="module")
def raw():
    return [json.loads(line) for line in RECORDS.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    return out, write_report(RECORDS, out)


def test_writes_summary_csv_and_the_three_kinds_of_plot(report):
    out, written = report
    assert written["summary"] == out / "summary.md" and written["csv"] == out / "results.csv"
    names = {p.name for p in written["plots"]}
    assert any(n.startswith("convergence_digits") for n in names)
    assert any(n.startswith("step_time_") for n in names)
    assert any(n.startswith("accuracy_vs_params_digits") for n in names)
    for path in written["plots"]:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
        assert f"]({path.name})" in written["summary"].read_text()  # linked from the summary


def test_csv_has_one_flat_row_per_job(report, raw):
    table = pd.read_csv(report[0] / "results.csv")
    assert sorted(table.job_id) == sorted({r["job_id"] for r in raw})
    for column in ("status", "cell", "framework", "backend", "mode", "device", "train.test_metric",
                   "timing.train_step.median_s", "params.recurrent_expected", "environment.versions.torch"):
        assert column in table.columns
    ok_train = table[(table.measure == "train") & (table.status == "ok")]
    assert ok_train["train.test_metric"].notna().all()


def test_summary_has_every_section_cell_and_failure(report, raw):
    text = report[1]["summary"].read_text()
    for heading in ("## Accuracy", "## Step time", "## Failed jobs", "## Environment"):
        assert heading in text
    assert "input projection for all steps in one product" in text
    for cell in {r["identity"]["cell"] for r in raw}:
        assert f"| {cell} " in text
    diverged = [r for r in raw if r["status"] == "diverged"]
    assert diverged and all(f"| {r['job_id']} |" in text for r in diverged)
    assert "| diverged |" in text


def test_the_summary_opens_with_its_results_and_the_reading_notes_follow_the_tables(report):
    text = report[1]["summary"].read_text()
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings[0] == "## At a glance: custom cells against their native layer"
    assert headings.index("## How to read this report") > headings.index("## Step time")
    assert headings[-1] == "## Environment"
    first_table = text.index("\n|")
    assert text.index("## How to read this report") > first_table and first_table < 1000  # results on the first screen


def test_accuracy_is_mean_and_std_over_seeds(report, raw):
    runs = [r["train"]["test_metric"] for r in raw if r["status"] == "ok" and r["identity"]["measure"] == "train"
            and r["identity"]["cell"] == "mgu" and r["identity"]["framework"] == "keras"]
    assert len(runs) == 2  # two seeds in the committed file
    expected = f"{np.mean(runs):.4f} ± {np.std(runs, ddof=1):.4f}"
    assert expected in report[1]["summary"].read_text()


def test_where_the_time_went_sums_each_jobs_wall_time_and_every_compile_it_recorded(report, raw):
    latest = {r["job_id"]: r for r in raw}  # a rerun job counts once, as everywhere in the report
    compiles = [side[step]["compile_s"] for r in latest.values() if r["timing"]
                for side in (r["timing"], r["timing"].get("native") or {}, r["timing"].get("native_usual") or {})
                for step in ("train_step", "inference_step") if step in side]
    assert compiles and sum(compiles) > 0
    table = time_spent_table(load_frame(RECORDS)[0])
    total = table[table.framework == "all"].iloc[0]
    assert total.jobs == len(latest) and total.share == "100%"
    assert float(total["job time s"]) == pytest.approx(sum(r["duration_s"] for r in latest.values()), rel=PRINTED_TOL)
    assert float(total["compiling s"]) == pytest.approx(sum(compiles), rel=PRINTED_TOL)
    parts = table[table.framework != "all"]
    assert parts.jobs.sum() == len(latest) and set(parts.measure) == {r["identity"]["measure"] for r in raw}
    assert "## Where the time went" in report[1]["summary"].read_text()


def test_ratio_to_native_uses_the_baseline_of_the_same_framework_mode_and_shape(raw):
    flat, _ = load_frame(RECORDS)
    table = timing_table(flat).set_index(["framework", "mode", "cell"])
    timed = [r for r in raw if r["status"] == "ok" and r["timing"]]
    median = {(r["identity"]["framework"], r["identity"]["mode"], r["identity"]["cell"]):
              r["timing"]["train_step"]["median_s"] for r in timed}
    assert len(median) >= 6
    for (framework, mode, cell), value in median.items():
        base = median[(framework, mode, "gru4")]  # gru0, mgu and gru4 are all timed against gru4
        assert table.loc[(framework, mode, cell), "train_ratio"] == pytest.approx(value / base, rel=RATIO_TOL)
    assert (table.loc[table.native, "train_ratio"] == 1.0).all()


def test_a_rerun_job_is_reported_once_with_its_latest_record(tmp_path, raw):
    failed = next(r for r in raw if r["status"] == "diverged")
    rerun = dict(failed, status="ok", error=None)  # as if retried and now fine
    rerun["train"] = next(r["train"] for r in raw if r["status"] == "ok" and r["train"])
    path = tmp_path / "r.jsonl"
    path.write_text(RECORDS.read_text() + json.dumps(rerun) + "\n")
    flat, _ = load_frame(path)
    assert len(flat) == len({r["job_id"] for r in raw})
    assert flat.set_index("job_id").loc[failed["job_id"], "status"] == "ok"


def test_report_command_explains_a_missing_or_empty_file(tmp_path, capsys):
    assert main(["report", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "r")]) == 2
    assert "no records file" in capsys.readouterr().err
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(ValueError, match="holds no readable records"):
        write_report(empty, tmp_path / "r")


def test_ratio_to_native_is_the_paired_in_process_ratio_when_records_have_it(tmp_path):
    raw = [json.loads(line) for line in PAIRED_RECORDS.read_text().splitlines() if line.strip()]
    paired = {(r["identity"]["framework"], r["identity"]["cell"]): r["timing"]["paired_ratio"]
              for r in raw if r["status"] == "ok" and (r.get("timing") or {}).get("paired")}
    assert len(paired) >= 4
    flat, _ = load_frame(PAIRED_RECORDS)
    table = timing_table(flat).set_index(["framework", "cell"])
    for (framework, cell), ratio in paired.items():
        row = table.loc[(framework, cell)]
        assert row.ratio_method == "paired"
        assert row.train_ratio == pytest.approx(ratio["train_step"]["median"], rel=RATIO_TOL)
        assert row.infer_ratio == pytest.approx(ratio["inference_step"]["median"], rel=RATIO_TOL)
        assert row.train_ratio_iqr == pytest.approx(ratio["train_step"]["iqr"], rel=RATIO_TOL)
        # not the cross-job ratio of the two jobs' medians, which another moment's load moves
        native = table.loc[(framework, get_spec(cell).baseline)]
        assert row.train_ratio != pytest.approx(row.train_ms / native.train_ms, rel=RATIO_TOL)
    summary = write_report(PAIRED_RECORDS, tmp_path)["summary"].read_text()
    assert "| paired " in summary and "**paired**" in summary


REPORTS = Path(__file__).resolve().parents[1] / "reports"
# the replication summaries open with their side-by-side tables: tests/test_replication.py checks them
COMMITTED_REPORTS = [path.parent for path in sorted(REPORTS.rglob("records.jsonl"))
                     if (path.parent / "summary.md").is_file() and "replication" not in path.relative_to(REPORTS).parts]


@pytest.mark.parametrize("folder", COMMITTED_REPORTS, ids=lambda p: str(p.relative_to(REPORTS)))
def test_committed_reports_are_what_bench_report_writes_from_their_records(folder, tmp_path):
    """Every committed summary (reports/cpu-quick, reports/gpu-h100, its profile/) is regenerated, not edited by hand."""
    write_report(folder / "records.jsonl", tmp_path)
    assert (tmp_path / "summary.md").read_text() == (folder / "summary.md").read_text(), (
        f"{folder}/summary.md differs from its records; run python -m bench report {folder}/records.jsonl --out {folder}")


# a report folder's README (reports/gpu-h100) quotes its summary's tables; the replication ones have their own test
REPORT_READMES = [path for path in sorted(REPORTS.rglob("README.md"))
                  if (path.parent / "summary.md").is_file() and "replication" not in path.relative_to(REPORTS).parts]


def markdown_tables(text: str) -> list[list[dict[str, str]]]:
    """Each markdown table in `text` as a list of {header: cell} rows (cells stripped of backticks)."""
    tables, block = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            block.append([cell.strip().strip("`") for cell in line.strip().strip("|").split("|")])
            continue
        if len(block) > 2:
            tables.append([dict(zip(block[0], row)) for row in block[2:]])
        block = []
    return tables


@pytest.mark.parametrize("readme", REPORT_READMES, ids=lambda p: str(p.relative_to(REPORTS)))
def test_every_row_of_a_report_readmes_tables_is_a_row_of_its_generated_summaries(readme):
    """A README quotes the generated tables, cell for cell; it never types a figure of its own."""
    generated = [row for path in sorted(readme.parent.rglob("summary.md"))
                 for table in markdown_tables(path.read_text()) for row in table]
    quoted = [row for table in markdown_tables(readme.read_text()) for row in table]
    assert quoted, f"{readme} has no table"
    for row in quoted:
        assert any(all(other.get(column) == value for column, value in row.items()) for other in generated), (
            f"{readme}: no summary.md beside it has the row {row}; quote the generated tables")


def test_the_glance_tables_sum_up_the_ratio_and_cost_columns():
    """On the committed H100 records: counts, medians and ranges of the paired ratios; compile and memory medians."""
    from bench.report.tables import cost_table, overview_table

    records = REPORTS / "gpu-h100" / "records.jsonl"
    timing = timing_table(load_frame(records)[0])
    graphs = timing[(timing.framework == "torch") & (timing["mode"] == "compiled_cudagraphs")]
    custom = graphs[~graphs.native]
    ratios = custom.train_ratio.astype(float)
    overview = overview_table(timing).set_index(["framework", "mode", "step"])
    row = overview.loc[("torch (torch)", "compiled_cudagraphs", "train")]
    assert row["at most 1.0"] == f"{int((ratios <= 1.0).sum())} of {len(ratios)}"
    assert float(row["median"]) == pytest.approx(ratios.median(), rel=PRINTED_TOL)
    assert float(row["median, H512"]) == pytest.approx(ratios[custom.hidden_size == 512].median(), rel=PRINTED_TOL)
    low, high = (float(v) for v in row["range"].split("–"))
    assert (low, high) == (pytest.approx(ratios.min(), rel=PRINTED_TOL), pytest.approx(ratios.max(), rel=PRINTED_TOL))
    costs = cost_table(timing).set_index(["framework", "mode"]).loc[("torch (torch)", "compiled_cudagraphs")]
    assert float(costs["compile s, native"]) == pytest.approx(graphs[graphs.native].compile_s.median(), rel=PRINTED_TOL)
    assert float(costs["peak MiB, custom"]) == pytest.approx(custom.peak.median() / 2**20, rel=PRINTED_TOL)


def test_compiled_cells_are_set_against_the_native_layer_in_its_default_mode():
    """On the committed H100 records: a CUDA-graph cell ÷ eager nn.GRU is the two jobs' medians divided."""
    from bench.report.tables import default_mode_pivots

    records = Path(__file__).resolve().parents[1] / "reports" / "gpu-h100" / "records.jsonl"
    flat, raw = load_frame(records)
    titles = dict(default_mode_pivots(timing_table(flat)))
    (title, pivot), = [(t, p) for t, p in titles.items() if "compiled_cudagraphs cells ÷ eager native" in t]

    def median(cell, mode):
        (record,) = [r for r in raw if r.status == "ok" and r.job.cell == cell and r.job.mode == mode
                     and r.job.batch_size == 64 and r.job.hidden_size == 128 and r.job.framework == "torch"]
        return record.timing.train_step.median_s

    expected = median("gru0", "compiled_cudagraphs") / median("gru4", "eager")
    assert pivot.loc["gru0", "B64 T28 I28 H128"] == pytest.approx(expected)
    assert "gru4" not in pivot.index and "cross-job" in title  # natives are the denominators, never rows


def test_the_report_says_what_each_mode_in_its_records_runs():
    from bench.plan.modes import get_mode
    from bench.report.summary import modes_markdown

    def record(framework, backend, mode, float32="default"):
        """What modes_markdown reads of a record: its job's framework, backend, mode and precision."""
        return SimpleNamespace(job=SimpleNamespace(framework=framework, backend=backend, mode=mode, float32=float32))

    records = [record("torch", "torch", "compiled_step_graph"), record("torch", "torch", "eager"),
               record("keras", "jax", "xla"), record("torch", "torch", "eager")]
    text = modes_markdown(records)
    assert f"- torch (torch) `compiled_step_graph`: {get_mode('torch', 'compiled_step_graph').meaning()}." in text
    assert "(CUDA only, timing only)" in text and get_mode("jax", "xla").runs in text
    assert text.count("\n- ") == 3 and "·tf32" not in text  # one line per mode present, once each
    # a chosen precision is a suffix of the report's mode column, not another mode
    precise = modes_markdown([record("torch", "torch", "eager", float32="tf32")])
    assert f"`eager`: {get_mode('torch', 'eager').meaning()}." in precise and "`MODE·tf32`" in precise


# -- runs that differ only in a setting are told apart, never averaged as seeds ------------------

REPLICATION = Path(__file__).parents[1] / "reports" / "replication"


def test_a_task_option_splits_rows_and_lines_rather_than_pooling_them():
    """recall trains each size on 5,000 and on 50,000 held-out sequences and on the source's sampled batches
    (task options n_train and protocol), 3 seeds each."""
    path = REPLICATION / "recall" / "records.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    table = accuracy_table(load_frame(path)[0])
    assert len(table) == 18 and (table.seeds == 3).all()  # 3 sizes × 2 frameworks × 3 data settings
    variants = {"n_train=50000, protocol=default": (50000, None), "n_train=default, protocol=default": (None, None),
                "n_train=default, protocol=sampled": (None, "sampled")}
    assert set(table["other settings"]) == set(variants)
    for row in table.to_dict("records"):
        wanted = [r["train"]["test_metric"] for r in records
                  if r["identity"]["framework"] == row["framework"] and row["model"].startswith(
                      f"L1 H{r['identity']['hidden_size']} ")
                  and (r["identity"]["task_options"].get("n_train"), r["identity"]["task_options"].get("protocol"))
                  == variants[row["other settings"]]]
        assert len(wanted) == 3
        assert abs(float(row["test (mean ± std)"].split(" ± ")[0]) - np.mean(wanted)) < PRINTED_TOL
    curves, _ = convergence_curves(RecordStore(path).load())
    lines = {line: runs for panel in curves["recall"].values() for line, runs in panel.items()}
    assert len(lines) == 9 and all(len(runs) == 3 for runs in lines.values())
    assert {variant for _, _, variant in lines} == set(variants)


def test_settings_labels_name_only_what_differs():
    a = run_settings.of({"batch_size": 64, "epochs": 5, "lr": 1e-3, "init": "framework",
                         "task_options": {"length": 5}})
    b = run_settings.of({"batch_size": 64, "epochs": 75, "lr": 1e-4, "init": "framework",
                         "task_options": {"length": 5, "loss": "sigmoid_mse"}})
    differing = run_settings.varying([a, b])
    assert differing == ["epochs", "lr", "option:loss"]
    assert run_settings.label(a, differing) == "epochs=5, lr=0.001, loss=default"
    assert run_settings.label(b, differing) == "epochs=75, lr=0.0001, loss=sigmoid_mse"
    assert run_settings.varying([a, a]) == []
