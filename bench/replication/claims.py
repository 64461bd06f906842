"""The replication report's tables of qualitative claims and ablations, and the number formats they share.

A claim's table puts our scores (or loss curves) for the cells a source's claim is about beside the
source's own numbers; an ablation's table puts the runs it copies beside its own, per model and framework.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from bench.plan import settings as run_settings
from bench.plan.config import FRAMEWORKS  # the column order of every side-by-side table
from bench.records.schema import Record
from bench.replication.experiment import Ablation, Claim

LR_RTOL = 1e-9  # learning rates are matched as floats
# identity columns that do not tell one ablated model from another: the ablation pairs runs across them
ABLATION_PAIRED_OVER = ("seed", "framework", "backend", "mode", "float32")
LABELLED_KEYS = ("cell", "num_layers", "hidden_size", "bidirectional")  # always in an ablated model's label
# rows_frame's columns that are results, not identity
MADE_BY = "made_by"  # rows_frame's column: the commit whose code made the run, None where no commit holds it
# what a run measured or how it came about, never a setting that tells runs apart
SCORE_COLUMNS = ("metric", "test", "val", "loss_first", "loss_last", "duration_s", MADE_BY)
TASK_OPTION_COLUMN = "task_options."  # rows_frame's prefix of a task option's column
LOSS_DRIFT = "training-loss gap of one seed, first → last epoch"  # ablation columns of runs from one start
NOT_RUN = "not run"


def match_reference(frame: pd.DataFrame, task: str, cell: str, where: tuple[tuple[str, Any], ...]) -> pd.DataFrame:
    """The rows of `frame` (one per job, identity columns) that a published number stands beside."""
    if frame.empty:
        return frame
    mask = (frame.task == task) & (frame.cell == cell)
    for key, value in where:
        if value is None:  # the option was not given: the column is absent or empty in those rows
            mask &= frame[key].isna() if key in frame else True
            continue
        if key not in frame:
            return frame.iloc[0:0]
        column = frame[key]
        if isinstance(value, float):
            mask &= np.isclose(column.astype(float), value, rtol=LR_RTOL, atol=0.0)
        else:
            mask &= column.map(lambda v, want=value: _same(v, want))
    return frame[mask]


def _same(value: Any, want: Any) -> bool:
    if isinstance(want, (list, tuple)):
        return isinstance(value, (list, tuple)) and list(value) == list(want)
    return value == want


def pct(value: float | None) -> str:
    return "—" if value is None or not np.isfinite(value) else f"{100 * value:.2f}%"


def mean_std(values: pd.Series) -> tuple[float, float]:
    values = values.astype(float)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def mean_pm(mean: float, std: float, seeds: int) -> str:
    """"mean% ± std" in percentage points; a single seed has no spread to show."""
    return f"{pct(mean)} ± {100 * std:.2f}" if seeds > 1 else f"{pct(mean)} ± —"


def claim_table(claim: Claim, frame: pd.DataFrame, records: list[Record], loss_curves: bool) -> pd.DataFrame:
    """Our numbers for the cells a qualitative claim is about, per framework (the source's own first, if typed)."""
    rows = [{"framework": "published (source)", "cell": cells, **{f"epoch {e}": value for e, value in values}}
            for cells, values in claim.published_losses]
    for framework in FRAMEWORKS:
        if not loss_curves:
            rows += _claim_score_rows(claim, frame, framework)
            continue
        for cell in claim.cells:
            curves = [[e.train_loss for e in r.train.epochs] for r in records
                      if r.job.cell == cell and r.job.framework == framework]
            if not curves:
                rows.append({"framework": framework, "cell": cell, "train loss, epoch 1": NOT_RUN})
                continue
            curve = np.mean([c[:min(map(len, curves))] for c in curves], axis=0)
            if claim.epochs:  # the epochs the source reported, e.g. 20 and 50
                row = {"framework": framework, "cell": cell, "train loss, epoch 1": f"{curve[0]:.4f}"}
                row.update({f"epoch {e}": f"{curve[e - 1]:.4f}" if e <= len(curve) else NOT_RUN
                            for e in claim.epochs})
                first, last = claim.epochs[0], min(claim.epochs[-1], len(curve))
                row[f"drop, epoch {first} → {last}"] = f"{100 * (1 - curve[last - 1] / curve[first - 1]):.1f}%"
                rows.append({**row, "seeds": len(curves)})
                continue
            third = max(1, len(curve) // 3)
            rows.append({"framework": framework, "cell": cell, "train loss, epoch 1": f"{curve[0]:.4f}",
                         f"epoch {len(curve) - third}": f"{curve[-third - 1]:.4f}",
                         f"epoch {len(curve)}": f"{curve[-1]:.4f}",
                         "drop over the last third": f"{100 * (1 - curve[-1] / curve[-third - 1]):.1f}%",
                         "seeds": len(curves)})
    ours = rows[len(claim.published_losses):]  # the columns in our rows' order; the published rows fill some
    return pd.DataFrame(rows, columns=list(dict.fromkeys([key for row in ours + rows for key in row])))


def _claim_groups(claim: Claim, frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The values of `claim.per` our rows hold, each a row group, in order; one pooled group without `per`."""
    if not claim.per or frame.empty or not set(claim.per) <= set(frame.columns):
        return [{}]
    values = frame[list(claim.per)].drop_duplicates().sort_values(list(claim.per))
    return [dict(zip(claim.per, row)) for row in values.itertuples(index=False)]


def _claim_score_rows(claim: Claim, frame: pd.DataFrame, framework: str) -> list[dict[str, Any]]:
    """Per group of `claim.per`, per cell: its test score in one framework, and its gap to the baseline's."""
    rows = []
    for group in _claim_groups(claim, frame):
        inside = frame
        if not frame.empty:
            mask = frame.framework == framework
            for key, value in group.items():
                mask &= frame[key] == value
            inside = frame[mask]
        for cell in claim.cells:
            ours = inside[inside.cell == cell] if not inside.empty else inside
            if ours.empty:
                rows.append({"framework": framework, **group, "cell": cell, "ours (mean ± std)": NOT_RUN})
                continue
            mean, std = mean_std(ours.test)
            row = {"framework": framework, **group, "cell": cell, "metric": f"{ours.metric.iloc[0]} (test)",
                   "ours (mean ± std)": mean_pm(mean, std, len(ours)), "seeds": len(ours)}
            base = inside[inside.cell == claim.baseline]
            if claim.baseline and not base.empty:
                row[f"− {claim.baseline}"] = f"{100 * (mean - base.test.astype(float).mean()):+.2f} pp"
            rows.append(row)
    return rows


def ablation_table(ablation: Ablation, copied: pd.DataFrame, ablated: pd.DataFrame,
                   failed: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per ablated model: each framework's test score in the runs the ablation copies and in the ablation's.

    `copied` holds the copied runs (`ablation.copies`: the experiment's own, or another ablation's),
    `ablated` the ablation's (`ablation.holds`), rows_frame of each; `failed` (failed_frame) the runs on
    either side that ended without a score, named where a side has none; a model is every identity column
    but the seed, the framework's own fields and the ablated field. *keras − torch* is the gap between
    the frameworks' means on each side.
    """
    if ablated.empty:
        return pd.DataFrame()
    model_keys = [c for c in ablated.columns if c not in (*ABLATION_PAIRED_OVER, ablation.field, *SCORE_COLUMNS)]
    # other fields that tell the ablated models apart (e.g. two learning rates) go into the label
    # compared as repr text: a task option may hold a list (unhashable), and an option not given is NaN
    as_text = ablated[model_keys].map(repr)
    varying = [k for k in model_keys if as_text[k].nunique() > 1 and k not in LABELLED_KEYS]
    copied_setting = "/".join(sorted(copied[ablation.field].astype(str).unique())) if not copied.empty else "as run"
    rows = []
    for _, runs_of_model in ablated.groupby(as_text.apply(tuple, axis=1), sort=False):
        model = {key: _none_if_missing(value) for key, value in runs_of_model.iloc[0][model_keys].items()}
        # the other differing fields as the harness report names them ("lr=0.0001", "loss=default")
        differing = run_settings.label({_settings_key(key): value for key, value in model.items()},
                                       [_settings_key(key) for key in varying])
        row = {"model": f"{model['cell']} {model['num_layers']}×{model['hidden_size']}"
                        + (" bidirectional" if model.get("bidirectional") else "")
                        + (f", {differing}" if differing else "")}
        for setting, runs, runs_value in (
                (f"{ablation.field}={copied_setting}", _same_model(copied, model), ablation.base_setting[ablation.field]),
                (f"{ablation.field}={ablation.value}", _same_model(ablated, model), ablation.value)):
            means = {}
            for framework in FRAMEWORKS:
                scores = runs[runs.framework == framework].test if not runs.empty else pd.Series(dtype=float)
                if scores.empty:
                    lost = _same_model(failed, model) if failed is not None and not failed.empty else pd.DataFrame()
                    lost = lost[(lost.framework == framework) & (lost[ablation.field] == runs_value)] \
                        if not lost.empty else lost
                    row[f"{framework}, {setting}"] = (
                        "no score: " + ", ".join(f"{n} {s}" for s, n in sorted(lost.status.value_counts().items()))
                        if len(lost) else NOT_RUN)
                    continue
                mean, std = mean_std(scores)
                means[framework] = mean
                row[f"{framework}, {setting}"] = mean_pm(mean, std, len(scores))
            both = len(means) == len(FRAMEWORKS)
            gap = round(100 * (means["keras"] - means["torch"]), 2) + 0.0 if both else None  # + 0.0: no "-0.00"
            row[f"keras − torch, {setting}"] = "—" if gap is None else f"{gap:+.2f} pp"
            if not runs.empty and (runs.init == "shared").all():  # one start in both: where do they part?
                row[f"{LOSS_DRIFT}, {setting}"] = _loss_drift(runs)
        if ablation.same_start:  # from one start the frameworks should follow one trajectory: how far apart?
            row[f"largest gap of one seed, {ablation.field}={ablation.value}"] = _largest_seed_gap(
                _same_model(ablated, model))
        rows.append(row)
    return pd.DataFrame(rows)


def _largest_seed_gap(runs: pd.DataFrame) -> str:
    """The largest |keras − torch| test score over the seeds both frameworks ran, in percentage points."""
    gaps = _seed_gaps(runs, "test", relative=False)
    return "—" if gaps.empty else f"{100 * gaps.max():.2f} pp"


def _loss_drift(runs: pd.DataFrame) -> str:
    """The largest relative |keras − torch| mean training loss over the seeds both ran, in the first and the
    last epoch: two runs from one start on the same batches differ only by what each framework computes
    differently, and a difference in the first epoch that grows by the last is chaos amplifying it."""
    first, last = (_seed_gaps(runs, column, relative=True) for column in ("loss_first", "loss_last"))
    return "—" if first.empty or last.empty else f"{first.max():.1e} → {last.max():.1e}"


def _seed_gaps(runs: pd.DataFrame, column: str, relative: bool) -> pd.Series:
    """|keras − torch| of `column` per seed both frameworks ran (relative: divided by |keras|); empty if none."""
    per_seed = runs.pivot_table(index="seed", columns="framework", values=column, aggfunc="first")
    if not set(FRAMEWORKS) <= set(per_seed.columns):
        return pd.Series(dtype=float)
    gaps = (per_seed["keras"] - per_seed["torch"]).abs()
    return (gaps / per_seed["keras"].abs() if relative else gaps).dropna()


def _same_model(frame: pd.DataFrame, model: dict[str, Any]) -> pd.DataFrame:
    """The rows of `frame` whose identity columns hold `model`'s values (None matches a missing value)."""
    where = tuple((key, value) for key, value in model.items() if key not in ("task", "cell"))
    return match_reference(frame, model["task"], model["cell"], where)


def _settings_key(column: str) -> str:
    """A rows_frame column under bench.plan.settings' name ("task_options.loss" -> "option:loss")."""
    return column.replace(TASK_OPTION_COLUMN, run_settings.OPTION_PREFIX, 1)


def _none_if_missing(value: Any) -> Any:
    """A frame cell's value, with pandas' NaN for "not given" turned into None (match_reference's spelling)."""
    return None if isinstance(value, float) and np.isnan(value) else value
