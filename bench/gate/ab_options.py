"""`bench compare --against [REV]`: the A/B gate's options, and the run they ask for.

Which base a bare `--against` (tox -e regress, .ci/run) means: the commit that
reports/baseline/ab-base.txt names. A fixed, committed reference rather than HEAD~1, because a
submission of several commits would otherwise be judged on its last commit only, and slowdowns
spread over commits would each pass; the file moves on in a commit of its own when a change of
speed is accepted (docs/regression_gate.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from bench.plan.config import REPO_ROOT, ConfigError
from bench.gate import sides
from bench.gate.ab import ABResult, ABSettings, run_ab
from bench.gate.tolerances import Tolerance

BASE_FILE = REPO_ROOT / "reports" / "baseline" / "ab-base.txt"  # the committed base of a bare --against
COMMITTED_BASE = "@committed"  # what a bare --against stands for
DEFAULT_SUITE = "regress"
# Fail when the interval of head ÷ base lies wholly above 1 + 3%. Set before the runs of reports/gate-quality/,
# which measure what it gives: the rule catches a slowdown reliably only when it exceeds the threshold by more
# than an interval half-width (±2-5% on this 2-core machine), and with no change estimates reached +3%.
DEFAULT_THRESHOLD = 0.03
DEFAULT_MIN_ROUNDS, DEFAULT_MAX_ROUNDS = 2, 4  # ABBA, then once more ABBA for what is still inconclusive
DEFAULT_THREADS = 1  # as the stored-baseline gate: a step never waits on a core another process holds


def committed_base() -> str:
    """The revision reports/baseline/ab-base.txt names (its first word)."""
    if not BASE_FILE.is_file():
        raise ConfigError(f"no {BASE_FILE.relative_to(REPO_ROOT)}: name a base with --against REV (e.g. HEAD~1 or "
                          "origin/main), or commit that file with the commit to hold changes against")
    words = BASE_FILE.read_text(encoding="utf-8").split()
    if not words:
        raise ConfigError(f"{BASE_FILE} is empty; its first word should be the base commit")
    return words[0]


def _threshold(text: str) -> float:
    value = text.strip().rstrip("%")
    try:
        number = float(value) / (100 if text.strip().endswith("%") else 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a threshold; write e.g. 3% or 0.03") from None
    if not 0 <= number < 1:
        raise argparse.ArgumentTypeError(f"threshold {text!r} must lie between 0% and 100%")
    return number


def _variable(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return key, value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    ab = parser.add_argument_group("A/B mode (--against): a base revision and the working tree, run here, now")
    ab.add_argument("--against", nargs="?", const=COMMITTED_BASE, metavar="REV",
                    help="the base revision (commit, branch, tag, e.g. origin/main or HEAD~1); bare: the commit "
                         f"{BASE_FILE.relative_to(REPO_ROOT)} names")
    ab.add_argument("--suite", default=DEFAULT_SUITE, help=f"the suite both sides run (default {DEFAULT_SUITE})")
    ab.add_argument("--threshold", type=_threshold, default=DEFAULT_THRESHOLD,
                    help=f"fail when head's paired ratio is proved more than this much above base's (default "
                         f"{DEFAULT_THRESHOLD:.0%})".replace("%", "%%"))
    ab.add_argument("--min-rounds", type=int, default=DEFAULT_MIN_ROUNDS,
                    help=f"job processes a side for every custom cell (default {DEFAULT_MIN_ROUNDS})")
    ab.add_argument("--max-rounds", type=int, default=DEFAULT_MAX_ROUNDS,
                    help=f"at most, for cells still inconclusive (default {DEFAULT_MAX_ROUNDS})")
    ab.add_argument("--threads", type=int, default=DEFAULT_THREADS, help="threads per job, both sides (default 1)")
    ab.add_argument("--cells", help="only these cells of the suite (comma-separated), both sides")
    ab.add_argument("--frameworks", help="only these frameworks (comma-separated), both sides")
    ab.add_argument("--plugin", action="append", default=[], type=Path, metavar="PATH",
                    help="a plugin file both sides load (repeatable)")
    ab.add_argument("--head-env", action="append", default=[], type=_variable, metavar="KEY=VALUE",
                    help="an environment variable for the head's jobs only (repeatable): A/B of a setting")
    ab.add_argument("--out", type=Path, help="folder for every round's records and gate.json "
                                             "(default results/ab/TIME-BASE-HEAD)")
    ab.add_argument("--history", type=Path, help="also add both sides' results to this history file "
                                                 "(bench history; e.g. results/history.sqlite)")
    ab.add_argument("--tag", default="", help="a word stored in gate.json to tell runs apart (e.g. aa-busy)")
    ab.add_argument("--clean", action="store_true", help="refuse a working tree with uncommitted changes (for a "
                                                        "history entry that must name a commit)")


def _select(args: argparse.Namespace) -> tuple[str, ...]:
    out: list[str] = []
    if args.cells:
        out += ["--cells", args.cells]
    if args.frameworks:
        out += ["--frameworks", *args.frameworks.split(",")]
    for plugin in args.plugin:
        out += ["--plugin", str(plugin.resolve())]
    return tuple(out)


def run(args: argparse.Namespace, tolerances: dict[str, Tolerance]) -> ABResult:
    """Resolve the two sides, run the rounds, add to the history when asked."""
    rev = committed_base() if args.against == COMMITTED_BASE else args.against
    commit = sides.resolve(rev)
    if (args.clean or args.history is not None) and sides.is_dirty():
        raise ConfigError("the working tree has uncommitted changes, and "
                          + ("--clean" if args.clean else "--history") + " needs the head to be a commit: commit "
                          "or stash them (git stash), or drop " + ("--clean" if args.clean else "--history"))
    if args.history is not None:
        from bench.gate.history import History

        History(args.history).check_writable()  # a newer schema fails now, not after the rounds
    head = sides.head_side(dict(args.head_env))
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out or Path("results") / "ab" / f"{stamp}-{sides.short(commit)}-{sides.short(head.commit or 'dirty')}"
    with sides.worktree(commit) as root:
        base = sides.base_side(commit, root, {})
        settings = ABSettings(suite=args.suite, threshold=args.threshold, tolerances=tolerances,
                              min_rounds=args.min_rounds, max_rounds=args.max_rounds, threads=args.threads,
                              out_dir=out.resolve(), select=_select(args), tag=args.tag)
        print(f"A/B: base {base.label} against head {head.label}, suite {args.suite}; records in {settings.out_dir}",
              flush=True)
        result = run_ab(base, head, settings, say=lambda text: print(text, flush=True))
    if args.history is not None:
        from bench.gate.history import History

        History(args.history).add_gate(settings.out_dir)
    return result
