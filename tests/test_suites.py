"""Suite overrides change only what they name."""

from bench.plan.config import TimingConfig
from bench.plan.jobs import Axes
from bench.plan.suites import SUITES, Suite


def test_step_count_override_keeps_the_grids_pairing_choice():
    grid = Axes(tasks=("mnist",), measure="timing", modes=("default",), cells=("gru0",), frameworks=("torch",),
                hidden_sizes=(16,), batch_sizes=(4,), timing=TimingConfig(warmup_steps=2, timed_steps=5, paired=False))
    suite = Suite(name="t", description="t", device="cpu", grids=(grid,))
    (job,) = suite.jobs({"timed_steps": 7})
    assert job.timed_steps == 7 and job.warmup_steps == 2
    assert job.paired is False


def test_every_named_suite_expands_to_registered_cells():
    from bench.cells import list_cells

    for suite in SUITES.values():
        jobs = suite.jobs()
        assert jobs, suite.name
        assert {job.cell for job in jobs} <= set(list_cells())
        assert all(job.device == suite.device for job in jobs)


def test_a_job_whose_shorter_sequence_timed_out_is_recorded_without_being_started(tmp_path):
    from bench.run.executors.base import failure_record
    from bench.records.store import RecordStore
    from bench.run.sweep import run_sweep

    grids = tuple(Axes(tasks=("mnist",), measure="timing", modes=("compiled",), cells=("gru0", "gru1"),
                       frameworks=("torch",), hidden_sizes=(8,), batch_sizes=(2,), seq_len=steps,
                       timing=TimingConfig(warmup_steps=1, timed_steps=1)) for steps in (64, 8, 512))
    jobs = Suite(name="t", description="t", device="cpu", grids=grids).jobs()
    started: list[tuple[str, int]] = []

    class GRU0TimesOutBeyond8:  # an executor: gru0 runs out of time past T 8, everything else finishes
        def run(self, todo, on_start=None):
            for job in todo:
                started.append((job.cell, job.seq_len))
                status = "timeout" if job.cell == "gru0" and job.seq_len > 8 else "error"
                yield failure_record(job, status, f"{status} after 300 s", 1.0)

    store = RecordStore(tmp_path / "records.jsonl")
    result = run_sweep(jobs, store, GRU0TimesOutBeyond8(), progress=False)
    # shortest first, whatever the grid order; gru0 at T 512 never started, gru1 (no timeout) ran at every T
    assert started == [("gru0", 8), ("gru1", 8), ("gru0", 64), ("gru1", 64), ("gru1", 512)]
    assert result.ran == 6 and result.statuses["timeout"] == 2
    (skipped,) = [r for r in store.load() if r.job.seq_len == 512 and r.job.cell == "gru0"]
    assert skipped.status == "timeout" and skipped.duration_s == 0.0
    assert "not started: the same job at T 64 ran out of time" in skipped.error


def test_the_long_suite_covers_every_cell_in_each_frameworks_long_modes_at_each_length():
    from bench.cells import list_cells
    from bench.plan.suites import LONG_JOB_TIMEOUT_S, LONG_STEPS

    suite = SUITES["long"]
    jobs = suite.jobs()
    modes = {"torch": {"eager", "compiled_scan", "compiled_scan_k8", "compiled_scan_k8_cpp", "compiled"},
             "keras": {"graph", "xla"}}
    assert {(job.framework, job.mode) for job in jobs} == {(f, m) for f, ms in modes.items() for m in ms}
    assert {job.seq_len for job in jobs} == set(LONG_STEPS)
    assert {job.cell for job in jobs} == set(list_cells())  # mingru from the suite's plugin included
    assert suite.timeout_s == LONG_JOB_TIMEOUT_S < 600


def test_a_timeout_that_a_later_run_finished_no_longer_keeps_the_longer_job_from_starting(tmp_path):
    from bench.run.executors.base import failure_record
    from bench.records.store import RecordStore
    from bench.run.sweep import run_sweep

    grids = tuple(Axes(tasks=("mnist",), measure="timing", modes=("compiled",), cells=("gru0",), frameworks=("torch",),
                       hidden_sizes=(8,), batch_sizes=(2,), seq_len=steps,
                       timing=TimingConfig(warmup_steps=1, timed_steps=1)) for steps in (8, 64))
    short, long = Suite(name="t", description="t", device="cpu", grids=grids).jobs()
    store = RecordStore(tmp_path / "records.jsonl")
    store.append(failure_record(short, "timeout", "timeout after 300 s", 300.0))
    store.append(failure_record(short, "error", "run again with --retry-failed and a longer --timeout", 1.0))
    started = []

    class Records:  # an executor that starts every job it is given
        def run(self, todo, on_start=None):
            for job in todo:
                started.append(job.seq_len)
                yield failure_record(job, "error", "stand-in", 1.0)

    run_sweep([long], store, Records(), progress=False)
    assert started == [64]  # the short job's latest record is not a timeout


def test_rerun_runs_again_only_the_picked_recorded_jobs_and_keeps_the_old_records(tmp_path):
    from bench.run.executors.base import failure_record
    from bench.records.store import RecordStore, latest_by_job
    from bench.run.sweep import run_suite

    grid = Axes(tasks=("mnist",), measure="timing", modes=("eager",), cells=("gru0", "gru1", "mgu"),
                frameworks=("torch",), hidden_sizes=(8,), batch_sizes=(2,),
                timing=TimingConfig(warmup_steps=1, timed_steps=1))
    suite = Suite(name="t", description="t", device="cpu", grids=(grid,))
    old = {job.cell: failure_record(job, "error", f"old run of {job.cell}", 1.0) for job in suite.jobs()}
    store = RecordStore(tmp_path / "records.jsonl")
    for record in old.values():
        store.append(record)
    started = []

    class Again:  # an executor whose records say they are the new runs
        def run(self, todo, on_start=None):
            for job in todo:
                started.append(job.cell)
                yield failure_record(job, "error", f"new run of {job.cell}", 1.0)

    result = run_suite(suite, store.path, Again(), progress=False, rerun=lambda r: r.job.cell != "gru1")
    assert sorted(started) == ["gru0", "mgu"] and result.skipped == 1 and result.total == 3
    assert len(store.load()) == 5  # appended: the old records stay
    latest = {r.job.cell: r.error for r in latest_by_job(store.load()).values()}
    assert latest == {"gru0": "new run of gru0", "gru1": "old run of gru1", "mgu": "new run of mgu"}
