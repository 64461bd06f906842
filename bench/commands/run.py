"""`bench run`: a suite or explicit axes into records, then the run's report."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from bench.commands.options import add_cells_argument, add_plugin_argument, check_folder, job_settings
from bench.plan.config import (BACKENDS, DEFAULT_JOB_TIMEOUT_S, DEFAULT_REPORTS_DIR, DEFAULT_RESULTS_DIR, DEVICES,
                               FRAMEWORKS, MEASURES, ConfigError, RunConfig, TimingConfig)
from bench.plan.knobs import KNOBS
from bench.plan.modes import list_modes
from bench.records.store import RecordStore
from bench.run.sweep import EXIT_JOBS_FAILED, check_tasks


MAX_FAILED_LISTED = 10  # failed jobs named in the closing message; their records hold the rest


def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_argument_group("what to run (a suite, explicit axes, or a suite with axes replaced)")
    what.add_argument("--suite", help="named suite (see `bench list`); default quick when no axis is given")
    add_cells_argument(what, "cell names (default: every registered cell)")
    what.add_argument("--frameworks", nargs="+", choices=FRAMEWORKS, help="default: both")
    keras_modes = dict.fromkeys(mode.name for backend in BACKENDS["keras"] for mode in list_modes(backend))
    torch_modes = " ".join(mode.name for mode in list_modes("torch"))
    what.add_argument("--modes", nargs="+", help=f"{torch_modes} (torch), {' '.join(keras_modes)} "
                      "(Keras), or the aliases default/compiled; modes a framework lacks are skipped for it")
    what.add_argument("--tasks", nargs="+", help="datasets to train on (or timing shape labels with --measure timing)")
    what.add_argument("--measure", choices=MEASURES, help="train (accuracy), timing (step time) or both; default train")
    what.add_argument("--layers", nargs="+", type=int, dest="num_layers", help="stacked layers (default 1)")
    what.add_argument("--hidden", nargs="+", type=int, dest="hidden_sizes", help="hidden sizes (default 128)")
    what.add_argument("--batch-size", nargs="+", type=int, dest="batch_sizes", help="batch sizes (default 64)")
    what.add_argument("--bidirectional", action="store_true", help="bidirectional layers")
    what.add_argument("--epochs", type=int, help="training epochs (default 5 for explicit train runs)")
    what.add_argument("--seeds", nargs="+", type=int, help="seeds, one job each (default 0)")
    for knob in KNOBS:  # the run settings, one job per value given (bench.plan.knobs)
        what.add_argument(knob.flag, nargs="+", dest=knob.axis, type=knob.type, choices=knob.choices or None,
                          metavar=None if knob.choices else knob.name.upper(),
                          help=f"{knob.help}; one job each")
    what.add_argument("--target", type=float, help="validation metric counted as reached (epochs to target)")
    what.add_argument("--seq-len", type=int, help="timing: steps per sequence (default: the shape's)")
    what.add_argument("--input-size", type=int, help="timing: features per step (default: the shape's)")
    what.add_argument("--warmup-steps", type=int,
                      help=f"timing: untimed steps first (default {TimingConfig.warmup_steps})")
    what.add_argument("--timed-steps", type=int, help=f"timing: timed steps (default {TimingConfig.timed_steps})")
    what.add_argument("--task-option", action="append", default=[], metavar="KEY=VALUE",
                      help="option for datasets.load, VALUE as JSON (e.g. limit_train=5000); repeatable")
    what.add_argument("--device", choices=DEVICES, help="default: the suite's device, else cpu")
    what.add_argument("--keras-backend", choices=("tensorflow", "jax"),
                      help="default: tensorflow when installed, else jax")
    how = parser.add_argument_group("how")
    how.add_argument("--output", type=Path, help="records file (default results/SUITE.jsonl)")
    how.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                     help="skip jobs that already have a record in --output (default on)")
    how.add_argument("--retry-failed", action="store_true", help="with --resume, run error/timeout/incorrect jobs again")
    how.add_argument("--allow-failures", action="store_true",
                     help="exit 0 even when jobs of this run end error, timeout or incorrect (their records are kept either "
                          "way); for pipelines whose next step judges the records, such as `bench compare`")
    how.add_argument("--timeout", type=float, default=None,
                     help=f"per-job limit in seconds (default: the suite's, else {DEFAULT_JOB_TIMEOUT_S:.0f})")
    how.add_argument("--threads", type=int, help="threads per job (default: every available core)")
    how.add_argument("--parallel", type=int, default=1,
                     help="local executor: run N job processes at once; their start-up and compiling overlap, "
                          "their timed steps never do (a device lock). For GPU suites and accuracy-only runs; "
                          "refused for CPU timing jobs (default 1)")
    how.add_argument("--reuse-processes", action=argparse.BooleanOptionalAction, default=None,
                     help="local executor, one job at a time: one process per framework runs job after job (the "
                          "framework imported once, torch.compile warm after its first job; each record says which "
                          "job of its process it was) instead of a fresh process per job (default: the suite's "
                          "choice, on for quick, else off)")
    how.add_argument("--data-dir", type=Path,
                     help="folder holding the dataset files, laid out as shared/data (mnist/, notmnist_small_10k/, "
                          "sentiment/); the jobs look there first, in place of $RNNBENCH_DATA_DIR (default: "
                          "$RNNBENCH_DATA_DIR, then the download cache)")
    add_plugin_argument(how)
    how.add_argument("--profile", action="store_true",
                     help="after timing, run a few steps of each timing job under torch.profiler and record the "
                          "kernels (GPU) or operators (CPU) per step and where the time went (torch jobs)")
    how.add_argument("--executor", choices=("local", "ray"), default="local",
                     help="local: subprocesses on this machine; ray: Ray tasks on a cluster (docs/ray.md)")
    how.add_argument("--gpu-share", type=float, default=1.0,
                     help="with --executor ray: the share of a GPU each accuracy-only GPU job asks for; "
                          "0.25 packs four on a GPU (timing jobs always take a whole GPU; default 1)")
    how.add_argument("--address", help="with --executor ray: the cluster, e.g. HEAD_IP:6379 (default: RAY_ADDRESS, "
                     "else a cluster started here with `ray start`, else a fresh local Ray)")
    how.add_argument("--report-dir", type=Path, help="report folder (default reports/local/DEVICE-SUITE, untracked)")
    how.add_argument("--no-report", action="store_true", help="do not write the report after the run")
    how.add_argument("--history", type=Path, metavar="FILE",
                     help="also add the run's records to this history file (bench history; e.g. "
                          "results/history.sqlite)")
    how.add_argument("--no-progress", action="store_true", help="no progress bar")
    how.add_argument("--dry-run", action="store_true", help="print the jobs and exit")


# CLI lists that become tuple axes
AXIS_ARGS = ("cells", "frameworks", "modes", "tasks", "num_layers", "hidden_sizes", "batch_sizes", "seeds",
             *(knob.axis for knob in KNOBS))


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Axes given on the command line, as Axes field names."""
    out: dict[str, Any] = {name: tuple(getattr(args, name)) for name in AXIS_ARGS if getattr(args, name)}
    if args.bidirectional:
        out["bidirectional"] = (True,)
    for name in ("epochs", "target", "seq_len", "input_size", "warmup_steps", "timed_steps", "keras_backend"):
        if getattr(args, name) is not None:
            out[name] = getattr(args, name)
    if args.task_option:
        from bench.plan.jobs import freeze_options
        out["task_options"] = freeze_options(dict(_parse_option(item) for item in args.task_option))
    return out


