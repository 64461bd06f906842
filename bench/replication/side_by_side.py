"""The replication report: our numbers beside the published ones, computed from records alone.

`write_replication_report` writes the harness's own report (results.csv, plots, the
standard tables) into the experiment's folder and puts the side-by-side section on top
of summary.md: one row per published number and framework, "published (source)" beside
"ours" (mean ± std over seeds), the qualitative claims with our numbers, and for
binary addition the bit accuracy against input length.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tabulate import tabulate

from bench import run_settings
from bench.config import FRAMEWORKS  # the column order of every side-by-side table
from bench.records import RecordStore, latest_by_job
from bench.replication.experiment import SETTING_FIELDS, Ablation, Claim, Experiment
from bench.replication.plots import length_plot, loss_curve_plot
from bench.report import write_report
from bench.report_frame import frame_of

PUBLISHED_LABEL = "published (source)"  # the label the issue asks for, on every published number
NOT_RUN = "not run"
LR_RTOL = 1e-9  # learning rates are matched as floats
LENGTHS_SHOWN = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20)  # columns of the length table in summary.md (CSV has all)
LENGTH_KEY = re.compile(r"^length=(\d+)$")  # extra_tests names of the binary-addition length curve
# identity columns that do not tell one ablated model from another: the ablation pairs runs across them
ABLATION_PAIRED_OVER = ("seed", "framework", "backend", "mode", "float32")
LABELLED_KEYS = ("cell", "num_layers", "hidden_size", "bidirectional")  # always in an ablated model's label
# rows_frame's columns that are results, not identity
SCORE_COLUMNS = ("metric", "test", "val", "loss_first", "loss_last", "duration_s")
TASK_OPTION_COLUMN = "task_options."  # rows_frame's prefix of a task option's column
LOSS_DRIFT = "training-loss gap of one seed, first → last epoch"  # ablation columns of runs from one start
# a published number agrees with ours when it lies within AGREE_SDS of our standard deviations over seeds of our
# mean, or within AGREE_PP percentage points of it (the floor for one seed, or seeds that happened to agree)
AGREE_SDS = 2.0
AGREE_PP = 1.0
STD_MATCH_TOL = 6e-5  # a printed 4-decimal std against the trials' population / sample std: rounding plus slack


def _ok_train_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r["status"] == "ok" and r["identity"]["measure"] in ("train", "both")
            and r.get("train")]


def own_runs(experiment: Experiment, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The replication's own runs: the side-by-side tables, claims and curves read these; ablations have a section."""
    return [r for r in records if not experiment.in_ablation(r["identity"])]


def rows_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per training job: the report's flat frame (bench.report_frame), under the names the tables use."""
    flat = frame_of(records)
    if flat.empty:
        return flat
    # the tables label runs by the columns that vary: the identity's (its settings with their defaults filled in),
    # the task options', and the scores, nothing of the environment's
    identity = {key for record in records for key in record["identity"]} | set(SETTING_FIELDS)
    kept = [c for c in flat.columns if c in identity or c.startswith(TASK_OPTION_COLUMN)]
    scores = {"train.metric": "metric", "train.test_metric": "test", "train.val_metric_last": "val",
              "train.loss_first": "loss_first", "train.loss_last": "loss_last", "duration_s": "duration_s"}
    return flat[kept + list(scores)].rename(columns=scores)


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


def _pct(value: float | None) -> str:
    return "—" if value is None or not np.isfinite(value) else f"{100 * value:.2f}%"


def _mean_std(values: pd.Series) -> tuple[float, float]:
    values = values.astype(float)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def _mean_pm(mean: float, std: float, seeds: int) -> str:
    """"mean% ± std" in percentage points; a single seed has no spread to show."""
    return f"{_pct(mean)} ± {100 * std:.2f}" if seeds > 1 else f"{_pct(mean)} ± —"


