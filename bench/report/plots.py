"""Report plots with matplotlib: convergence, step time per cell, accuracy against parameters."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never open a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench.plan import settings as run_settings  # noqa: E402
from bench.records.schema import Record  # noqa: E402
from bench.report.frame import is_native, mode_label  # noqa: E402

NATIVE_COLOR, CUSTOM_COLOR = "tab:red", "tab:blue"
LEGEND_COLUMN_CHARS = 36  # the longest line label that still fits in two legend columns under a 6.5-inch panel


def save_figure(fig, path: Path) -> Path:
    """Lay out, write and close a figure (every report plot goes through here, at one resolution)."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def convergence_curves(records: list[Record]) -> tuple[dict, dict[str, str]]:
    """({task: {panel: {(cell, size, settings label): [validation curve per seed]}}}, {task: metric}).

    A panel is (framework, backend, mode, device). Runs of one cell and size that differ in
    lr, epochs, initialiser or a task option are separate lines, labelled by what differs.
    """
    trained = [r for r in records if r.status == "ok" and r.train and r.train.epochs]
    settings = {r.job_id: run_settings.of(r.identity) for r in trained}
    curves: dict[str, dict[tuple, dict[tuple, list[list[float]]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    metric_of: dict[str, str] = {}
    for task in sorted({r.job.task for r in trained}):
        of_task = [r for r in trained if r.job.task == task]
        differing = run_settings.varying([settings[r.job_id] for r in of_task])
        for record in of_task:
            job, train = record.job, record.train
            panel = (job.framework, job.backend, mode_label(record.identity), job.device)
            size = f"L{job.num_layers}H{job.hidden_size}" + ("bi" if job.bidirectional else "")
            line = (job.cell, size, run_settings.label(settings[record.job_id], differing))
            curves[task][panel][line].append([e.val_metric for e in train.epochs])
            metric_of[task] = train.metric
    return curves, metric_of


def convergence(records: list[Record], out_dir: Path) -> list[Path]:
    """Per task: validation metric per epoch, mean over seeds with a ±1 std band, one panel per framework/mode."""
    curves, metric_of = convergence_curves(records)
    paths = []
    for task, panels in sorted(curves.items()):
        sizes = {size for by_cell in panels.values() for _, size, _ in by_cell}
        # one colour per line (cell, size, settings) across the panels, so a line means the same thing in each
        keys = sorted({key for by_cell in panels.values() for key in by_cell})
        color_of = dict(zip(keys, plt.get_cmap("tab20")(np.linspace(0, 1, max(len(keys), 2)))))
        names = {key: (key[0] if len(sizes) == 1 else f"{key[0]} {key[1]}") + (f", {key[2]}" if key[2] else "")
                 for key in keys}
        # each panel's legend sits below it, so many lines never cover the curves: two columns, or one
        # where the labels (with their settings) are too long for two to fit under a panel
        columns = 2 if max(len(name) for name in names.values()) <= LEGEND_COLUMN_CHARS else 1
        legend_rows = -(-max(len(by_cell) for by_cell in panels.values()) // columns)
        fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.5 + 0.2 * legend_rows), squeeze=False,
                                 sharey=True)
        for ax, (panel, by_cell) in zip(axes[0], sorted(panels.items())):
            for (cell, size, variant), runs in sorted(by_cell.items()):
                color = color_of[(cell, size, variant)]
                length = min(len(r) for r in runs)
                data = np.array([r[:length] for r in runs], dtype=float)
                epochs = np.arange(1, length + 1)
                mean, std = data.mean(axis=0), data.std(axis=0)
                name = names[(cell, size, variant)]
                ax.plot(epochs, mean, marker="o", markersize=3, label=name, color=color,
                        linestyle="--" if is_native(cell) else "-")
                ax.fill_between(epochs, mean - std, mean + std, alpha=0.15, color=color)
            ax.set_title(f"{panel[0]} ({panel[1]}, {panel[2]}, {panel[3]})")
            ax.set_xlabel("epoch")
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.grid(alpha=0.3)
            # each panel's own lines: panels may hold different sizes
            ax.legend(fontsize="x-small", ncol=columns, loc="upper center", bbox_to_anchor=(0.5, -0.14))
        axes[0][0].set_ylabel(f"validation {metric_of[task]}")
        fig.suptitle(f"{task}: convergence (mean over seeds, band ±1 std; dashed: native layers)")
        paths.append(save_figure(fig, out_dir / f"convergence_{_slug(task)}.png"))
    return paths


def step_time(timing: pd.DataFrame, out_dir: Path) -> list[Path]:
    """Per shape: training-step median per cell (q1..q3 as error bar), native layers in red, one panel per mode."""
    if timing.empty:
        return []
    paths = []
    shape_cols = ["device", "batch_size", "seq_len", "input_size", "hidden_size", "num_layers", "bidirectional"]
    for shape, group in timing.groupby(shape_cols, dropna=False):
        panels = list(group.groupby(["framework", "backend", "mode"]))
        fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 0.35 * group.cell.nunique() + 2),
                                 squeeze=False)
        for ax, ((framework, backend, mode), rows) in zip(axes[0], panels):
            rows = rows.sort_values("cell")
            colors = [NATIVE_COLOR if native else CUSTOM_COLOR for native in rows.native]
            spread = [rows.train_ms - rows.train_q1, rows.train_q3 - rows.train_ms]  # the IQR around the median
            ax.barh(rows.cell, rows.train_ms, xerr=spread, color=colors, alpha=0.8)
            for _, r in rows[rows.native].iterrows():  # mark the native layer's time across the panel
                ax.axvline(r.train_ms, color=NATIVE_COLOR, linestyle=":", linewidth=1)
            ax.set_title(f"{framework} ({backend}, {mode})", fontsize="medium")
            ax.set_xlabel("training step, ms (median)")
            ax.invert_yaxis()
            ax.grid(axis="x", alpha=0.3)
        device, batch, steps, features, hidden, layers, bidir = shape
        inputs = f"I{features}" if features else "tokens"  # 0: token ids, no feature axis
        title = f"{device}: B{batch} T{steps} {inputs} H{hidden}" + (f" L{layers}" if layers != 1 else "") + \
            (" bidirectional" if bidir else "")
        fig.suptitle(f"step time, {title} (red: native layer, dotted: its time)")
        paths.append(save_figure(fig, out_dir / f"step_time_{_slug(title)}.png"))
    return paths


