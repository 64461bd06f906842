"""`python -m bench history`: results over commits, from the history store (bench.gate.history).

    python -m bench history --backfill HEAD~60..HEAD          # the regress suite at each commit that touched the code
    python -m bench history --add-gate results/ab/RUN          # an A/B run's two sides (bench compare --history does it)
    python -m bench history --add-records results/regress.jsonl
    python -m bench history --out reports/history              # index.html, README-style history.md, plots inline
    python -m bench history --export-benchmark-json bench.json # github-action-benchmark, customSmallerIsBetter
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.plan.config import ConfigError

DEFAULT_HISTORY = Path("results") / "history.sqlite"
DEFAULT_RECORDS_DIR = Path("reports") / "history" / "records"  # a backfill's records, one file per commit


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--history", type=Path, default=DEFAULT_HISTORY,
                        help=f"the history file (SQLite; default {DEFAULT_HISTORY})")
    parser.add_argument("--backfill", metavar="A..B",
                        help="run the regress suite at each first-parent commit of A..B that touched cells, runners "
                             "or timing, in temporary worktrees (resumes: commits with records are skipped), and add "
                             "them to the history")
    parser.add_argument("--records-dir", type=Path, default=DEFAULT_RECORDS_DIR,
                        help=f"where --backfill keeps each commit's records (default {DEFAULT_RECORDS_DIR})")
    parser.add_argument("--threads", type=int, default=1, help="threads per job for --backfill (default 1)")
    parser.add_argument("--add-gate", type=Path, action="append", default=[], metavar="DIR",
                        help="add an A/B run's folder (its gate.json and every round's records); repeatable")
    parser.add_argument("--add-records", type=Path, action="append", default=[], metavar="JSONL",
                        help="add a records file of `bench run`; repeatable")
    parser.add_argument("--out", type=Path, help="write the page here: index.html (self-contained) and history.md")
    parser.add_argument("--export-benchmark-json", type=Path, metavar="PATH",
                        help="write the newest commit's ratios as github-action-benchmark's customSmallerIsBetter "
                             "JSON")


def handle(args: argparse.Namespace) -> int:
    from bench.gate.history import History

    if not (args.backfill or args.add_gate or args.add_records or args.out or args.export_benchmark_json):
        raise ConfigError("say what to do: --backfill A..B, --add-gate DIR, --add-records JSONL, --out DIR "
                          "(the page) or --export-benchmark-json PATH")
    history = History(args.history)
    history.check_writable()
    if args.backfill:
        from bench.gate.backfill import backfill

        for point in backfill(args.backfill, args.records_dir, args.threads):
            history.add_backfill(point.commit, point.records)
    for folder in args.add_gate:
        history.add_gate(folder)
    for path in args.add_records:
        history.add_records(path, source="run", run_id=str(path))
    if args.out is not None:
        from bench.gate.history_page import write_page

        written = write_page(history, args.out)
        print(f"history page written to {args.out.resolve()}: " + ", ".join(p.name for p in written))
    if args.export_benchmark_json is not None:
        from bench.gate.history_page import export_benchmark_json

        count = export_benchmark_json(history, args.export_benchmark_json)
        print(f"{count} entries written to {args.export_benchmark_json}")
    print(f"history: {history.count()} rows in {args.history}")
    return 0
