"""`bench report`: summary.md, results.csv and plots, computed from a records file alone.

Nothing is measured here; a report can be rebuilt at any time from the JSONL. The frame is
bench.report.frame, the tables bench.report.tables, the reading notes bench/report/templates/report_notes.md;
this module writes them out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tabulate import tabulate

from bench.plan.modes import get_mode
from bench.plan.jobs import JOB_DEFAULTS
from bench.records.schema import Record
from bench.report.frame import column, load_frame
from bench.report.lengths import compile_by_length, goal_table, length_studies, ratio_by_length, untimed_in
from bench.plan.modes import usual_mode
from bench.plan.suites import LONG_GOAL
from bench.report.tables import (MIB, TIMING_GROUP, _fmt_num, _shape, accuracy_table, cost_table,
                                 default_mode_pivots, host_table, overview_table, profile_table, ratio_pivots,
                                 time_spent_table, timing_table)

NOTES = (Path(__file__).parent / "templates" / "report_notes.md").read_text()  # "How to read this report"


_ENVIRONMENT_LABELS = [  # record field path under environment -> report label
    (("hostname",), "host"), (("cpu",), "CPU"), (("cpu_cores",), "cores"), (("device_name",), "device name"),
    (("threads", "intra_op"), "intra-op threads"), (("threads", "inter_op"), "inter-op threads"),
    (("versions", "python"), "python"), (("versions", "numpy"), "numpy"), (("versions", "torch"), "torch"),
    (("versions", "tensorflow"), "tensorflow"), (("versions", "tensorflow-cpu"), "tensorflow-cpu"),
    (("versions", "keras"), "keras"), (("versions", "jax"), "jax"), (("cuda",), "CUDA"), (("cudnn",), "cuDNN"),
    (("cuda_driver",), "NVIDIA driver"), (("cuda_capability",), "compute capability"),
    (("tf32", "matmul"), "TF32 in torch matmul"), (("tf32", "cudnn"), "TF32 in cuDNN"),
    (("tf32", "all"), "TF32 (TensorFlow)"), (("jax_matmul_precision",), "JAX matmul precision"),
    (("env", "OMP_WAIT_POLICY"), "OMP_WAIT_POLICY"), (("git", "commit"), "git commit"),
    (("git", "dirty"), "uncommitted changes"), (("source_digest",), "source digest"),
]
ENV_COLUMNS = {column("environment", *path): label for path, label in _ENVIRONMENT_LABELS}  # frame column -> label


def modes_markdown(records: list[Record]) -> str:
    """What each mode in these records runs, one line per backend and mode present.

    Read from the identities, not the report's mode column, which carries a chosen float32
    precision (mode_label); a line after the modes says what that suffix means.
    """
    jobs = [record.job for record in records]
    lines = ["The modes in these records:", ""]
    for framework, backend, mode in sorted({(job.framework, job.backend, job.mode) for job in jobs}):
        lines.append(f"- {framework} ({backend}) `{mode}`: {get_mode(backend, mode).meaning()}.")
    if any(job.float32 != JOB_DEFAULTS["float32"] for job in jobs):
        lines += ["", "A mode shown as `MODE·tf32` or `MODE·fp32` ran with that float32 precision for the cell "
                      "and its native layer alike (`--float32`; the Environment table reads the switches back)."]
    return "\n".join(lines)


def plugins_table(records: list[Record]) -> str:
    """Each plugin file the records were made with: its digest, its cells and how many jobs ran it."""
    seen: dict[tuple[str, str | None], dict[str, Any]] = {}
    for record in records:
        for plugin in record.environment.plugins or []:
            entry = seen.setdefault((plugin["source"], plugin["sha256"]), {"cells": plugin["cells"], "jobs": 0})
            entry["jobs"] += record.job.cell in plugin["cells"]
    rows = [[f"`{source}`", f"`{digest}`" if digest else "—", ", ".join(sorted(entry["cells"])), entry["jobs"]]
            for (source, digest), entry in sorted(seen.items())]
    return tabulate(rows, headers=["plugin", "sha256", "cells", "jobs of its cells"], tablefmt="github") if rows else ""


def _ratio_text(ratio: Any, iqr: Any) -> str:
    text = _fmt_num(ratio)
    return text + (f" ({iqr:.2g})" if iqr is not None and pd.notna(iqr) else "")


def _timing_markdown(summary: pd.DataFrame) -> str:
    rows = []
    for _, r in summary.sort_values(TIMING_GROUP + ["cell"]).iterrows():
        rows.append([r.cell + (" (native)" if r.native else ""), r.framework, r.backend, r["mode"], r.device, _shape(r),
                     f"{r.train_ms:.3g} ({r.train_iqr:.2g})", _ratio_text(r.train_ratio, r.train_ratio_iqr),
                     f"{r.infer_ms:.3g} ({r.infer_iqr:.2g})", _ratio_text(r.infer_ratio, r.infer_ratio_iqr),
                     r.ratio_method,
                     _fmt_num(r.throughput, 4), _fmt_num(r.compile_s), int(r.n),
                     _fmt_num(r.peak / MIB if pd.notna(r.peak) else None, 4),
                     r.native_path.split(": ")[0] if isinstance(r.native_path, str) else ""])
    return tabulate(rows, tablefmt="github", headers=[
        "cell", "framework", "backend", "mode", "device", "shape", "train ms (IQR)", "train × native",
        "infer ms (IQR)", "infer × native", "ratio", "train seq/s", "compile s", "n", "peak MiB", "native path"])


def _pivot_markdown(pivot: pd.DataFrame) -> str:
    rows = [[cell] + [_fmt_num(v) if pd.notna(v) else "—" for v in values] for cell, values in pivot.iterrows()]
    return tabulate(rows, headers=["cell", *pivot.columns], tablefmt="github")


def _frame_markdown(frame: pd.DataFrame, numparse: bool = True) -> str:
    """A table's rows under its column names; `numparse=False` prints the cells' text exactly as made."""
    return tabulate(frame.values.tolist(), headers=list(frame.columns), tablefmt="github",
                    disable_numparse=not numparse)


def _pivot_section(heading: str, intro: str, pivots: list[tuple[str, pd.DataFrame]]) -> list[str]:
    """A report section of cell-by-shape tables, one per title; nothing when there are none."""
    if not pivots:
        return []
    lines = [heading, "", intro, ""]
    for title, pivot in pivots:
        lines += [f"### {title}", "", _pivot_markdown(pivot), ""]
    return lines


def _accuracy_markdown(table: pd.DataFrame) -> str:
    # the initialiser and the other settings are shown where some job differs from the default
    quiet = [c for c, default in (("init", "framework"), ("other settings", "")) if (table[c] == default).all()]
    visible = table.drop(columns=[c for c in table.columns if c.startswith("_")] + quiet)
    return _frame_markdown(visible.sort_values(["task", "framework", "mode", "cell"]))  # stable: group order stays


def failures_table(flat: pd.DataFrame) -> str:
    bad = flat[flat.status != "ok"]
    rows = [[r.job_id, r.cell, r.framework, r["mode"], r.measure, r.task, f"H{r.hidden_size}", f"{r.lr:g}", r.status,
             (str(r.error).strip().splitlines() or [""])[0][:160]] for _, r in bad.iterrows()]
    return tabulate(rows, headers=["job", "cell", "framework", "mode", "measure", "task", "size", "lr", "status",
                                   "error"], tablefmt="github")


def environment_table(flat: pd.DataFrame) -> str:
    present = {c: label for c, label in ENV_COLUMNS.items() if c in flat}
    env = flat[list(present)].map(lambda v: "—" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    env = env.drop_duplicates().rename(columns=present)
    rows = [[label] + env[label].tolist() for label in env.columns if (env[label] != "—").any()]
    return tabulate(rows, headers=["", *[f"setting {i + 1}" for i in range(len(env))]], tablefmt="github")


def _length_section(studies: list[tuple[str, pd.DataFrame, pd.DataFrame]]) -> list[str]:
    """Where one model shape was timed at several sequence lengths: what T does to compile time and to the ratio.

    `studies`: (title, its timed rows, its jobs not timed) per study.
    """
    lines: list[str] = []
    for title, rows, untimed in studies:
        lines += [f"### Against sequence length, {title}", "",
                  "Compile time in seconds at each sequence length T, per framework and mode: the custom cells' "
                  "median (range), the native layer's, and the jobs that were not timed (a `timeout` ran past the "
                  "suite's per-job limit; a job whose same job at a shorter T timed out is recorded without being "
                  "started; `incorrect` failed its correctness gate).", "",
                  _frame_markdown(compile_by_length(rows, untimed), numparse=False), "",
                  "Training step ÷ the native layer's in the same mode (paired, in one job), at each T: the custom "
                  "cells' median (range) and how many are at most 1.", "",
                  _frame_markdown(ratio_by_length(rows, untimed), numparse=False), ""]
        as_used = ratio_by_length(rows, untimed, "train_ratio_to_usual")
        if not as_used.empty:
            lines += ["Training step ÷ the native layer as users run it (its framework's default mode: torch eager, "
                      "Keras graph), at each T: paired where the job timed that layer too, else cross-job "
                      "(*Compiled cells against the native layer as it usually runs* says which). A same-mode ratio "
                      "can hide that a whole mode is slow; this one cannot.", "",
                      _frame_markdown(as_used, numparse=False), ""]
    return lines


def _goal_section(studies: list[tuple[str, pd.DataFrame, pd.DataFrame]]) -> list[str]:
    """The long suite's verdicts: per custom cell and length of each length study (as _length_section's), whether
    one of the goal's compiled modes meets it, and which."""
    lines: list[str] = []
    for title, rows, untimed in studies:
        goal = goal_table(rows, untimed)
        if not goal.empty:
            lines += [f"### The goal at every length, {title}", "",
                      f"Per custom cell and T: the {LONG_GOAL.framework} compiled mode that trains fastest against "
                      f"the native layer as users run it ({usual_mode(LONG_GOAL.framework).name}), among those timed "
                      f"correct there that compile in under {LONG_GOAL.compile_s:g} s and are no slower than the "
                      "cell's own eager loop (both ratios divided by that native layer, each paired in its own "
                      f"job); *met* where its ratio is at most {LONG_GOAL.ratio:g}×. Where no mode qualifies, what "
                      "each missed.", "",
                      _frame_markdown(goal, numparse=False), ""]
    return lines


