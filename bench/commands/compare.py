"""`python -m bench compare`: the regression gate's command line, in its two modes.

- A/B (`--against [REV]`): REV and the working tree run the suite here, now, rounds alternating
  (bench.gate.ab); without REV, the commit reports/baseline/ab-base.txt names.
- Stored baseline (`--baseline FILE CURRENT`): records of a run held against committed records
  (bench.gate.stored), for users without the project's history (a pip install).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from tabulate import tabulate

from bench.gate.stored import EXIT_PASS, EXIT_REGRESSION, SPEED_POLICIES, Comparison, compare
from bench.plan.config import ConfigError
from bench.gate import ab_options, ab_report
from bench.records.store import RecordStore
from bench.gate.tolerances import DEFAULT_TOLERANCES, FIELDS, Tolerance, resolve_tolerances


HEADERS = ["job", "check", "baseline", "current", "change", "verdict"]


def render(comparison: Comparison, baseline_path: Path, current_path: Path,
           tolerances: dict[str, Tolerance]) -> str:
    """The markdown report: verdict, notes, the table of every comparison, and each failure."""
    failures = comparison.failures
    verdict = (f"**FAILED**: {len(failures)} regression{'s' if len(failures) != 1 else ''}" if failures
               else "**PASSED**: no regression")
    lines = [
        "# rnnbench regression gate", "",
        f"{verdict} — `{current_path}` against the baseline `{baseline_path}`.", "",
        "Mode: stored baseline (records measured elsewhere, possibly on another machine; `--against` runs both "
        "sides here instead).", "",
        "Tolerances: " + ", ".join(f"`{t.spelled()}`" for t in tolerances.values()) + ".", "",
        *[f"- {note}" for note in comparison.notes], "",
    ]
    table = [[r.job, r.check, r.baseline, r.current, r.change, r.verdict] for r in comparison.rows]
    lines += [tabulate(table, headers=HEADERS, tablefmt="github"), ""]
    if failures:
        lines += ["## Regressions", ""] + [f"- {row.message}" for row in failures] + [""]
    return "\n".join(lines)


def _load(path: Path, what: str) -> list[dict[str, Any]]:
    if not path.is_file():
        raise ConfigError(f"no {what} records file at {path}; "
                          + ("pass the committed baseline, e.g. reports/baseline/regress.jsonl"
                             if what == "baseline" else "run `python -m bench run --suite regress` first"))
    records = RecordStore(path).load()
    if not records:
        raise ConfigError(f"the {what} file {path} holds no readable records (empty, or written by another "
                          "schema version); regenerate it with `python -m bench run`")
    return records


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `bench compare`."""
    parser.add_argument("current", type=Path, nargs="?", help="stored-baseline mode: records JSONL of the run to judge")
    parser.add_argument("--baseline", type=Path, help="stored-baseline mode: records JSONL to judge CURRENT against")
    ab_options.add_arguments(parser)
    parser.add_argument("--tolerance", action="append", default=[], metavar="FIELD:THRESHOLD",
                        help="allowed change in the bad direction, absolute (accuracy:0.02) or relative to the "
                             f"baseline (ratio:15%%); fields: {', '.join(FIELDS)}, ratio (both ratios); "
                             "repeatable; defaults: " + " ".join(DEFAULT_TOLERANCES).replace("%", "%%"))  # argparse %-formats help
    parser.add_argument("--speed", choices=SPEED_POLICIES, default="auto",
                        help="judge step-time ratios only when machine class and backend match (auto, default), "
                             "always, or never")
    parser.add_argument("--markdown", type=Path,
                        help="also write the table as markdown here (default: append to $GITHUB_STEP_SUMMARY "
                             "when that is set)")


def run(args: argparse.Namespace) -> int:
    """Compare, print the table, write the markdown; 0 when nothing regressed, 1 otherwise."""
    tolerances = resolve_tolerances(args.tolerance)
    if args.markdown is not None and args.markdown.is_dir():
        raise ConfigError(f"--markdown {args.markdown} is a folder; give the file to write the table to, "
                          f"e.g. {args.markdown / 'regress-gate.md'}")
    if args.against is not None:
        if args.baseline is not None or args.current is not None:
            raise ConfigError("--against runs both sides here; it takes no --baseline or CURRENT records file. "
                              "Use one mode: --against [REV], or --baseline FILE CURRENT")
        result = ab_options.run(args, tolerances)
        _publish(ab_report.render(result), args.markdown)
        return EXIT_REGRESSION if result.failed else EXIT_PASS
    if args.baseline is None or args.current is None:
        raise ConfigError("say what to compare: --against [REV] (A/B: REV and the working tree run the suite here; "
                          "REV defaults to the commit reports/baseline/ab-base.txt names), or --baseline FILE "
                          "CURRENT (stored baseline: a records file against committed records)")
    baseline, current = _load(args.baseline, "baseline"), _load(args.current, "current")
    comparison = compare(baseline, current, tolerances, args.speed)
    _publish(render(comparison, args.baseline, args.current, tolerances), args.markdown)
    return EXIT_PASS if comparison.passed else EXIT_REGRESSION


def _publish(text: str, markdown: Path | None) -> None:
    """Print the report; write it to --markdown, or append it to $GITHUB_STEP_SUMMARY where that is set."""
    print(text)
    summary = markdown or (Path(os.environ["GITHUB_STEP_SUMMARY"]) if os.environ.get("GITHUB_STEP_SUMMARY") else None)
    if summary is not None:
        summary.parent.mkdir(parents=True, exist_ok=True)
        mode = "w" if markdown else "a"  # a CI summary file collects several steps' output
        with summary.open(mode, encoding="utf-8") as fh:
            fh.write(text + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m bench.gate.stored ...`, the same as `python -m bench compare ...`."""
    parser = argparse.ArgumentParser(prog="python -m bench compare", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