def side_by_side_table(experiment: Experiment, frame: pd.DataFrame, failed: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per published number and framework; "not run" where no record matches.

    `failed` (failed_frame) holds the runs that ended without a score: where they match a
    published number they are counted beside ours, and named where no run scored.
    """
    rows = []
    for ref in experiment.references:
        where = getattr(ref, "where", ())
        split = getattr(ref, "split", "test")
        for framework in FRAMEWORKS:
            ours = match_reference(frame, ref.task, ref.cell, where)
            ours = ours[ours.framework == framework] if not ours.empty else ours
            lost = _failures(failed, ref, framework)
            trials = getattr(ref, "trials", ())
            row = {"setting": getattr(ref, "setting", ""), "cell": ref.cell, "metric": f"{ref.metric} ({split})",
                   PUBLISHED_LABEL: _pct(ref.value), "framework": framework}
            if ours.empty:
                row.update({"ours (mean ± std)": f"no score: {lost}" if lost else NOT_RUN, "seeds": 0,
                            "ours − published": "—", "verdict": "—"})
                mean = None
            else:
                mean, std = _mean_std(ours[split])
                row.update({"ours (mean ± std)": _mean_pm(mean, std, len(ours)) + (f"; {lost}" if lost else ""),
                            "seeds": len(ours),
                            "ours − published": f"{100 * (mean - ref.value):+.2f} pp",
                            "verdict": verdict(mean - ref.value, std, len(ours))})
            if trials or getattr(ref, "published_std", None) is not None:
                row["published ± std"] = published_spread(ref)
            if trials:
                low, high = min(trials), max(trials)
                row["published trials (range)"] = f"{_pct(low)} – {_pct(high)}"
                row["ours within the published range"] = "—" if mean is None else (
                    "yes" if low <= mean <= high else "no")
            row["note"] = ref.note
            rows.append(row)
    columns = list(dict.fromkeys(key for row in rows for key in row if key != "note")) + ["note"]
    return pd.DataFrame(rows, columns=columns if rows else None)


def failed_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The training runs that ended without a score (diverged, error, timeout …): identity columns and status."""
    flat = frame_of([r for r in records if r["status"] != "ok" and r["identity"]["measure"] in ("train", "both")])
    if flat.empty:
        return flat
    identity = {key for record in records for key in record["identity"]} | set(SETTING_FIELDS)
    return flat[[c for c in flat.columns if c in identity or c.startswith(TASK_OPTION_COLUMN)] + ["status"]]


def _failures(failed: pd.DataFrame | None, ref: Any, framework: str) -> str:
    """"2 diverged" for the failed runs that would have stood beside `ref` in `framework`; "" for none."""
    if failed is None or failed.empty:
        return ""
    runs = match_reference(failed, ref.task, ref.cell, getattr(ref, "where", ()))
    runs = runs[runs.framework == framework] if not runs.empty else runs
    return ", ".join(f"{n} {status}" for status, n in sorted(runs.status.value_counts().items())) if len(runs) else ""


def verdict(difference: float, std: float, seeds: int) -> str:
    """Whether a published number agrees with our mean (`difference` = ours − published, as fractions)."""
    gap_pp = 100 * abs(difference)
    if seeds > 1 and std > 0:
        within = abs(difference) / std
        agrees = within <= AGREE_SDS or gap_pp <= AGREE_PP
        return f"{'agrees' if agrees else 'differs'} ({within:.1f} sd, {gap_pp:.2f} pp)"
    spread = "one seed" if seeds <= 1 else f"no spread over {seeds} seeds"
    return f"{'agrees' if gap_pp <= AGREE_PP else 'differs'} ({gap_pp:.2f} pp, {spread})"


def published_spread(ref: Any) -> str:
    """The source's printed std, and which std it is when its trials say so (a population std is ddof 0)."""
    trials, printed = getattr(ref, "trials", ()), getattr(ref, "published_std", None)
    if printed is None:
        return f"{100 * float(np.std(trials, ddof=1)):.2f} (sample sd of its trials)" if len(trials) > 1 else "—"
    kinds = [name for name, ddof in (("population", 0), ("sample", 1))
             if len(trials) > ddof and abs(float(np.std(trials, ddof=ddof)) - printed) <= STD_MATCH_TOL]
    kind = f"{kinds[0]} sd" if kinds else ("sd" if not trials else "matches neither sd of its trials")
    return f"{100 * printed:.2f} ({kind})"


def claim_table(claim: Claim, frame: pd.DataFrame, records: list[dict[str, Any]], loss_curves: bool) -> pd.DataFrame:
    """Our numbers for the cells a qualitative claim is about, per framework (the source's own first, if typed)."""
    rows = [{"framework": "published (source)", "cell": cells, **{f"epoch {e}": value for e, value in values}}
            for cells, values in claim.published_losses]
    for framework in FRAMEWORKS:
        if not loss_curves:
            rows += _claim_score_rows(claim, frame, framework)
            continue
        for cell in claim.cells:
            curves = [[e["train_loss"] for e in r["train"]["epochs"]] for r in records
                      if r["identity"]["cell"] == cell and r["identity"]["framework"] == framework]
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
            mean, std = _mean_std(ours.test)
            row = {"framework": framework, **group, "cell": cell, "metric": f"{ours.metric.iloc[0]} (test)",
                   "ours (mean ± std)": _mean_pm(mean, std, len(ours)), "seeds": len(ours)}
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
                mean, std = _mean_std(scores)
                means[framework] = mean
                row[f"{framework}, {setting}"] = _mean_pm(mean, std, len(scores))
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
    """A rows_frame column under bench.run_settings' name ("task_options.loss" -> "option:loss")."""
    return column.replace(TASK_OPTION_COLUMN, run_settings.OPTION_PREFIX, 1)


def _none_if_missing(value: Any) -> Any:
    """A frame cell's value, with pandas' NaN for "not given" turned into None (match_reference's spelling)."""
    return None if isinstance(value, float) and np.isnan(value) else value


def length_curve_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Bit accuracy against input length: one row per (framework, protocol, loss, cell, hidden, epochs, seed,
    length)."""
    rows = []
    for record in records:
        ident, train = record["identity"], record["train"]
        options = ident.get("task_options") or {}
        own_length = options.get("length", 5)
        points = {own_length: train["test_metric"]}  # the training length's set is the test split
        for name, result in (train.get("extra_tests") or {}).items():
            found = LENGTH_KEY.match(name)
            if found:
                points[int(found.group(1))] = result["metric"]
        for length, metric in points.items():
            rows.append({"framework": ident["framework"], "protocol": options.get("protocol", "held_out"),
                         "loss": train.get("loss") or options.get("loss", "bce"),
                         "cell": ident["cell"], "hidden_size": ident["hidden_size"],
                         "epochs": ident["epochs"], "seed": ident["seed"], "length": length, "bit_accuracy": metric})
    return pd.DataFrame(rows)


def _run_summary(experiment: Experiment, every: list[dict[str, Any]]) -> str:
    """Jobs recorded against jobs planned, their summed run time, and the devices they ran on."""
    planned = {job.job_id for suite in experiment.suites for job in suite.jobs()}
    minutes = sum(r.get("duration_s") or 0.0 for r in every) / 60
    devices = sorted({str((r.get("environment") or {}).get("device_name") or "?") for r in every})
    statuses = pd.Series([r["status"] for r in every]).value_counts().to_dict()
    return (f"{sum(r['job_id'] in planned for r in every)} of the {len(planned)} planned jobs recorded ("
            + ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
            + f"); {minutes:.1f} min of job time (the records' `duration_s` summed, process start-up included) on "
            + "; ".join(devices))


def _seen_in_training(records: list[dict[str, Any]]) -> list[str]:
    """A paragraph on the sampled protocol's test items that are also training items (none: no such runs)."""
    shares = pd.Series([r["train"]["task_info"]["test_seen_in_train"] for r in records
                        if "test_seen_in_train" in (r["train"].get("task_info") or {})], dtype=float)
    if shares.empty:
        return []
    share = (f"{_pct(shares.min())} of them in each of the {len(shares)} sampled runs" if shares.min() == shares.max()
             else f"{_pct(shares.min())} to {_pct(shares.max())} of them across the {len(shares)} sampled runs")
    return ["## Sampled test items that are also training items", "",
            f"Under the sampled protocol the test split is drawn like the training one, with replacement, so some "
            f"test items are training items too: {share} (the records' `task_info.test_seen_in_train`). Their score mixes memory of "
            "seen items with generalisation; the held-out rows score unseen items only.", ""]


def _no_scores(failed: list[dict[str, Any]]) -> str:
    """Runs that all ended without a score, in words: how many of each status, and each one's message."""
    counts = pd.Series([r["status"] for r in failed]).value_counts()
    messages = "; ".join(f"{r['identity']['cell']} ({r['identity']['framework']}, seed {r['identity']['seed']}): "
                         f"{str(r.get('error') or r['status']).splitlines()[0]}" for r in failed)
    return (f"No run of it scored: {', '.join(f'{n} {status}' for status, n in counts.items())}. The records say "
            f"why: {messages}.")


def _markdown(frame: pd.DataFrame) -> str:
    return tabulate(frame.fillna("").values.tolist(), headers=list(frame.columns), tablefmt="github")


def write_replication_report(experiment: Experiment, records_path: str | Path, out_dir: str | Path) -> dict[str, Any]:
    """The harness report plus the side-by-side section on top of summary.md; returns what was written."""
    records_path, out_dir = Path(records_path), Path(out_dir)
    written = write_report(records_path, out_dir)
    latest = list(latest_by_job(RecordStore(records_path).load()).values())  # read once for both uses
    every_run = _ok_train_records(latest)
    records = own_runs(experiment, every_run)
    frame = rows_frame(records)
    every_failure = failed_frame(latest)
    failed = failed_frame(own_runs(experiment, latest))
    extra: list[Path] = []
    suites = ", ".join(f"`{suite.name}`" for suite in experiment.suites)
    lines = [f"# Replication: {experiment.title}", "",
             f"Suite{'s' if len(experiment.suites) > 1 else ''} {suites}; records `{records_path.name}` in this "
             "folder. Every number under "
             f"\"ours\" is computed from those records; every number under \"{PUBLISHED_LABEL}\" is typed once in "
             f"`bench/replication/{experiment.name}.py` as the source's published value.", "",
             f"- **Source's setup:** {experiment.source_setup}.",
             f"- **Ours:** {experiment.our_setup}.",
             f"- **Ran:** {_run_summary(experiment, latest)}.", ""]
    table = side_by_side_table(experiment, frame, failed)
    if not table.empty:
        table.to_csv(out_dir / "side_by_side.csv", index=False)
        extra.append(out_dir / "side_by_side.csv")
        lines += ["## Ours beside the published numbers", "",
                  "Percentages; *ours* is the mean ± standard deviation (percentage points) over seeds, "
                  f"*{NOT_RUN}* marks a configuration we did not run, *no score* one whose runs all failed (the records say "
                  "why). *verdict*: the published number agrees with "
                  f"ours when it is within {AGREE_SDS:g} of our standard deviations of our mean, or within "
                  f"{AGREE_PP:g} pp of it; the brackets give the gap in our standard deviations and in points."
                  + (" Where the source lists its trials, their range is shown, and whether our mean lies in it; "
                     "*published ± std* says which std the source printed, computed from its trials."
                     if "published trials (range)" in table.columns else ""), "", _markdown(table), ""]
    lines += _seen_in_training(records)
    for claim in experiment.claims:
        claim_rows = claim_table(claim, frame, records, experiment.loss_curves)
        lines += ["## Published claim and our numbers", "", f"**{PUBLISHED_LABEL}** ({claim.source}): {claim.text}.",
                  "", _markdown(claim_rows), ""]
    if experiment.loss_curves and records:
        extra.append(loss_curve_plot(records, out_dir))
        lines += [f"![training loss curves]({extra[-1].name})", ""]
    if experiment.length_curve and records:
        curve = length_curve_frame(records)
        wide = curve.pivot_table(index=["framework", "protocol", "loss", "cell", "hidden_size", "epochs"], columns="length",
                                 values="bit_accuracy", aggfunc="mean")
        wide.to_csv(out_dir / "bit_accuracy_vs_length.csv")
        extra += [out_dir / "bit_accuracy_vs_length.csv", length_plot(curve, out_dir)]
        shown = wide[[c for c in LENGTHS_SHOWN if c in wide.columns]].map(_pct).reset_index()
        lines += ["## Bit accuracy against input length", "",
                  "Mean over seeds; trained on length 5 only (all 20 lengths in `bit_accuracy_vs_length.csv`).", "",
                  _markdown(shown), "", f"![bit accuracy against length]({extra[-1].name})", ""]
    for number, ablation in enumerate(experiment.ablations, start=1):
        copied = rows_frame([r for r in every_run if ablation.copies(r["identity"])])
        ablated_runs = [r for r in every_run if ablation.holds(r["identity"])]
        ablated = rows_frame(ablated_runs)  # read by the table and by the claims below
        table_of_ablation = ablation_table(ablation, copied, ablated, every_failure)
        lines += [f"## Ablation: {ablation.title}", "", f"Suite `{ablation.suite.name}`: {ablation.question}. "
                  f"The test score per framework and model over the same seeds, with `{ablation.field}` as in "
                  f"{ablation.base_label} and set to `{ablation.value}`; *keras − torch* is the gap between the "
                  "frameworks' means"
                  + (", *largest gap of one seed* the largest difference between the two frameworks' scores "
                     "for one seed (the same start in both)" if ablation.same_start else "")
                  + ("; where both frameworks started from one model (init=shared), the *training-loss gap of one "
                     "seed* is the largest relative difference between their mean training losses of one seed in the "
                     "first and in the last epoch: a gap that starts tiny and grows is rounding amplified by training"
                     if any(c.startswith(LOSS_DRIFT) for c in table_of_ablation.columns) else "") + ".", ""]
        if table_of_ablation.empty:
            lost = [r for r in latest if r["status"] != "ok" and ablation.holds(r["identity"])]
            lines += [_no_scores(lost) if lost else f"{NOT_RUN}: `python -m bench replicate {experiment.name}` runs it.",
                      ""]
            continue
        csv = out_dir / f"ablation_{number}_{ablation.field}.csv"
        table_of_ablation.to_csv(csv, index=False)
        extra.append(csv)
        lines += [_markdown(table_of_ablation), ""]
        for claim in experiment.claims:  # does the published claim hold from the ablation's runs too?
            lines += [f"The published claim ({claim.text}) from the ablation's runs:", "",
                      _markdown(claim_table(claim, ablated, ablated_runs, experiment.loss_curves)), ""]
    harness = written["summary"].read_text().replace("# rnnbench report", "# The harness report", 1)
    written["summary"].write_text("\n".join(lines) + "\n" + harness)
    written["files"] += extra
    written["side_by_side"] = table
    return written


__all__ = ["write_replication_report", "match_reference", "side_by_side_table", "claim_table", "ablation_table",
           "verdict", "published_spread", "own_runs", "rows_frame", "failed_frame", "length_curve_frame", "PUBLISHED_LABEL", "NOT_RUN"]
