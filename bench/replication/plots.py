"""The replication reports' own plots: bit accuracy against input length, training-loss curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench.plan.config import FRAMEWORKS  # noqa: E402
from bench.records.schema import Record  # noqa: E402
from bench.report.plots import save_figure  # noqa: E402


def length_plot(curve: pd.DataFrame, out_dir: Path) -> Path:
    losses = sorted(curve.loss.unique())
    fig, axes = plt.subplots(len(losses), len(FRAMEWORKS), figsize=(12, 4.5 * len(losses)), sharey=True,
                             squeeze=False)
    for (loss, framework), ax in zip(((l, f) for l in losses for f in FRAMEWORKS), axes.flat):
        part = curve[(curve.framework == framework) & (curve.loss == loss)]
        for (cell, hidden, epochs), group in part.groupby(["cell", "hidden_size", "epochs"]):
            stats = group.groupby("length").bit_accuracy.agg(["mean", "std"]).fillna(0.0)
            ax.plot(stats.index, stats["mean"], marker="o", markersize=3, label=f"{cell} H{hidden}, {epochs} epochs",
                    linestyle="-" if epochs == part.epochs.max() else ":")
            ax.fill_between(stats.index, stats["mean"] - stats["std"], stats["mean"] + stats["std"], alpha=0.15)
        ax.set_title(f"{framework}, {loss} loss")
        ax.set_xlabel("input length (bits; trained on 5)")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    for row in axes:
        row[0].set_ylabel("bit accuracy (mean over seeds, band ±1 std)")
    fig.suptitle("binary addition: bit accuracy against input length")
    return save_figure(fig, out_dir / "bit_accuracy_vs_length.png")


def loss_curve_plot(records: list[Record], out_dir: Path) -> Path:
    fig, axes = plt.subplots(1, len(FRAMEWORKS), figsize=(12, 4.5), sharey=True, squeeze=False)
    for ax, framework in zip(axes[0], FRAMEWORKS):
        by_cell: dict[str, list[list[float]]] = {}
        for r in records:
            if r.job.framework == framework:
                by_cell.setdefault(r.job.cell, []).append([e.train_loss for e in r.train.epochs])
        for cell, curves in sorted(by_cell.items()):
            length = min(map(len, curves))
            mean = np.mean([c[:length] for c in curves], axis=0)
            ax.plot(np.arange(1, length + 1), mean, label=cell, linestyle="--" if cell == "gru4" else "-")
        ax.set_yscale("log")
        ax.set_title(framework)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="small")
    axes[0][0].set_ylabel("training loss (MSE, mean over the epoch's batches)")
    fig.suptitle("random noise: training loss per epoch (dashed: native GRU, gru4)")
    return save_figure(fig, out_dir / "train_loss_curves.png")
