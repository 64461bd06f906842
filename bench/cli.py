"""Command line: `python -m bench list | run | report`.

Each subcommand is a (name, help, add_arguments, handler) entry in SUBCOMMANDS; a new
one (the `compare` gate) adds its own entry from its own module.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Callable, Sequence

from bench.commands import run as run_command
from bench.cells import UnknownCellError
from bench.commands.options import add_plugin_argument, check_folder
from bench.plan.config import ConfigError
from bench.records.store import RecordsBusyError


# -- list --------------------------------------------------------------------------------------

def _add_list(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-devices", action="store_true",
                        help="skip probing devices (which imports torch and TensorFlow/JAX)")
    add_plugin_argument(parser)


def _cmd_list(args: argparse.Namespace) -> int:
    from bench.commands import listing

    print(listing.render(probe_devices=not args.no_devices))
    return 0


# -- report ------------------------------------------------------------------------------------

def _add_report(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("records", type=Path, help="a results JSONL file written by `bench run`")
    parser.add_argument("--out", type=Path, required=True, help="folder for summary.md, results.csv and plots")


def _cmd_report(args: argparse.Namespace) -> int:
    from bench.report.summary import write_report

    if not args.records.is_file():
        raise ConfigError(f"no records file at {args.records}; run `python -m bench run` first "
                          "(it writes results/SUITE.jsonl)")
    check_folder("--out", args.out)
    written = write_report(args.records, args.out)
    print(f"report written to {args.out.resolve()}: " + ", ".join(p.name for p in written["files"]))
    return 0


# -- gate-quality -----------------------------------------------------------------------------

def _add_gate_quality(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", type=Path, help="a folder of A/B runs, one sub-folder each (bench compare --out)")
    parser.add_argument("--out", type=Path, required=True, help="folder for summary.md and runs.csv")


def _cmd_gate_quality(args: argparse.Namespace) -> int:
    from bench.gate.quality import write_quality_report

    check_folder("--out", args.out)
    written = write_quality_report(args.runs, args.out)
    print(f"gate-quality report written to {args.out.resolve()}: " + ", ".join(p.name for p in written))
    return 0


Handler = Callable[[argparse.Namespace], int]
SUBCOMMANDS: list[tuple[str, str, Callable[[argparse.ArgumentParser], None], Handler]] = [
    ("list", "cells, tasks, suites, execution modes and devices", _add_list, _cmd_list),
    ("run", "run a suite or explicit axes; append one record per job", run_command.add_arguments,
     run_command.handle),
    ("report", "write summary.md, results.csv and plots from a records file", _add_report, _cmd_report),
    ("gate-quality", "the A/B gate's false alarms, catches and wall time from its runs' gate.json files",
     _add_gate_quality, _cmd_gate_quality),
]

# `compare` (issue 5): the regression gate against a baseline records file.
from bench.commands import compare as _compare  # noqa: E402

SUBCOMMANDS.append(("compare", "hold records against a baseline; exit 1 on a regression",
                    _compare.add_arguments, _compare.run))

# `check`: one cell's verdict, correctness first, then training and a paired step-time ratio.
from bench.commands import check as _check  # noqa: E402

SUBCOMMANDS.append(("check", "check a cell (a plugin file's, or a registered one) against its reference, then train "
                    "and time it beside its native baseline; exit 1 when it is wrong", _check.add_arguments,
                    _check.handle))

# `replicate` (issue 7): run a replication suite and write its side-by-side report.
from bench.commands import replicate as _replicate  # noqa: E402

SUBCOMMANDS.append(("replicate", "run a replication suite (reports/replication/NAME) and write its side-by-side "
                    "report", _replicate.add_arguments, _replicate.handle))


# `ab-times` (issue 33): an A/B run's step times on each side, for stacks where the ratio hides a change.
from bench.commands import ab_times as _ab_times  # noqa: E402

SUBCOMMANDS.append(("ab-times", "an A/B run's step times on each side (its own and its native layer's), head ÷ base "
                    "with intervals, compile times and how its jobs ended, from its folder", _ab_times.add_arguments,
                    _ab_times.handle))


# `history` (issue 30): results over commits, the backfill, the page.
from bench.commands import history as _history  # noqa: E402

SUBCOMMANDS.append(("history", "results over commits: backfill a range of commits, add A/B runs or records, write "
                    "the page (HTML and markdown) and github-action-benchmark JSON", _history.add_arguments,
                    _history.handle))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench",
                                     description="Benchmark recurrent cells against native layers in Keras and PyTorch.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(s[0] for s in SUBCOMMANDS) + "}")
    for name, help_text, add_arguments, handler in SUBCOMMANDS:
        command = sub.add_parser(name, help=help_text, description=help_text)
        add_arguments(command)
        command.set_defaults(handler=handler)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM (`kill`, `timeout`, a CI runner cancelling): stop as Ctrl-C does, running jobs killed."""


def _raise_terminated(_signum: int, _frame) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # SIGTERM's default would end this process at once, leaving its job processes running on
    # as orphans; raised as an exception it unwinds through the executors' cleanup instead
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if on_main_thread else None
    try:
        if hasattr(args, "plugin"):  # the commands that take --plugin also load $RNNBENCH_PLUGINS and entry points
            from bench.plan.plugins import load_plugins

            load_plugins(args.plugin)
        return args.handler(args)
    except (ConfigError, UnknownCellError, RecordsBusyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:
        terminated = isinstance(stop, Terminated)
        print(f"\n{'terminated' if terminated else 'interrupted'}; the records written so far are kept: rerun the "
              "same command to resume", file=sys.stderr)
        return 128 + (signal.SIGTERM if terminated else signal.SIGINT)
    finally:
        if on_main_thread:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
