"""The A/B gate's own error rates, from its runs' gate.json files: `python -m bench gate-quality RUNS --out DIR`.

Runs are told apart by their tag (`bench compare --tag`): `aa-quiet` and `aa-busy` are A/A runs
(base = head; any FAIL is a false alarm), `power-N` runs give the head N units of needless work in
the slowed test cell's training step (tests/plugins/slowed_gru0.py; a FAIL of its training-step row
is a catch). The slowdown each N really made is measured, not assumed: the median over its runs of
the gate's own estimate.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd
from tabulate import tabulate

from bench.plan.config import ConfigError
from bench.gate.stats import FAIL, INCONCLUSIVE

RUNS_GOAL = 20  # runs per condition the issue asks for
WALL_GOAL_S = 300.0  # the gate's wall time goal, both sides included
# the criteria: (tag prefix, what counts, the most or the fewest allowed of RUNS_GOAL)
FALSE_ALARMS_ALLOWED = 1  # of 20 A/A runs (goal 0)
CATCHES_NEEDED = {10: 19, 5: 15}  # nominal slowdown % -> catches needed of 20
# tag -> the slowdown its units of extra work were calibrated to (two trial runs: 3 units +7.1%, 6 units +17.2%)
NOMINAL = {"power-2": 5, "power-4": 10, "power-7": 20}


def load_runs(folder: Path) -> list[dict[str, Any]]:
    """Every gate.json under `folder` (one folder per run), with its folder name."""
    runs = []
    for path in sorted(Path(folder).glob("*/gate.json")):
        summary = json.loads(path.read_text(encoding="utf-8"))
        summary["run"] = path.parent.name
        runs.append(summary)
    if not runs:
        raise ConfigError(f"no */gate.json under {folder}: run the gate with --out {folder}/NAME first "
                          "(reports/gate-quality/README.md has the commands)")
    return runs


def _train_row(run: dict[str, Any]) -> dict[str, Any] | None:
    return next((row for row in run["speed"] if row["kind"] == "train_step"), None)


def run_table(runs: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per run: its condition, verdict, rounds, wall time, load, and its rows' counts."""
    rows = []
    for run in runs:
        train = _train_row(run)
        rows.append({"run": run["run"], "tag": run["tag"], "verdict": run["verdict"], "rounds": run["rounds"],
                     "wall_s": round(run["wall_s"], 1), "load_start": run["load_start"], "load_end": run["load_end"],
                     "speed_rows": len(run["speed"]),
                     "failed_rows": sum(row["verdict"] == FAIL for row in run["speed"]),
                     "inconclusive_rows": sum(row["verdict"] == INCONCLUSIVE for row in run["speed"]),
                     "train_quotient": train["quotient"] if train else None,
                     "train_low": train["low"] if train else None, "train_high": train["high"] if train else None,
                     "train_verdict": train["verdict"] if train else None,
                     "base_commit": (run["base"]["commit"] or "")[:7], "head_commit": (run["head"]["commit"] or "")[:7],
                     "machine": run["machine"]})
    return pd.DataFrame(rows)


def _pct(value: float) -> str:
    return f"{(value - 1) * 100:+.1f}%"


def summary_markdown(runs: list[dict[str, Any]], table: pd.DataFrame) -> str:
    aa = table[table.tag.str.startswith("aa-")]
    lines = ["# The A/B gate's error rates", ""]
    verdicts = []
    if len(aa):
        alarms = int((aa.verdict == "FAIL").sum())
        verdicts.append(["false alarms in A/A runs", f"{alarms} of {len(aa)}", f"at most {FALSE_ALARMS_ALLOWED} of "
                         f"{RUNS_GOAL} (goal 0)", _met(alarms <= FALSE_ALARMS_ALLOWED and len(aa) >= RUNS_GOAL)])
    for tag, nominal in NOMINAL.items():
        power = table[table.tag == tag]
        if not len(power):
            continue
        caught = int((power.train_verdict == FAIL).sum())
        realized = statistics.median(power.train_quotient)
        need = CATCHES_NEEDED.get(nominal)
        verdicts.append([f"+{nominal}% slowdown caught (measured {_pct(realized)})", f"{caught} of {len(power)}",
                         f"at least {need} of {RUNS_GOAL}" if need else "—",
                         _met(caught >= need and len(power) >= RUNS_GOAL) if need else "—"])
    verdicts.append(["the gate's wall time (regress suite, A/A runs)",
                     f"median {statistics.median(aa.wall_s) if len(aa) else float('nan'):.0f} s, "
                     f"max {aa.wall_s.max() if len(aa) else float('nan'):.0f} s", f"under {WALL_GOAL_S:.0f} s",
                     _met(len(aa) > 0 and aa.wall_s.max() < WALL_GOAL_S)])
    lines += [tabulate(verdicts, headers=["criterion", "measured", "goal", "met"], tablefmt="github"), ""]
    by_tag = [[tag, len(group), int((group.verdict == "FAIL").sum()),
               int(((group.verdict == "pass") & (group.inconclusive_rows > 0)).sum()),
               f"{group.rounds.mean():.1f}", f"{statistics.median(group.wall_s):.0f} s", f"{group.wall_s.max():.0f} s",
               f"{group.load_start.min():.2f}–{group.load_start.max():.2f}"]
              for tag, group in table.groupby("tag")]
    lines += ["## Runs by condition", "",
              tabulate(by_tag, headers=["condition", "runs", "FAIL", "pass with inconclusive rows", "mean rounds",
                                        "median wall", "max wall", "load average at start"], tablefmt="github"), ""]
    if len(aa):
        lines += ["## A/A: how far each speed row moved with no change", "", _aa_rows(runs), ""]
    machines = sorted(set(table.machine))
    commits = sorted(set(table.base_commit) | set(table.head_commit))
    lines += [f"Machine: {'; '.join(machines)}. Code: commit {', '.join(commits)}. Generated by `python -m bench "
              "gate-quality` from the runs' gate.json files (reports/gate-quality/README.md).", ""]
    return "\n".join(lines)


def _aa_rows(runs: list[dict[str, Any]]) -> str:
    rows: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        if run["tag"].startswith("aa-"):
            for row in run["speed"]:
                rows[(row["label"], row["kind"])].append(row)
    table = [[label, kind.replace("_step", ""), len(found), _pct(min(r["quotient"] for r in found)),
              _pct(max(r["quotient"] for r in found)),
              f"±{statistics.median((r['high'] - r['low']) / 2 for r in found) * 100:.1f}%",
              f"{statistics.median(r['detectable'] for r in found) * 100:+.1f}%",
              sum(r["verdict"] == FAIL for r in found), sum(r["verdict"] == INCONCLUSIVE for r in found)]
             for (label, kind), found in sorted(rows.items())]
    return tabulate(table, headers=["job", "step", "runs", "lowest head ÷ base", "highest", "median half-width",
                                    "median smallest slowdown caught", "FAIL", "inconclusive"], tablefmt="github")


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def write_quality_report(folder: Path, out: Path) -> list[Path]:
    runs = load_runs(folder)
    table = run_table(runs)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "summary.md", out / "runs.csv"]
    written[0].write_text(summary_markdown(runs, table), encoding="utf-8")
    table.to_csv(written[1], index=False)
    return written
