"""An A/B run's step times themselves on each side, not only their ratio to the native layer.

The gate judges a custom cell's paired ratio to its native layer, which a change to the framework moves on
both sides of the fraction at once: a torch that makes every RNN 20% slower leaves the ratio where it was. This
report reads an A/B run's folder (every round's records, and gate.json) and sets beside the gate's verdict each
job's own step time and its native layer's on each side, head ÷ base with an interval over the rounds (the
rounds alternate which side goes first, so the machine's drift falls on both; a round is one job process and
its median step, so the interval is wider than the paired ratio's), the compile time, and how each side's jobs
ended (a cell that fails its correctness gate on one stack is `incorrect` there and never timed).

    python -m bench ab-times reports/stack-torch-2.14/quick reports/stack-torch-2.14/long --out reports/stack-torch-2.14
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from pathlib import Path

import pandas as pd
from tabulate import tabulate

from bench.gate.stats import CONFIDENCE, Round, geometric_mean, quotient_interval
from bench.plan.config import ConfigError
from bench.records.ratios import TIMING_KINDS, rounds_key, step_stats, timed_rounds
from bench.records.schema import Record
from bench.records.store import RecordStore

SIDES = ("base", "head")
STEP_NAMES = {"train_step": "train", "inference_step": "infer"}
# head ÷ base of a step time counts as a change only when its whole interval clears 1 by this much: the
# machine's drift between processes (a few percent, docs/regression_gate.md) is no change of the stack
SAME_BAND = 0.03
WORDS = ("faster", "same", "slower", "unclear")  # what a head ÷ base interval says, in that order
COMPILES_S = 0.5  # a first call this much slower than the median step is a compile worth showing


def side_records(folder: Path) -> dict[str, list[Record]]:
    """Every round's records of each side of the A/B run in `folder`."""
    if not (folder / "gate.json").is_file():
        raise ConfigError(f"no gate.json in {folder}: give the folder an A/B run (bench compare --against) wrote")
    out = {side: [r for path in sorted(folder.glob(f"round*-{side}*.jsonl")) for r in RecordStore(path).load()]
           for side in SIDES}
    if not out["base"] or not out["head"]:
        raise ConfigError(f"{folder} holds no records of one side; rerun the A/B")
    return out


def _versions(records: list[Record]) -> str:
    """The stack a side ran on: its torch (and Keras where it ran Keras jobs), as the records name them."""
    found = sorted({f"torch {r.environment.versions.get('torch')}" for r in records}
                   | {f"keras {r.environment.versions.get('keras')}" for r in records if r.job.framework == "keras"})
    return ", ".join(found)


def _rounds(side: list[Record], kind: str, native: bool) -> list[Round]:
    """Each round's median step time of `kind` (the native layer's with `native`), as the gate's Rounds."""
    return [Round(s.median_s) for s in (step_stats(r, kind, native) for r in side) if s and s.median_s]


def _ms(rounds: list[Record], kind: str, native: bool) -> str:
    """The side's step time, ms: the geometric mean over its rounds, as head ÷ base divides them."""
    found = _rounds(rounds, kind, native)
    return f"{1e3 * geometric_mean(found):.3g}" if found else "—"


def _change(base: list[Record], head: list[Record], kind: str, native: bool) -> str:
    """head ÷ base of the step time, "+x% [low, high]" over the rounds, and a word for it."""
    b, h = _rounds(base, kind, native), _rounds(head, kind, native)
    if not b or not h:
        return "—"
    if len(b) < 2 or len(h) < 2:  # one process a side: no spread to draw an interval from
        return f"{(geometric_mean(h) / geometric_mean(b) - 1) * 100:+.1f}% (one round: no interval)"
    interval = quotient_interval(b, h)
    word = ("slower" if interval.low > 1 + SAME_BAND else "faster" if interval.high < 1 - SAME_BAND
            else "same" if 1 - SAME_BAND <= interval.low and interval.high <= 1 + SAME_BAND else "unclear")
    return (f"{(interval.estimate - 1) * 100:+.1f}% [{(interval.low - 1) * 100:+.1f}, "
            f"{(interval.high - 1) * 100:+.1f}] {word}")


def _compile(base: list[Record], head: list[Record]) -> str:
    """The training step's compile time (its first call less its median), median over rounds, base → head; "—"
    where neither side compiles (an eager job's first call is a step like the others)."""
    def median_s(side: list[Record]) -> float | None:
        values = [r.timing.train_step.compile_s for r in side if r.timing and r.timing.train_step.compile_s]
        return statistics.median(values) if values else None

    b, h = median_s(base), median_s(head)
    return f"{b:.1f} → {h:.1f}" if b is not None and h is not None and max(b, h) >= COMPILES_S else "—"


def times_table(folder: Path, records: dict[str, list[Record]] | None = None) -> pd.DataFrame:
    """One row per timed job and step kind of the A/B run in `folder`: each side's own and native step times.
    `records`: the folder's side_records, where the caller has read them already."""
    records = records or side_records(folder)
    groups = {side: timed_rounds(records[side]) for side in SIDES}
    speed = {(row["key"], row["kind"]): row for row in json.loads((folder / "gate.json").read_text())["speed"]}
    rows = []
    for key in sorted(set(groups["base"]) & set(groups["head"]), key=lambda k: groups["head"][k][0].job.label()):
        base, head = groups["base"][key], groups["head"][key]
        job = head[0].job
        for kind in TIMING_KINDS:
            judged = speed.get((key, kind))
            rows.append({
                "job": job.label().rsplit("/seed", 1)[0], "step": STEP_NAMES[kind],
                "base ms": _ms(base, kind, False), "head ms": _ms(head, kind, False),
                "head ÷ base": _change(base, head, kind, False),
                "native base ms": _ms(base, kind, True), "native head ms": _ms(head, kind, True),
                "native head ÷ base": _change(base, head, kind, True),
                "paired ratio base → head": (f"{judged['base_ratio']:.3f} → {judged['head_ratio']:.3f} "
                                             f"({(judged['quotient'] - 1) * 100:+.1f}%, {judged['verdict']})"
                                             if judged else "—"),
                "compile s base → head": _compile(base, head) if kind == "train_step" else "—",
                "rounds": f"{len(base)}+{len(head)}", "_key": key})
    return pd.DataFrame(rows)