def accuracy_vs_params(accuracy: pd.DataFrame, out_dir: Path) -> list[Path]:
    """Per task: mean test metric against parameter count, one marker per framework."""
    if accuracy.empty:
        return []
    paths = []
    markers = {"torch": "o", "keras": "s"}
    for task, group in accuracy.groupby("task"):
        fig, ax = plt.subplots(figsize=(7, 5))
        differing = run_settings.varying(list(group._settings))
        for framework, rows in group.groupby("framework"):
            ax.scatter(rows._params, rows._test_mean, marker=markers.get(framework, "^"), label=framework, alpha=0.8)
            for _, r in rows.iterrows():
                variant = run_settings.label(r._settings, differing)
                ax.annotate(r.cell + (f", {variant}" if variant else ""), (r._params, r._test_mean),
                            fontsize="x-small", xytext=(3, 3), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel("parameters (whole model, from the framework)")
        ax.set_ylabel(f"test {group.metric.iloc[0]} (mean over seeds)")
        ax.set_title(f"{task}: accuracy against parameter count")
        ax.grid(alpha=0.3)
        ax.legend()
        paths.append(save_figure(fig, out_dir / f"accuracy_vs_params_{_slug(task)}.png"))
    return paths


def write_all(records: list[Record], accuracy: pd.DataFrame, timing: pd.DataFrame, out_dir: Path) -> list[Path]:
    """Every plot; returns the files written."""
    return convergence(records, out_dir) + step_time(timing, out_dir) + accuracy_vs_params(accuracy, out_dir)


def against_length(studies: list[tuple[str, pd.DataFrame]], out_dir: Path) -> list[Path]:
    """Per model shape timed at several T: compile time and training step against T, one line per mode.

    A solid line is the custom cells' median (band: their range), the dotted line of the same colour the
    native layer in that mode; a mode whose custom cells were not timed at some T has no point there.
    """
    paths = []
    for title, rows in studies:
        fig, (compile_ax, step_ax) = plt.subplots(1, 2, figsize=(13, 5))
        colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for i, ((framework, backend, mode), group) in enumerate(rows.groupby(["framework", "backend", "mode"])):
            color = colors[i % len(colors)]
            for ax, column in ((compile_ax, "compile_s"), (step_ax, "train_ms")):
                for native, style in ((False, "-"), (True, ":")):
                    part = group[(group.native == native) & (group[column] > 0)]  # log axes: eager's 0 s is no point
                    if part.empty:
                        continue
                    by_t = part.groupby("seq_len")[column].agg(["median", "min", "max"])
                    label = f"{framework} {mode}" + (" native" if native else "")
                    ax.plot(by_t.index, by_t["median"], style, marker="o", color=color, label=label)
                    if not native:
                        ax.fill_between(by_t.index, by_t["min"], by_t["max"], color=color, alpha=0.15)
        for ax, what in ((compile_ax, "compile time, s"), (step_ax, "training step, ms (median)")):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("sequence length T")
            ax.set_ylabel(what)
            ax.grid(alpha=0.3, which="both")
        step_ax.legend(fontsize="x-small", ncol=2)
        fig.suptitle(f"against sequence length, {title} (solid: custom cells' median and range; dotted: native)")
        paths.append(save_figure(fig, out_dir / f"against_length_{_slug(title)}.png"))
    return paths
