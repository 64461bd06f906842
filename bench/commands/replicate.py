"""`python -m bench replicate EXPERIMENT`: run one replication suite, then write its side-by-side report.

The records go to reports/replication/EXPERIMENT/records.jsonl (committed), and the
report into the same folder. The run resumes: jobs that already have a record are not
run again, so `--report-only` and a plain rerun both just rebuild the report from the
committed records.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.plan.config import ConfigError, DEFAULT_JOB_TIMEOUT_S
from bench.records.store import RecordStore, latest_by_job
from bench.run.sweep import EXIT_JOBS_FAILED, run_suite

RECORDS_NAME = "records.jsonl"  # the records file inside each experiment folder


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from bench.replication.catalog import MODULES

    parser.add_argument("experiment", help=f"one of {', '.join(MODULES)} (or its suite name), or 'all'")
    parser.add_argument("--root", type=Path, default=None,
                        help="folder holding one folder per experiment (default reports/replication)")
    parser.add_argument("--report-only", action="store_true", help="do not run anything; rebuild the report")
    parser.add_argument("--threads", type=int, help="threads per job (default: every available core)")
    parser.add_argument("--timeout", type=float, default=None,
                        help=f"per-job limit in seconds (default: the suite's, else {DEFAULT_JOB_TIMEOUT_S:.0f})")
    parser.add_argument("--data-dir", type=Path,
                        help="folder holding the dataset files, laid out as shared/data (default: $RNNBENCH_DATA_DIR, "
                             "then the download cache)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--rerun-unidentified", action="store_true",
                        help="run again, from this (clean) checkout, only the jobs whose latest record was made by "
                             "code no commit holds; the new records supersede the old, which stay in the file")
    from bench.commands.options import add_plugin_argument

    add_plugin_argument(parser)


def handle(args: argparse.Namespace) -> int:
    from bench.commands.options import job_settings
    from bench.run.executors.local import LocalExecutor
    from bench.replication.catalog import experiments, get_experiment
    from bench.replication.experiment import REPORTS_ROOT
    from bench.replication.side_by_side import write_replication_report

    chosen = list(experiments().values()) if args.experiment == "all" else [get_experiment(args.experiment)]
    root = args.root or Path(REPORTS_ROOT)
    rerun = _unidentified_picker() if args.rerun_unidentified and not args.report_only else None
    jobs_failed = False
    for experiment in chosen:
        folder = root / experiment.name
        records = folder / RECORDS_NAME
        if not args.report_only:
            folder.mkdir(parents=True, exist_ok=True)
            for suite in experiment.suites:
                if suite.device == "cuda" and not _cuda_available():
                    print(f"{suite.name}: skipped, it runs on a GPU and this machine has none; on a GPU machine: "
                          f"python -m bench run --suite {suite.name} --output {records} --no-report", flush=True)
                    continue
                # the jobs get the run's settings (--data-dir, the plugins loaded) as `bench run`'s do
                executor = LocalExecutor(timeout_s=args.timeout or suite.timeout_s, threads=args.threads,
                                         settings=job_settings(argparse.Namespace(profile=False, data_dir=args.data_dir)))
                adopted = 0 if rerun else adopt_shared_records(suite, records, root)
                if adopted:
                    print(f"{suite.name}: {adopted} jobs already ran for another experiment (the same job ids); "
                          f"their records were copied into {records}", flush=True)
                result = run_suite(suite, records, executor, progress=not args.no_progress, rerun=rerun)
                # failed jobs are records like any other: the other suites and the report still get written
                jobs_failed |= bool(result.failed)
        if not records.is_file():
            raise ConfigError(f"no records at {records}; run `python -m bench replicate {experiment.name}` "
                              "without --report-only first")
        written = write_replication_report(experiment, records, folder)
        print(f"{experiment.name}: report written to {written['summary'].resolve()}")
    return EXIT_JOBS_FAILED if jobs_failed else 0


def _unidentified_picker():
    """A `run_suite` rerun picker: records no commit's code made. Refuses a checkout whose own runs would be such."""
    from bench.records.environment import git_commit
    from bench.records.provenance import code_history, made_by

    git = git_commit()
    if git["commit"] is None or git["dirty"] is not False:
        raise ConfigError("--rerun-unidentified runs jobs again so that a commit holds their code: run it from a clean "
                          "git checkout (commit or stash your changes first)")
    history = code_history()
    return lambda record: made_by(record, history) is None


def adopt_shared_records(suite, records: Path, root: Path) -> int:
    """Copy into `records` the successful records other experiments' folders under `root` hold for `suite`'s jobs.

    Two experiments can plan the very same job (one grid's corner is another's row); a job id names the whole
    identity, so its record stands for both, and the job is not run twice. Only jobs `records` has no record
    of are copied, each verbatim (its environment still names the code and machine that ran it). Returns how many.
    """
    store = RecordStore(records)
    copied = 0
    with store.held():  # read and appended under one lock: no sweep adds a record between the two
        wanted = {job.job_id for job in suite.jobs()} - set(latest_by_job(store.load()))
        if not wanted:
            return 0
        for other in sorted(root.glob(f"*/{RECORDS_NAME}")):
            if other.resolve() == records.resolve():
                continue
            for job_id, record in latest_by_job(RecordStore(other).load()).items():
                if job_id in wanted and record.status == "ok":
                    store.append(record)
                    wanted.discard(job_id)
                    copied += 1
    return copied


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()
