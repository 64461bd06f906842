"""`python -m bench check [PLUGIN.py ...] [--cells NAME ...]`: one cell's verdict in one command.

First every correctness check (bench.correctness) in each framework that implements the
cell; then, for the frameworks where all of them passed, a short training on `digits`
beside the cell's native baseline and a paired step-time ratio to it, run as ordinary
harness jobs whose records land in results/check/. Correctness gates timing: a framework
with a failing row is neither trained nor timed. Exit 1 when a correctness row fails.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from tabulate import tabulate

from bench.cells import get_spec, implemented_in, list_cells
from bench.plan.config import DEFAULT_RESULTS_DIR, ConfigError, TimingConfig
from bench.correctness import CheckRow, check_cell
from bench.correctness.frameworks import installed
from bench.correctness.rows import FAIL, HEADERS, INFO, NOT_APPLICABLE
from bench.records.ratios import TIMING_KINDS, ratio
from bench.records.schema import Record

EXIT_INCORRECT = 1
TRAIN_TASK = "digits"  # small, no download: a learning signal in seconds
TIMING_SHAPE = "mnist"  # B64 T28 I28, the suite's reference shape for step times
CHECK_EPOCHS = 10  # digits epochs: enough for the native GRU to pass 0.8 and tell a cell that learns from one that does not
CHECK_HIDDEN = 64  # units for the check's training and timing (a cell that refuses it gets hidden = input)
CHECK_TIMING = TimingConfig(warmup_steps=3, timed_steps=20, paired=True)
CHECK_PARALLEL = 2  # training jobs side by side (timing jobs always run alone)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from bench.commands.options import add_cells_argument, add_plugin_argument

    parser.add_argument("files", nargs="*", type=Path, metavar="PLUGIN.py",
                        help="plugin files to load and check (every cell they register, unless --cells names some)")
    add_cells_argument(parser, "cells to check (default: the cells the given files register)")
    add_plugin_argument(parser)
    parser.add_argument("--frameworks", nargs="+", choices=("torch", "keras"), help="default: every one implemented")
    parser.add_argument("--correctness-only", action="store_true", help="skip the training and step-time rows")
    parser.add_argument("--epochs", type=int, default=CHECK_EPOCHS, help=f"digits epochs (default {CHECK_EPOCHS})")
    parser.add_argument("--markdown", type=Path, help="also write the table to this markdown file")
    parser.add_argument("--output", type=Path,
                        help="records file of the training and timing jobs (default results/check/CELLS-TIME.jsonl)")


def handle(args: argparse.Namespace) -> int:
    from bench.plan.plugins import load_plugins

    plugins = load_plugins(args.files, from_env=False, entry_points=False)
    given = {str(path.resolve()) for path in args.files}  # the files named on this command line
    cells = args.cells or [name for plugin in plugins if plugin.source in given for name in plugin.cells]
    if not cells:
        raise ConfigError("nothing to check: give a plugin file (python -m bench check my_cell.py) or --cells NAME; "
                          f"registered cells are: {', '.join(list_cells())}")
    for name in cells:
        get_spec(name)  # unknown -> the registry's error with the valid names
    if args.markdown is not None and args.markdown.is_dir():
        raise ConfigError(f"--markdown {args.markdown} is a folder; give a file, e.g. {args.markdown / 'check.md'}")
    rows: list[CheckRow] = []
    for name in cells:
        print(f"checking {name} ...", flush=True)
        rows += check_cell(name, tuple(args.frameworks) if args.frameworks else None)
    # the reference is the arbiter: a framework's own failing rows gate it, a Keras-vs-torch mismatch alone does not
    correct = {(name, fw) for name in cells for fw in implemented_in(name)
               if installed(fw) and (not args.frameworks or fw in args.frameworks)
               and not any(r.failed and r.cell == name and r.framework == fw for r in rows)}
    if not args.correctness_only:
        rows += _measured_rows(args, cells, correct)
    table = tabulate([row.as_list() for row in rows], headers=HEADERS, tablefmt="github")
    print(table)
    failed = [row for row in rows if row.failed and row.correctness]
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(_markdown(cells, plugins, table, failed))
        print(f"markdown written to {args.markdown}")
    if failed:
        for row in failed:
            print(f"FAIL: {row.cell} in {row.framework}: {row.check}: {row.figure}"
                  + (f", worst at {row.where}" if row.where else ""), file=sys.stderr)
        return EXIT_INCORRECT
    print(f"{', '.join(cells)}: every correctness check passed")
    return 0


def _markdown(cells: list[str], plugins, table: str, failed: list[CheckRow]) -> str:
    lines = [f"# bench check: {', '.join(cells)}", "",
             f"Verdict: **{'FAIL' if failed else 'pass'}** ({len(failed)} failing correctness rows).", ""]
    for plugin in plugins:
        lines.append(f"- plugin `{plugin.source}`, sha256 `{plugin.sha256}`: {', '.join(plugin.cells)}")
    return "\n".join(lines + ["", table, ""])


# -- training and timing, as harness jobs --------------------------------------------------------------

def _measured_rows(args: argparse.Namespace, cells: list[str], correct: set[tuple[str, str]]) -> list[CheckRow]:
    from bench.commands.options import job_settings
    from bench.run.executors.local import LocalExecutor
    from bench.plan.jobs import Axes, dedupe, expand
    from bench.records.store import RecordStore, latest_by_job
    from bench.run.sweep import run_sweep

    rows, train_jobs, timing_jobs, wanted = [], [], [], {}
    for name in cells:
        for framework in sorted(set(implemented_in(name)) - {f for n, f in correct if n == name}):
            if installed(framework) and (not args.frameworks or framework in args.frameworks):
                rows.append(CheckRow(name, "training and step time", framework, NOT_APPLICABLE,
                                     "not run: a correctness check failed (correctness gates timing)",
                                     correctness=False))
    for name, framework in sorted(correct):
        spec = get_spec(name)
        train = expand(Axes(tasks=(TRAIN_TASK,), measure="train", cells=(name, spec.baseline), frameworks=(framework,),
                            epochs=args.epochs, hidden_sizes=(_hidden_for(spec, 8),)))
        timing = [] if spec.native else expand(Axes(
            tasks=(TIMING_SHAPE,), measure="timing", cells=(name,), frameworks=(framework,), timing=CHECK_TIMING,
            hidden_sizes=(_hidden_for(spec, 28),)))
        wanted[(name, framework)] = (train, timing)
        train_jobs += train
        timing_jobs += timing
    if not wanted:
        return rows
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    output = args.output or DEFAULT_RESULTS_DIR / "check" / f"{'-'.join(cells)[:80]}-{stamp}.jsonl"
    output.parent.mkdir(parents=True, exist_ok=True)
    store = RecordStore(output)
    settings = job_settings(argparse.Namespace(profile=False, data_dir=None))
    print(f"training on {TRAIN_TASK} and timing at the {TIMING_SHAPE} shape; records -> {output}", flush=True)
    with store.held():
        run_sweep(dedupe(train_jobs), store, LocalExecutor(timeout_s=600, parallel=CHECK_PARALLEL, settings=settings),
                  progress=False)
        run_sweep(dedupe(timing_jobs), store, LocalExecutor(timeout_s=600, settings=settings), progress=False)
    records = latest_by_job(store.load())
    for (name, framework), (train, timing) in wanted.items():
        rows.append(_train_row(name, framework, train, records))
        if timing:
            rows.append(_timing_row(name, framework, timing[0], records))
    return rows


def _hidden_for(spec, input_size: int) -> int:
    try:
        spec.weight_shapes(input_size, CHECK_HIDDEN)
        return CHECK_HIDDEN
    except ValueError:  # e.g. a cell whose hidden size must equal its input size
        return input_size


def _unmeasured(record: Record | None) -> str | None:
    """Why a job gave no measurement ("error: ..."), or None for an ok record."""
    if record is not None and record.status == "ok":
        return None
    status = record.status if record else "no record"
    lines = [line for line in ((record.error if record else None) or "").strip().splitlines() if line.strip()]
    # Keras wraps the cause: its last non-trace line says what went wrong
    cause = next((line.strip() for line in reversed(lines) if not line.startswith((" ", "Traceback", "File"))), "")
    return f"{status}: {lines[0][:120]}" + (f" … {cause[:160]}" if cause and cause != lines[0] else "") \
        if lines else status


def _failed_in_harness(reasons: list[str]) -> bool:
    """A job that could not run the cell at all (error, incorrect, timeout) fails the check; diverged is a result."""
    return any(not reason.startswith(("diverged", "oom")) for reason in reasons)


def _train_row(name: str, framework: str, jobs, records) -> CheckRow:
    parts, reasons = [], []
    for job in jobs:
        record = records.get(job.job_id)
        reason = _unmeasured(record)
        if reason is not None:
            parts.append(f"{job.cell}: {reason}")
            reasons.append(reason)
            continue
        parts.append(f"{job.cell}: {record.train.metric} {record.train.test_metric:.3f}, "
                     f"{record.params.recurrent:,} recurrent parameters")
    failed = _failed_in_harness(reasons)
    return CheckRow(name, f"training {TRAIN_TASK}, {jobs[0].epochs} epochs, H{jobs[0].hidden_size}", framework,
                    FAIL if failed else INFO, "; ".join(parts), correctness=failed)


def _timing_row(name: str, framework: str, job, records) -> CheckRow:
    record = records.get(job.job_id)
    check = f"step time ÷ {get_spec(name).baseline}, B{job.batch_size} T{job.seq_len} I{job.input_size} H{job.hidden_size}"
    reason = _unmeasured(record)
    if reason is not None:
        failed = _failed_in_harness([reason])
        return CheckRow(name, check, framework, FAIL if failed else INFO, reason, correctness=failed)
    train, infer = (ratio([record], None, kind) for kind in TIMING_KINDS)  # paired in its job: no native rounds needed
    if train is None or infer is None:
        return CheckRow(name, check, framework, INFO, "timed, but not paired with its native layer", correctness=False)
    figure = (f"training step ×{train.value:.2f}, inference step ×{infer.value:.2f} (paired medians, {job.mode}; "
              f"{record.timing.train_step.median_s * 1e3:.1f} ms per training step)")
    return CheckRow(name, check, f"{framework}", INFO, figure, correctness=False)