def _estimate(cell: str) -> float | None:
    """The head ÷ base estimate a `head ÷ base` cell prints, as a ratio."""
    return 1 + float(cell.split("%")[0]) / 100 if cell.endswith(WORDS) else None


def mode_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per mode and step: the geometric mean over the custom jobs of their head ÷ base (their own step time and
    their native layer's), and how many jobs came out faster, slower, the same or unclear: the stack's effect on
    the mode, where one job's two rounds seldom settle it."""
    rows = []
    table = table.assign(mode=[job.split("/")[1] for job in table["job"]])
    for (mode, step), part in table.groupby(["mode", "step"], sort=True):
        own = [e for e in map(_estimate, part["head ÷ base"]) if e]
        native = [e for e in map(_estimate, part["native head ÷ base"]) if e]
        if not own:
            continue
        words = Counter(cell.rsplit(" ", 1)[-1] for cell in part["head ÷ base"] if cell.endswith(WORDS))
        compiles = [tuple(map(float, cell.split(" → "))) for cell in part["compile s base → head"] if cell != "—"]
        rows.append({"mode": mode, "step": step, "custom jobs": len(own),
                     "custom head ÷ base (geometric mean)": f"{(statistics.geometric_mean(own) - 1) * 100:+.1f}%",
                     "native head ÷ base (geometric mean)": (f"{(statistics.geometric_mean(native) - 1) * 100:+.1f}%"
                                                            if native else "—"),
                     "jobs faster / same / slower / unclear": " / ".join(str(words[w]) for w in WORDS),
                     "compile s, median base → head": (f"{statistics.median(b for b, _ in compiles):.1f} → "
                                                       f"{statistics.median(h for _, h in compiles):.1f}"
                                                       if compiles else "—")})
    return pd.DataFrame(rows)


def status_lines(records: dict[str, list[Record]]) -> list[str]:
    """How each side's jobs ended (`records`: an A/B folder's side_records), counted, with every job that did not end
    ok on one side named."""
    lines = [f"- {side}: " + ", ".join(f"{n} {status}" for status, n in sorted(Counter(r.status for r in recs).items()))
             for side, recs in records.items()]
    by_side = {side: {rounds_key(r.identity): r for r in recs} for side, recs in records.items()}
    for key in sorted(set(by_side["base"]) | set(by_side["head"])):
        ends = {side: by_side[side].get(key) for side in SIDES}
        if any(r is None or r.status != "ok" for r in ends.values()):
            said = "; ".join(f"{side} {r.status if r else 'no record'}"
                             + (f" ({(r.error or '').splitlines()[0][:140]})" if r and r.status != "ok" else "")
                             for side, r in ends.items())
            job = next(r for r in ends.values() if r is not None).job
            lines.append(f"- {job.label().rsplit('/seed', 1)[0]}: {said}")
    return lines


def write(folders: list[Path], out: Path) -> Path:
    """summary.md and one CSV per folder in `out`; returns summary.md."""
    out.mkdir(parents=True, exist_ok=True)
    lines = ["# Step times on each side of A/B runs", "",
             "Generated by `python -m bench ab-times` from the runs' records and gate.json "
             f"(bench/gate/ab_times.py). *head ÷ base* is a step time's change with its {CONFIDENCE:.0%} interval "
             "over the rounds (each round one job process; the rounds alternate which side goes first): *same* when "
             f"the whole interval lies within ±{SAME_BAND:.0%}, *slower* or *faster* when it lies wholly beyond, "
             "*unclear* otherwise. *paired ratio* is the gate's: the custom cell's step over its native layer's, "
             "timed pair by pair in one process, base → head, and the gate's verdict on it.", ""]
    for folder in folders:
        summary = json.loads((folder / "gate.json").read_text())
        records = side_records(folder)
        table = times_table(folder, records)
        modes = mode_table(table)
        table.drop(columns="_key").to_csv(out / f"{folder.name}.csv", index=False)
        lines += [f"## `{folder.name}`: suite `{summary['suite']}`"
                  + (f" ({' '.join(summary['select'])})" if summary["select"] else ""), "",
                  f"- base: {summary['base']['label']}, {_versions(records['base'])}; interpreter: "
                  f"{summary['base']['interpreter']}.",
                  f"- head: {summary['head']['label']}, {_versions(records['head'])}.",
                  f"- {summary['rounds']} rounds on {summary['machine']}, {summary['wall_s'] / 60:.0f} min; load "
                  f"average {summary['load_start']:.2f} at the start, {summary['load_end']:.2f} at the end; the "
                  f"gate's verdict on the paired ratios: {summary['verdict']} (threshold {summary['threshold']:.0%}).",
                  "", "How the jobs ended:", "", *status_lines(records), "",
                  "By mode (custom cells' jobs with an interval):", "",
                  tabulate(modes.values.tolist(), headers=list(modes.columns), tablefmt="github"), "",
                  tabulate(table.drop(columns="_key").fillna("—").values.tolist(),
                           headers=[c for c in table.columns if c != "_key"], tablefmt="github"), ""]
    path = out / "summary.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