def _parse_option(item: str) -> tuple[str, Any]:
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"--task-option expects KEY=VALUE, got {item!r}")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw  # a bare word is a string


def build_jobs(args: argparse.Namespace):
    """(suite name or "custom", device, jobs) from the arguments."""
    from bench.plan.jobs import Axes, expand
    from bench.plan.suites import get_suite

    overrides = _overrides(args)
    if args.suite or not overrides:
        suite = get_suite(args.suite or "quick")
        if args.device:
            import dataclasses
            suite = dataclasses.replace(suite, device=args.device)
        if args.measure:
            raise ConfigError("--measure cannot change a suite; drop --suite to run explicit axes")
        return suite.name, suite.device, suite.jobs(overrides)
    measure = args.measure or "train"
    timing = overrides.pop("warmup_steps", None), overrides.pop("timed_steps", None)
    if measure != "train":
        given = {key: value for key, value in zip(("warmup_steps", "timed_steps"), timing) if value}
        overrides["timing"] = TimingConfig(**given)
    overrides.setdefault("tasks", ("digits",) if measure != "timing" else ("mnist",))
    if measure != "timing":
        overrides.setdefault("epochs", 5)
    device = args.device or "cpu"
    return "custom", device, expand(Axes(measure=measure, device=device, **overrides))


def make_executor(args: argparse.Namespace, config: RunConfig):
    """The executor a run uses: local subprocesses, or Ray tasks with --executor ray."""
    if args.address and args.executor != "ray":
        raise ConfigError("--address names a Ray cluster; add --executor ray")
    if args.gpu_share != 1.0 and args.executor != "ray":
        raise ConfigError("--gpu-share is for --executor ray; the local executor packs jobs with --parallel N")
    if args.reuse_processes and (args.executor == "ray" or config.parallel != 1):
        raise ConfigError("--reuse-processes runs one job at a time on this machine; drop --parallel and "
                          "--executor ray, or drop --reuse-processes")
    if args.executor == "ray":
        from bench.run.executors.ray_executor import RayExecutor

        if config.parallel != 1:
            raise ConfigError("--parallel is for the local executor; Ray packs jobs by the resources each asks for")

        return RayExecutor.from_cli(args.address, config.timeout_s, config.threads, args.gpu_share, job_settings(args))
    from bench.run.executors.local import LocalExecutor

    return LocalExecutor(timeout_s=config.timeout_s, threads=config.threads, parallel=config.parallel,
                         settings=job_settings(args), reuse_processes=config.reuse_processes)


