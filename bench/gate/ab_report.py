"""The A/B gate's markdown: the verdict, the speed table with intervals, then status and accuracy."""

from __future__ import annotations

from tabulate import tabulate

from bench.gate.ab import ABResult
from bench.gate.stats import CONFIDENCE, FAIL

STEP_NAMES = {"train_step": "train", "inference_step": "infer"}
SPEED_HEADERS = ["job", "step", "base × native", "head × native", "head ÷ base",
                 f"{CONFIDENCE:.0%} interval", "rounds", "smallest slowdown caught", "verdict"]
OTHER_HEADERS = ["job", "check", "base", "head", "change", "verdict"]


def _pct(value: float) -> str:
    return f"{(value - 1) * 100:+.1f}%"


def render(result: ABResult) -> str:
    """The whole report, markdown."""
    settings = result.settings
    failures = [row for row in result.speed if row.verdict == FAIL]
    others = result.comparison.failures
    if result.failed:
        verdict = f"**FAILED**: {len(failures)} slower, {len(others)} other regression{'s' if len(others) != 1 else ''}"
    else:
        verdict = "**PASSED**" + (f" ({len(result.inconclusive)} of {len(result.speed)} speed rows inconclusive: "
                                  "neither proved slower nor proved within the threshold)" if result.inconclusive
                                  else ": every speed row proved within the threshold")
    lines = [
        "# rnnbench A/B gate", "",
        f"{verdict} — head {result.head.label} against base {result.base.label}; suite `{settings.suite}`"
        + (f" ({' '.join(settings.select)})" if settings.select else "") + ".", "",
        f"- Mode: A/B on this machine ({result.machine}), {result.rounds} rounds alternating which side goes "
        f"first, {settings.threads} thread(s) a job, {result.wall_s:.0f} s in all; load average "
        f"{result.load[0]:.2f} at the start, {result.load[1]:.2f} at the end.",
        f"- Speed: a custom cell's step time over its native layer's, timed paired in each job; head ÷ base "
        f"with a {CONFIDENCE:.0%} bootstrap interval over rounds and pairs. **FAIL** when the whole interval "
        f"lies above {1 + settings.threshold:.3g} (threshold {settings.threshold:.0%}), **pass** when it lies "
        "below, inconclusive otherwise (after up to "
        f"{settings.max_rounds} rounds). 'Smallest slowdown caught' is the change whose interval, with this "
        "row's spread, would have cleared the threshold.",
        f"- Base interpreter: {result.base.note}."
        + (f" Head's own variables: {' '.join(f'{k}={v}' for k, v in result.head.env.items())}."
           if result.head.env else ""),
        "- Status, accuracy and native kernel: round 1 of each side, tolerances "
        + ", ".join(f"`{t.spelled()}`" for name, t in settings.tolerances.items() if not name.endswith("_ratio"))
        + ".",
        *[f"- {note}" for note in result.comparison.notes], "",
    ]
    speed = [[row.label, STEP_NAMES.get(row.kind, row.kind), f"{row.base_ratio:.3f}", f"{row.head_ratio:.3f}",
              _pct(row.interval.estimate), f"{_pct(row.interval.low)} … {_pct(row.interval.high)}",
              f"{row.interval.base_rounds}+{row.interval.head_rounds}", f"{row.detectable * 100:+.1f}%", row.verdict]
             for row in result.speed]
    lines += ["## Speed", "", tabulate(speed, headers=SPEED_HEADERS, tablefmt="github") if speed
              else "No custom cell was timed on both sides: nothing to judge.", ""]
    other = [[r.job, r.check, r.baseline, r.current, r.change, r.verdict] for r in result.comparison.rows]
    lines += ["## Status, accuracy and kernels (round 1)", "", tabulate(other, headers=OTHER_HEADERS,
                                                                         tablefmt="github"), ""]
    if failures or others:
        lines += ["## Regressions", ""]
        lines += [f"- {row.label}: {STEP_NAMES.get(row.kind, row.kind)}-step time relative to the native layer "
                  f"rose {_pct(row.interval.estimate)} (interval {_pct(row.interval.low)} … "
                  f"{_pct(row.interval.high)}), wholly above the threshold {settings.threshold:.0%}"
                  for row in failures]
        lines += [f"- {row.message}" for row in others]
        lines.append("")
    lines.append(f"Every round's records and gate.json are in `{settings.out_dir}`.")
    return "\n".join(lines) + "\n"
