"""The history page: per cell, framework and mode, the paired ratio and the accuracy against commits.

`write_page` writes index.html (self-contained: the plots are inline SVG) and its markdown twin
history.md. A series is one job on one machine class and one software stack; its points are the
rows of the history store in commit order. Steps are found per series and step kind by the rule in
STEP_RULE (PELT from ruptures on the log ratios), and each names the commit it starts at.
"""

from __future__ import annotations

import html
import io
import json
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["svg.hashsalt"] = "rnnbench-history"  # fixed ids: the same history gives the same page
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import ruptures  # noqa: E402
from tabulate import tabulate  # noqa: E402

from bench.gate.history import History  # noqa: E402

# Chosen after seeing this project's backfill (reports/history/README.md): one round per commit scatters
# by 2-3% (more for the Keras LSTM), and with 2-commit segments and a 3% move, pairs of odd commits made steps.
STEP_MIN = 0.05  # a step must move the ratio by more than this
SIGMA_FLOOR = 0.005  # noise below 0.5% is not trusted: it would make every wiggle a step
PENALTY = 3.0  # PELT's penalty per step, in units of sigma² · ln(points)
MIN_SEGMENT = 3  # commits on each side of a step: odd commits are noise until more confirm them
STEP_RULE = (f"per series and step kind, the per-commit ratios (the median of the runs at a commit) in commit "
             f"order, on a log scale, are segmented by PELT (ruptures, least-squares cost, at least {MIN_SEGMENT} "
             f"commits a segment) with a penalty of {PENALTY:g}·σ²·ln n, σ the noise of the series estimated from "
             f"its successive differences (MAD / (0.6745·√2), at least {SIGMA_FLOOR:.1%}); a boundary is a step when "
             f"the medians of the segments on its two sides differ by more than {STEP_MIN:.0%}")
KINDS = (("train", "train × native"), ("infer", "infer × native"))


@dataclass(frozen=True)
class Step:
    """A change of level in a series."""

    kind: str  # "train" or "infer"
    commit: str  # the first commit of the new level
    subject: str
    before: float  # median ratio of the segment before
    after: float  # of the segment from `commit` on

    @property
    def change(self) -> float:
        return self.after / self.before - 1


@dataclass
class Series:
    """One job on one machine class and stack, over commits."""

    machine: str
    stack: str
    job: str
    cell: str
    framework: str
    mode: str
    rows: list[dict[str, Any]]  # oldest commit first

    @property
    def key(self) -> str:
        return f"{self.job} | {self.machine} | {self.stack}"

    def commits(self) -> list[tuple[str, str, list[dict[str, Any]]]]:
        """(commit label, subject, its rows) in commit order; a dirty tree's rows label as commit+."""
        out: dict[str, tuple[str, list[dict[str, Any]]]] = {}
        for row in self.rows:
            label = (row["commit_id"] or "?")[:7] + ("+" if row["dirty"] else "")
            out.setdefault(label, (row["subject"] or "", []))[1].append(row)
        return [(label, subject, rows) for label, (subject, rows) in out.items()]


def series_of(history: History) -> list[Series]:
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for row in history.rows():
        groups[(row["machine"], row["stack"], row["job"])].append(row)
    return [Series(machine, stack, job, rows[0]["cell"], rows[0]["framework"], rows[0]["mode"], rows)
            for (machine, stack, job), rows in sorted(groups.items(), key=lambda item: (item[0][2], item[0][0]))]


def _noise(values: list[float]) -> float:
    if len(values) < 3:
        return SIGMA_FLOOR
    diffs = [b - a for a, b in zip(values, values[1:])]
    mad = statistics.median(abs(d - statistics.median(diffs)) for d in diffs)
    return max(mad / (0.6745 * math.sqrt(2)), SIGMA_FLOOR)