def handle(args: argparse.Namespace) -> int:
    from bench.plan.suites import SUITES, get_suite
    from bench.run.sweep import run_sweep

    name, device, jobs = build_jobs(args)
    check_tasks(jobs)
    timeout_s = args.timeout or (get_suite(name).timeout_s if name in SUITES else DEFAULT_JOB_TIMEOUT_S)
    reuse = args.reuse_processes if args.reuse_processes is not None else (
        name in SUITES and get_suite(name).reuse_processes and args.parallel == 1)
    output = args.output or DEFAULT_RESULTS_DIR / f"{name}.jsonl"
    if output.is_dir():
        raise ConfigError(f"--output {output} is a folder; give the records file, e.g. {output / 'records.jsonl'}")
    if args.report_dir is not None and not args.no_report:
        check_folder("--report-dir", args.report_dir)
    if args.dry_run:
        from bench.run.sweep import pending_jobs

        # the very rule the run applies (resume, --retry-failed), so the marks say what it would skip
        store = RecordStore(output)
        todo = {job.job_id for job in pending_jobs(jobs, store, args.resume, args.retry_failed)}
        done = {job.job_id for job in jobs} - todo
        for job in jobs:
            print(job.job_id, job.label(), *(["(recorded)"] if job.job_id in done else []))
        recorded = sum(job.job_id in done for job in jobs)
        print(f"{len(jobs)} jobs" + (f"; {recorded} already recorded, {len(jobs) - recorded} to run" if done else ""))
        return 0
    if args.history is not None:
        from bench.gate.history import History

        History(args.history).check_writable()  # a newer schema fails before the run, not after it
    config = RunConfig(output=output, resume=args.resume,
                       retry_failed=args.retry_failed, timeout_s=timeout_s, threads=args.threads,
                       progress=not args.no_progress, parallel=args.parallel, reuse_processes=reuse)
    store = RecordStore(config.output)
    executor = make_executor(args, config)
    with store.held():  # from here until the sweep ends, no other sweep appends to this file
        if not config.resume and store.load():
            raise ConfigError(f"{config.output} already holds records; pass --resume to continue that sweep, "
                              "or choose another --output (records are append-only, never overwritten)")
        print(f"{name}: {len(jobs)} jobs on {device}; records -> {config.output.resolve()}", flush=True)
        result = run_sweep(jobs, store, executor, resume=config.resume, retry_failed=config.retry_failed,
                           progress=config.progress)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(result.statuses.items())) or "nothing to run"
    print(f"ran {result.ran} ({counts}); {result.skipped} already recorded; records in {config.output.resolve()}")
    if args.history is not None:
        from bench.gate.history import History

        added = History(args.history).add_records(config.output, source="run", run_id=str(config.output.resolve()))
        print(f"{added} rows added to the history {args.history}")
    if not args.no_report:
        from bench.report.summary import write_report

        out_dir = args.report_dir or DEFAULT_REPORTS_DIR / f"{device_tag(device)}-{name}"
        written = write_report(config.output, out_dir)
        print(f"report written to {out_dir.resolve()} (open {written['summary'].name})")
    if result.failed and not args.allow_failures:
        shown = result.failed[:MAX_FAILED_LISTED]
        more = f" and {len(result.failed) - len(shown)} more" if len(result.failed) > len(shown) else ""
        print(f"error: {len(result.failed)} of the {result.ran} jobs run could not be measured (status error, "
              f"timeout or incorrect): {', '.join(shown)}{more}. Their records in {config.output} say why (`error`); fix the "
              "cause and rerun the same command with --retry-failed to run just those again "
              "(--allow-failures exits 0 regardless)", file=sys.stderr)
        return EXIT_JOBS_FAILED
    return 0


def device_tag(device: str) -> str:
    """"cpu", or "gpu-<model>" (e.g. gpu-h100) for the report folder name."""
    if device == "cpu":
        return "cpu"
    try:
        import torch
        name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else ""
    except Exception:  # noqa: BLE001 - a folder name is not worth failing a finished run for
        name = ""
    words = [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w and w not in ("nvidia", "tesla", "geforce", "rtx")]
    return f"gpu-{words[0]}" if words else "gpu"


