"""The replication report: our numbers beside the published ones, computed from records alone.

`write_replication_report` writes the harness's own report (results.csv, plots, the
standard tables) into the experiment's folder and puts the side-by-side section on top
of summary.md: one row per published number and framework, "published (source)" beside
"ours" (mean ± std over seeds), the qualitative claims with our numbers (their tables and
the ablations' in bench.replication.claims), and for binary addition the bit accuracy
against input length.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tabulate import tabulate

from bench.plan.config import FRAMEWORKS  # the column order of every side-by-side table
from bench.records.provenance import code_history, made_by
from bench.records.schema import Record
from bench.records.store import RecordStore, latest_by_job
from bench.replication.claims import (LOSS_DRIFT, MADE_BY, NOT_RUN, TASK_OPTION_COLUMN, ablation_table, claim_table,
                                      match_reference, mean_pm, mean_std, pct)
from bench.replication.experiment import SETTING_FIELDS, Experiment
from bench.replication.plots import length_plot, loss_curve_plot
from bench.report.summary import write_report
from bench.report.frame import (DURATION_S, LOSS_FIRST, LOSS_LAST, TRAIN_METRIC, TRAIN_TEST_METRIC, VAL_METRIC_LAST,
                                frame_of)

PUBLISHED_LABEL = "published (source)"  # the label the issue asks for, on every published number
LENGTHS_SHOWN = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20)  # columns of the length table in summary.md (CSV has all)
LENGTH_KEY = re.compile(r"^length=(\d+)$")  # extra_tests names of the binary-addition length curve
# a published number agrees with ours when it lies within AGREE_SDS of our standard deviations over seeds of our
# mean, or within AGREE_PP percentage points of it (the floor for one seed, or seeds that happened to agree)
AGREE_SDS = 2.0
AGREE_PP = 1.0
STRICT_SDS = 2.0  # the strict rule: the published value within this many of our sds of our mean, no floor
EXACT_TOL = 1e-9  # float slack where the strict rule asks for equality (one seed, or no spread: 100.00% ± 0)
NO_READING = "none"  # a differing row's reading where no reading is offered
COUNT_KEYS = ("scored", "agree", "agree_strict", "faithful", "faithful_agree", "faithful_agree_strict",
              "faithful_differ", "tested", "untested", "no_reading", "uncommitted")
COMMITTED, UNCOMMITTED = "committed", "uncommitted code"  # a side-by-side row's `code`
STD_MATCH_TOL = 6e-5  # a printed 4-decimal std against the trials' population / sample std: rounding plus slack


def _ok_train_records(records: list[Record]) -> list[Record]:
    return [r for r in records if r.status == "ok" and r.job.measure in ("train", "both") and r.train]


def own_runs(experiment: Experiment, records: list[Record]) -> list[Record]:
    """The replication's own runs: the side-by-side tables, claims and curves read these; ablations have a section."""
    return [r for r in records if not experiment.in_ablation(r.identity)]


def rows_frame(records: list[Record]) -> pd.DataFrame:
    """One row per training job: the report's flat frame (bench.report.frame), under the names the tables use."""
    flat = frame_of(records)
    if flat.empty:
        return flat
    # the tables label runs by the columns that vary: the identity's (its settings with their defaults filled in),
    # the task options', and the scores, nothing of the environment's
    identity = {key for record in records for key in record.identity} | set(SETTING_FIELDS)
    kept = [c for c in flat.columns if c in identity or c.startswith(TASK_OPTION_COLUMN)]
    scores = {TRAIN_METRIC: "metric", TRAIN_TEST_METRIC: "test", VAL_METRIC_LAST: "val", LOSS_FIRST: "loss_first",
              LOSS_LAST: "loss_last", DURATION_S: "duration_s"}
    out = flat[kept + list(scores)].rename(columns=scores)
    history = code_history()
    out[MADE_BY] = [made_by(record, history) for record in records]  # frame_of keeps the records' order
    return out


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
                   PUBLISHED_LABEL: pct(ref.value), "framework": framework}
            if ours.empty:
                row.update({"ours (mean ± std)": f"no score: {lost}" if lost else NOT_RUN, "seeds": 0,
                            "ours − published": "—", "verdict": "—", "strict": "—"})
                mean = None
            else:
                mean, std = mean_std(ours[split])
                row.update({"ours (mean ± std)": mean_pm(mean, std, len(ours)) + (f"; {lost}" if lost else ""),
                            "seeds": len(ours),
                            "ours − published": f"{100 * (mean - ref.value):+.2f} pp",
                            "verdict": verdict(mean - ref.value, std, len(ours)),
                            "strict": strict_verdict(mean, std, ref.value, trials)})
            row["faithful"] = "yes" if getattr(ref, "faithful", False) else "no"
            row["reading"] = reading_cell(ref, row["strict"])
            row["code"] = code_cell(ours)
            if trials or getattr(ref, "published_std", None) is not None:
                row["published ± std"] = published_spread(ref)
            if trials:
                low, high = min(trials), max(trials)
                row["published trials (range)"] = f"{pct(low)} – {pct(high)}"
                row["ours within the published range"] = "—" if mean is None else (
                    "yes" if low <= mean <= high else "no")
            row["note"] = ref.note
            rows.append(row)
    columns = list(dict.fromkeys(key for row in rows for key in row if key != "note")) + ["note"]
    return pd.DataFrame(rows, columns=columns if rows else None)