def steps(series: Series) -> list[Step]:
    """The steps of each step kind (STEP_RULE)."""
    found = []
    commits = series.commits()
    for kind, _ in KINDS:
        points = [(label, subject, statistics.median(r[f"{kind}_ratio"] for r in rows if r[f"{kind}_ratio"]))
                  for label, subject, rows in commits if any(r[f"{kind}_ratio"] for r in rows)]
        if len(points) < 2 * MIN_SEGMENT:
            continue
        logs = [math.log(value) for _, _, value in points]
        sigma = _noise(logs)
        algo = ruptures.Pelt(model="l2", min_size=MIN_SEGMENT, jump=1).fit(np.asarray(logs).reshape(-1, 1))
        bounds = [0, *algo.predict(pen=PENALTY * sigma ** 2 * math.log(len(logs)))]
        for start, cut, end in zip(bounds, bounds[1:], bounds[2:]):
            before = statistics.median(value for _, _, value in points[start:cut])
            after = statistics.median(value for _, _, value in points[cut:end])
            if abs(after / before - 1) > STEP_MIN:
                found.append(Step(kind, points[cut][0], points[cut][1], before, after))
    return found


def _svg(series: Series, found: list[Step]) -> str:
    commits = series.commits()
    labels = [label for label, _, _ in commits]
    timed = any(r[f"{kind}_ratio"] for r in series.rows for kind, _ in KINDS)
    width = max(6.0, 0.28 * len(labels) + 2)
    if timed:
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(width, 4.6), sharex=True,
                                          gridspec_kw={"height_ratios": [3, 2]})
    else:  # a native layer: no ratio of its own, its accuracy alone
        fig, bottom = plt.subplots(1, 1, figsize=(width, 2.6))
        top = None
    for (kind, name), color, shift in zip(KINDS, ("tab:blue", "tab:orange"), (-0.12, 0.12)):
        xs, ys, lo, hi = [], [], [], []
        for i, (_, _, rows) in enumerate(commits):
            for row in rows:
                if row[f"{kind}_ratio"]:
                    xs.append(i + shift)
                    ys.append(row[f"{kind}_ratio"])
                    lo.append(row[f"{kind}_ratio"] - (row[f"{kind}_low"] or row[f"{kind}_ratio"]))
                    hi.append((row[f"{kind}_high"] or row[f"{kind}_ratio"]) - row[f"{kind}_ratio"])
        if xs:
            top.errorbar(xs, ys, yerr=[lo, hi], fmt="o", ms=3, color=color, label=name, capsize=2, lw=1)
    if top is not None:
        for step in found:
            top.axvline(labels.index(step.commit) - 0.5, color="tab:red", ls="--", lw=1)
        top.axhline(1.0, color="grey", lw=0.6)
        top.set_ylabel("custom ÷ native")
        top.legend(fontsize=7, loc="upper left")
    xs = [i for i, (_, _, rows) in enumerate(commits) for r in rows if r["metric_value"] is not None]
    ys = [r["metric_value"] for _, _, rows in commits for r in rows if r["metric_value"] is not None]
    bottom.plot(xs, ys, "s", ms=3, color="tab:green")
    bottom.set_ylabel((series.rows[0]["metric"] or "metric").replace("_", " "))
    failed = [i for i, (_, _, rows) in enumerate(commits) if any(r["status"] != "ok" for r in rows)]
    for i in failed:
        bottom.axvline(i, color="tab:red", lw=4, alpha=0.25)
    bottom.set_xticks(range(len(labels)), labels, rotation=90, fontsize=6, family="monospace")
    (top or bottom).set_title(series.job, fontsize=9)
    fig.tight_layout()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _fmt(row: dict[str, Any], kind: str) -> str:
    value, low, high = row[f"{kind}_ratio"], row[f"{kind}_low"], row[f"{kind}_high"]
    if not value:
        return "—"
    if low == high:  # one round without its pairs' ratios (records from before they were kept): no interval
        return f"{value:.3f}"
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def _step_lines(found: list[Step]) -> list[str]:
    return [f"{dict(KINDS)[s.kind]}: {s.change:+.1%} at {s.commit} ({s.subject}), {s.before:.3f} → {s.after:.3f}"
            for s in found]


