"""`python -m bench ab-times DIR... --out OUT`: an A/B run's step times on each side (bench.gate.ab_times)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folders", type=Path, nargs="+", metavar="DIR",
                        help="A/B run folders (bench compare --against REV --out DIR)")
    parser.add_argument("--out", type=Path, required=True, help="write summary.md and one CSV per run here")


def handle(args: argparse.Namespace) -> int:
    from bench.gate.ab_times import write

    path = write(list(args.folders), args.out)
    print(f"step times of {len(args.folders)} A/B run(s) written to {path}")
    return 0