def code_cell(ours: pd.DataFrame) -> str:
    """Whether a commit holds the code that made every run behind a row (bench.records.provenance)."""
    if ours.empty:
        return "—"
    unidentified = int(ours[MADE_BY].isna().sum())
    return COMMITTED if not unidentified else f"{UNCOMMITTED}: {unidentified} of {len(ours)} runs"


def failed_frame(records: list[Record]) -> pd.DataFrame:
    """The training runs that ended without a score (diverged, error, timeout …): identity columns and status."""
    flat = frame_of([r for r in records if r.status != "ok" and r.job.measure in ("train", "both")])
    if flat.empty:
        return flat
    identity = {key for record in records for key in record.identity} | set(SETTING_FIELDS)
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


def strict_verdict(mean: float, std: float, published: float, trials: tuple[float, ...] = ()) -> str:
    """The stricter rule: the published value inside our mean ± STRICT_SDS sd (no floor in points; one seed has no
    spread, so only an exact match agrees), and, where the source lists its trials, our mean inside their range."""
    inside = abs(mean - published) <= STRICT_SDS * std + EXACT_TOL  # one seed: std 0 (mean_std)
    in_range = not trials or min(trials) - EXACT_TOL <= mean <= max(trials) + EXACT_TOL
    if inside and in_range:
        return "agrees"
    return "differs (" + ("outside mean ± 2 sd" if not inside else "mean outside the published trials") + ")"


def reading_cell(ref: Any, strict: str) -> str:
    """A row's `reading`: "—" where it agrees by the strict rule or has no score, else the reference's reading
    ("tested (by …): …" or "untested: …"), or "none" where no reading is offered."""
    if not strict.startswith("differs"):
        return "—"
    reading = getattr(ref, "reading", None)
    return reading.spelled() if reading is not None else NO_READING


def counts(table: pd.DataFrame) -> dict[str, int]:
    """The side-by-side table's counts: scored rows, how many agree by each rule, and of the faithful ones the same
    and how the differing ones (strict rule) are read."""
    if table.empty:
        return {key: 0 for key in COUNT_KEYS}
    scored = table[table["verdict"] != "—"]
    faithful = scored[scored["faithful"] == "yes"]
    differing = faithful[faithful["strict"].str.startswith("differs")]
    return {"scored": len(scored), "agree": int(scored["verdict"].str.startswith("agrees").sum()),
            "agree_strict": int(scored["strict"].str.startswith("agrees").sum()), "faithful": len(faithful),
            "faithful_agree": int(faithful["verdict"].str.startswith("agrees").sum()),
            "faithful_agree_strict": int(faithful["strict"].str.startswith("agrees").sum()),
            "faithful_differ": len(differing),
            "tested": int(differing["reading"].str.startswith("tested").sum()),
            "untested": int(differing["reading"].str.startswith("untested").sum()),
            "no_reading": int((differing["reading"] == NO_READING).sum()),
            "uncommitted": int(scored["code"].str.startswith(UNCOMMITTED).sum())}


def agreement_counts(table: pd.DataFrame) -> str:
    """How many scored rows agree by the report's rule and by the strict one, and the same of the faithful rows with
    how their differences are read, as sentences."""
    c = counts(table)
    return (f"Of the {c['scored']} rows with a score of ours, {c['agree']} agree by the report's rule and "
            f"{c['agree_strict']} by the strict one. {c['faithful']} of them are faithful (our setup is the source's "
            f"as far as it states it): {c['faithful_agree']} agree by the report's rule and "
            f"{c['faithful_agree_strict']} by the strict one; of the {c['faithful_differ']} that differ by the strict "
            f"rule, {c['tested']} have a tested reading, {c['untested']} an untested one and {c['no_reading']} none. "
            f"{c['uncommitted']} of the {c['scored']} rest wholly or partly on runs made by uncommitted code (*code*).")


def published_spread(ref: Any) -> str:
    """The source's printed std, and which std it is when its trials say so (a population std is ddof 0)."""
    trials, printed = getattr(ref, "trials", ()), getattr(ref, "published_std", None)
    if printed is None:
        return f"{100 * float(np.std(trials, ddof=1)):.2f} (sample sd of its trials)" if len(trials) > 1 else "—"
    kinds = [name for name, ddof in (("population", 0), ("sample", 1))
             if len(trials) > ddof and abs(float(np.std(trials, ddof=ddof)) - printed) <= STD_MATCH_TOL]
    kind = f"{kinds[0]} sd" if kinds else ("sd" if not trials else "matches neither sd of its trials")
    return f"{100 * printed:.2f} ({kind})"