def write_page(history: History, out: Path) -> list[Path]:
    """index.html and history.md in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    every = series_of(history)
    rows = history.rows()
    commits = {r["commit_id"] for r in rows if r["commit_id"]}
    intro = (f"{len(every)} series over {len(commits)} commits, from {len(rows)} rows of the history store. A series "
             "is one job on one machine class and software stack. Ratios are the custom cell's step time over its "
             "native layer's, timed paired in the same job; bars are 95% bootstrap intervals over the run's rounds "
             "and pairs (one round: over its pairs only, which leaves out how job processes differ; records from "
             "before every pair's ratio was kept have no bar). Red dashed lines "
             f"are steps. Step rule: {STEP_RULE}. Red bands under the accuracy mark a failed job.")
    sections, markdown = [], ["# History of the regress suite", "", intro, ""]
    for series in every:
        found = steps(series)
        listed = "".join(f"<li>{html.escape(line)}</li>" for line in _step_lines(found)) or "<li>no step</li>"
        sections.append(f'<section class="series"><h2>{html.escape(series.job)}</h2>'
                        f"<p>{html.escape(series.machine)} · {html.escape(series.stack)}</p>"
                        f'<figure class="plot" data-series="{html.escape(series.key)}">{_svg(series, found)}'
                        f"</figure><ul>{listed}</ul></section>")
        table = [[label, subject[:60], _fmt(r, "train"), _fmt(r, "infer"),
                  "—" if r["metric_value"] is None else f"{r['metric_value']:.4f}",
                  r["status"] if r["status"] == "ok" else f"{r['status']}: {r['error'] or ''}"[:80], r["source"]]
                 for label, subject, rs in series.commits() for r in rs]
        markdown += [f"## {series.job}", "", f"{series.machine} · {series.stack}", "",
                     *(f"- step, {line}" for line in _step_lines(found)), "" if found else "- no step", "",
                     tabulate(table, headers=["commit", "subject", "train × native [95%]", "infer × native [95%]",
                                              "accuracy", "status", "source"], tablefmt="github"), ""]
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>rnnbench history</title><style>"
            "body{font-family:sans-serif;max-width:1200px;margin:auto;padding:1em}"
            "section{border-top:1px solid #ccc;margin-top:1em}figure{margin:0;overflow-x:auto}"
            "</style></head><body><h1>History of the regress suite</h1>"
            f"<p>{html.escape(intro)}</p>{''.join(sections)}</body></html>\n")
    written = [out / "index.html", out / "history.md"]
    written[0].write_text(page, encoding="utf-8")
    written[1].write_text("\n".join(markdown) + "\n", encoding="utf-8")
    return written


def export_benchmark_json(history: History, path: Path) -> int:
    """The newest commit's ratios as github-action-benchmark's customSmallerIsBetter entries; how many."""
    rows = [r for r in history.rows() if r["commit_id"]]
    if not rows:
        return 0
    newest = max(rows, key=lambda r: r["committed_at"] or "")["commit_id"]
    entries = []
    for row in rows:
        if row["commit_id"] != newest:
            continue
        for kind, name in KINDS:
            if row[f"{kind}_ratio"]:
                entries.append({"name": f"{row['job']} {name} [{row['machine']}]", "unit": "× native",
                                "value": round(row[f"{kind}_ratio"], 4),
                                "range": f"{row[f'{kind}_low']:.4f} to {row[f'{kind}_high']:.4f}",
                                "extra": f"commit {newest[:7]}, {row['stack']}, source {row['source']}"})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entries, indent=1) + "\n", encoding="utf-8")
    return len(entries)