def write_report(records_path: str | Path, out_dir: str | Path) -> dict[str, Any]:
    """Write summary.md, results.csv and the plots into `out_dir`; returns what was written."""
    from bench.report import plots

    records_path, out_dir = Path(records_path), Path(out_dir)
    flat, records = load_frame(records_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / "results.csv"
    public = flat.drop(columns=[c for c in flat.columns if c.startswith("_")])
    public.sort_values(["measure", "task", "framework", "mode", "cell", "seed"]).to_csv(csv_path, index=False)

    accuracy = accuracy_table(flat)
    timing = timing_table(flat)
    studies = length_studies(timing)
    images = plots.write_all(records, accuracy, timing, out_dir) + plots.against_length(studies, out_dir)
    untimed_by_study = [(title, rows, untimed_in(flat, rows)) for title, rows in studies]

    statuses = flat.status.value_counts().to_dict()
    started = sorted(flat.started_at)
    failed = int((flat.status != "ok").sum())
    lines = [
        "# rnnbench report", "",
        f"Records: `{records_path.name}` ({len(flat)} jobs, {started[0]} to {started[-1]} UTC). "
        "Status: " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())) + "."
        + (f" The {failed} jobs not ok are listed under *Failed jobs* and left out of the tables." if failed else ""),
        "",
    ]
    if not timing.empty:
        overview, costs = overview_table(timing), cost_table(timing)
        lines += ["## At a glance: custom cells against their native layer", ""]
        if not overview.empty:
            lines += ["Each custom cell's step time ÷ its native layer's, per framework, mode, device and step: how "
                      "many cell × shape ratios are at most 1.0, their median and range. Where *step IQR ÷ median* "
                      "or *ratio IQR* is large, read the ratios as within the noise.", "",
                      _frame_markdown(overview, numparse=False), ""]
        lines += _goal_section(untimed_by_study)
    if not accuracy.empty:
        lines += ["## Accuracy", "", _accuracy_markdown(accuracy), ""]
    if not timing.empty:
        lines += ["## Compile time and memory", "",
                  "Compile time (a step's first call minus its steady-state median) and peak memory, the median "
                  "over the jobs: the custom cells beside the native layers.", "",
                  _frame_markdown(costs, numparse=False), ""]
        lines += _length_section(untimed_by_study)
        lines += ["## Step time", "", "Milliseconds per step (median, IQR in brackets).", "",
                  _timing_markdown(timing), ""]
        lines += _pivot_section(
            "## Ratio to the native layer, by shape",
            "The *× native* column above, one table per framework, mode and device: rows are the custom cells, "
            "columns the shapes (B batch, T steps, I features, H units); below 1 the cell is faster than its "
            "native layer.",
            ratio_pivots(timing, "train") + ratio_pivots(timing, "infer"))
        lines += _pivot_section(
            "## Compiled cells against the native layer as it usually runs",
            "Each custom cell in a compiled mode divided by its native layer in the framework's default mode "
            "(torch: eager `nn.GRU`/`LSTM`/`RNN`, cuDNN on a GPU), same shape. *paired* where the cell's job also "
            "timed that native layer, interleaved, in its process; *cross-job* otherwise: the fastest round of each, "
            "from different jobs timed at different moments, noisier than a paired ratio.",
            default_mode_pivots(timing))
    profiles = profile_table(records)
    if not profiles.empty:
        lines += ["## Profile", "",
                  "Jobs run with `--profile`: a few steps of each kind under torch.profiler after the timed "
                  "steps. *per step* counts the CUDA kernels a step launched (ATen operators on CPU), *ms per "
                  "step* is their summed device time (CPU time on CPU), beside the native layer's from the same "
                  "job; *busy* is that time as a share of the step's timed median (far below 100% on a GPU: the "
                  "device waits for the host, so the step's time is the host's); the most expensive kernels are "
                  "listed with their calls per step.", "",
                  _frame_markdown(profiles.sort_values(["framework", "mode", "shape", "cell", "step"])), ""]
        hosts = host_table(records)
        if not hosts.empty:
            lines += ["### The host's side of the same steps", "",
                      "Wall time per step while profiled (the profiler adds its own overhead), and the host calls "
                      "that held the most CPU time per step, inclusive of what they called (so they nest: an "
                      "optimizer step contains its foreach ops). Where recorded, the training step's wall time "
                      "split by phase, clocked on the host without the profiler and without a device sync inside "
                      "the step: the time to issue each phase, then *device_wait*, the wait for the device at "
                      "the end (small when the host holds the step, large when the device does).", "",
                      _frame_markdown(hosts.sort_values(["framework", "mode", "shape", "cell", "step"])), ""]
    if images:
        lines += ["## Plots", ""] + [f"![{p.stem}]({p.name})" for p in images] + [""]
    if (flat.status != "ok").any():
        lines += ["## Failed jobs", "", failures_table(flat), ""]
    plugins = plugins_table(records)
    if plugins:
        lines += ["## Plugins", "", "Cells registered from files outside the project (`--plugin`), as each record names "
                  "them: a changed file has another digest.", "", plugins, ""]
    lines += ["## Where the time went", "",
              "Each job's wall time (its `duration_s`: process, data, compiling, training, timing) summed per "
              "framework, mode, device and measure, and the compiling inside it: every timed step's first call minus "
              "its steady median, the cell's and the native layers' timed beside it.", "",
              _frame_markdown(time_spent_table(flat), numparse=False), ""]
    lines += [NOTES, modes_markdown(records), ""]
    lines += ["## Environment", "", environment_table(flat), ""]
    summary_path = out_dir / "summary.md"
    summary_path.write_text("\n".join(lines))
    return {"summary": summary_path, "csv": csv_path, "plots": images,
            "files": [summary_path, csv_path, *images]}