def length_curve_frame(records: list[Record]) -> pd.DataFrame:
    """Bit accuracy against input length: one row per (framework, protocol, loss, cell, hidden, epochs, seed,
    length)."""
    rows = []
    for record in records:
        job, train = record.job, record.train
        options = job.options
        own_length = options.get("length", 5)
        points = {own_length: train.test_metric}  # the training length's set is the test split
        for name, result in (train.extra_tests or {}).items():
            found = LENGTH_KEY.match(name)
            if found:
                points[int(found.group(1))] = result["metric"]
        for length, metric in points.items():
            rows.append({"framework": job.framework, "protocol": options.get("protocol", "held_out"),
                         "loss": train.loss or options.get("loss", "bce"), "cell": job.cell,
                         "hidden_size": job.hidden_size, "epochs": job.epochs, "seed": job.seed, "length": length,
                         "bit_accuracy": metric})
    return pd.DataFrame(rows)


def _run_summary(experiment: Experiment, every: list[Record]) -> str:
    """Jobs recorded against jobs planned, their summed run time, and the devices they ran on."""
    planned = {job.job_id for suite in experiment.suites for job in suite.jobs()}
    minutes = sum(r.duration_s or 0.0 for r in every) / 60
    devices = sorted({str(r.environment.device_name or "?") for r in every})
    statuses = pd.Series([r.status for r in every]).value_counts().to_dict()
    history = code_history()
    unidentified = sum(made_by(r, history) is None for r in every)
    return (f"{sum(r.job_id in planned for r in every)} of the {len(planned)} planned jobs recorded ("
            + ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
            + f"); {minutes:.1f} min of job time (the records' `duration_s` summed, process start-up included) on "
            + "; ".join(devices) + f"; {unidentified} of the {len(every)} records made by {UNCOMMITTED} (code no "
            "commit of this repository holds: it cannot be run again)")


def _seen_in_training(records: list[Record]) -> list[str]:
    """A paragraph on the sampled protocol's test items that are also training items (none: no such runs)."""
    shares = pd.Series([r.train.task_info["test_seen_in_train"] for r in records
                        if "test_seen_in_train" in (r.train.task_info or {})], dtype=float)
    if shares.empty:
        return []
    share = (f"{pct(shares.min())} of them in each of the {len(shares)} sampled runs" if shares.min() == shares.max()
             else f"{pct(shares.min())} to {pct(shares.max())} of them across the {len(shares)} sampled runs")
    return ["## Sampled test items that are also training items", "",
            f"Under the sampled protocol the test split is drawn like the training one, with replacement, so some "
            f"test items are training items too: {share} (the records' `task_info.test_seen_in_train`). Their score mixes memory of "
            "seen items with generalisation; the held-out rows score unseen items only.", ""]


def _no_scores(failed: list[Record]) -> str:
    """Runs that all ended without a score, in words: how many of each status, and each one's message."""
    counts = pd.Series([r.status for r in failed]).value_counts()
    messages = "; ".join(f"{r.job.cell} ({r.job.framework}, seed {r.job.seed}): "
                         f"{str(r.error or r.status).splitlines()[0]}" for r in failed)
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
                  f"{AGREE_PP:g} pp of it; the brackets give the gap in our standard deviations and in points. "
                  f"*strict*: the published number lies within {STRICT_SDS:g} of our standard deviations of our "
                  "mean, with no floor in points (one seed: only an exact match), and our mean lies inside the "
                  "source's trials where it lists them. *faithful*: yes where our setup is the source's as far as "
                  "the source states it, no for our own protocols. *reading*, where a row differs by the strict "
                  "rule: why, *tested* when a run of ours (named) shows it, *untested* when it is a guess, *none* "
                  f"when we offer none. *code*: {COMMITTED} where a commit of this repository holds the code that "
                  f"made every run behind the row (a clean checkout's commit, or a commit whose sources have the "
                  f"run's source digest); *{UNCOMMITTED}* counts the runs whose code no commit holds, so nobody "
                  "can run it again."
                  + (" Where the source lists its trials, their range is shown, and whether our mean lies in it; "
                     "*published ± std* says which std the source printed, computed from its trials."
                     if "published trials (range)" in table.columns else ""), "", _markdown(table), "",
                  agreement_counts(table), ""]
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
        shown = wide[[c for c in LENGTHS_SHOWN if c in wide.columns]].map(pct).reset_index()
        lines += ["## Bit accuracy against input length", "",
                  "Mean over seeds; trained on length 5 only (all 20 lengths in `bit_accuracy_vs_length.csv`).", "",
                  _markdown(shown), "", f"![bit accuracy against length]({extra[-1].name})", ""]
    for number, ablation in enumerate(experiment.ablations, start=1):
        copied = rows_frame([r for r in every_run if ablation.copies(r.identity)])
        ablated_runs = [r for r in every_run if ablation.holds(r.identity)]
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
            lost = [r for r in latest if r.status != "ok" and ablation.holds(r.identity)]
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


__all__ = ["write_replication_report", "side_by_side_table", "verdict", "strict_verdict", "agreement_counts", "published_spread", "own_runs", "rows_frame",
           "failed_frame", "length_curve_frame", "PUBLISHED_LABEL"]
