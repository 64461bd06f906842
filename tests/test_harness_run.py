"""End to end: `python -m bench run` in subprocesses, a killed sweep resumed, a diverging job,
a crashing and a hanging job process, and the command line's error messages."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from bench.cli import main
from bench.records.environment import base_environment
from bench.run.executors.local import LocalExecutor
from bench.plan.jobs import Axes, expand
from bench.records.store import RecordStore, new_record, read_records as read_typed
from bench.records.typed import record_json
from bench.run.runners.common import DIVERGENCE_FACTOR
from bench.run.sweep import EXIT_JOBS_FAILED
from datasets_fixtures import MNIST_FILES, require_data

pytestmark = pytest.mark.slow
def read_records(path):
    """The records of a file as their JSON objects, which these tests read key by key."""
    return [record_json(r) for r in read_typed(path)]


REPO = Path(__file__).resolve().parents[1]
FIRST_RECORD_TIMEOUT_S = 120  # generous: the machine is shared and imports are slow
LONG_JOB_EPOCHS = 400  # a job that trains for minutes: only its sweep's death can end it within the test
TINY = ["--tasks", "digits", "--hidden", "8", "--epochs", "1", "--no-progress", "--no-report"]


def _bench(*args, env_extra=None, **kw):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600, **kw)


SWEEP_CELLS = ("gru0", "mgu", "rnn")


def _sweep_args(out):
    return ["run", "--cells", *SWEEP_CELLS, "--frameworks", "torch", "--threads", "1", *TINY, "--output", str(out)]


def _sweep_with_a_job_running(out, **popen):
    """A sweep in its own session, returned once it has written a record and runs its next job."""
    proc = subprocess.Popen([sys.executable, "-m", "bench", *_sweep_args(out)], cwd=REPO, start_new_session=True,
                            **popen)
    deadline = time.monotonic() + FIRST_RECORD_TIMEOUT_S
    try:
        while True:
            assert proc.poll() is None, "the sweep ended before it could be stopped"
            if out.exists() and out.read_text().count("\n") >= 1 and psutil.Process(proc.pid).children():
                break
            assert time.monotonic() < deadline, "no record appeared in time"
            time.sleep(0.2)
    except BaseException:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        raise
    return proc


def test_a_killed_sweep_resumes_without_losing_or_repeating_records(tmp_path):
    out = tmp_path / "sweep.jsonl"
    proc = _sweep_with_a_job_running(out, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its running job process together
    proc.wait()
    psutil.wait_procs([p for p in psutil.process_iter() if _in_group(p, proc.pid)], timeout=10)
    before = read_records(out)
    assert 1 <= len(before) < 3
    with out.open("a") as fh:  # a kill during a write leaves a partial line; it must not break resume
        fh.write('{"schema_version": 1, "job_id": "trunc')

    result = _bench(*_sweep_args(out))
    assert result.returncode == 0, result.stderr
    assert f"{len(before)} already recorded" in result.stdout
    with pytest.warns(UserWarning, match="skipping an unreadable record"):
        after = read_records(out)
    jobs = expand(Axes(tasks=("digits",), measure="train", cells=SWEEP_CELLS, frameworks=("torch",),
                       hidden_sizes=(8,), epochs=1))
    assert sorted(r["job_id"] for r in after) == sorted(j.job_id for j in jobs)  # each exactly once
    assert after[:len(before)] == before  # finished records were kept, not rerun
    assert all(r["status"] == "ok" for r in after)


def test_a_terminated_sweep_takes_its_running_job_down_and_keeps_its_records(tmp_path):
    # SIGTERM to the sweep alone, as `timeout`, `kill` or a cancelled CI job send it: the running job
    # process must not be left behind as an orphan
    out = tmp_path / "sweep.jsonl"
    proc = _sweep_with_a_job_running(out, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    job_processes = psutil.Process(proc.pid).children(recursive=True)
    try:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "terminated; the records written so far are kept" in err
    assert job_processes
    _, alive = psutil.wait_procs(job_processes, timeout=10)
    assert not alive, f"job processes outlived the sweep: {alive}"
    records = read_records(out)
    assert 1 <= len(records) < 3 and all(r["status"] == "ok" for r in records)


@pytest.mark.parametrize("processes", [[], ["--reuse-processes"]], ids=["fresh", "served"])
def test_a_sweep_killed_by_sigkill_takes_its_running_job_down(tmp_path, processes):
    """SIGKILL cannot be handled by the sweep, so the job process must notice its parent is gone.

    The job trains far longer than the test waits (hundreds of epochs), so only its parent's death can end it
    in time; the old code left it running as an orphan.
    """
    out = tmp_path / "sweep.jsonl"
    args = ["run", "--cells", "gru0", "--frameworks", "torch", "--threads", "1", "--tasks", "digits", "--hidden", "8",
            "--epochs", str(LONG_JOB_EPOCHS), "--no-progress", "--no-report", "--output", str(out), *processes]
    proc = subprocess.Popen([sys.executable, "-m", "bench", *args], cwd=REPO, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    job_processes = []
    try:
        deadline = time.monotonic() + FIRST_RECORD_TIMEOUT_S
        while not job_processes:
            assert proc.poll() is None and time.monotonic() < deadline, "no job process started in time"
            job_processes = psutil.Process(proc.pid).children(recursive=True)
            time.sleep(0.2)
        time.sleep(2)  # the job is training (it has armed its parent-death signal)
        proc.kill()  # kill -9 of the sweep alone, not of its process group
        proc.wait()
        _, alive = psutil.wait_procs(job_processes, timeout=10)
        assert not alive, f"job processes outlived the killed sweep: {alive}"
        assert not out.exists() or not out.read_text().strip()  # the job had not finished: it was taken down
    finally:
        for child in job_processes:
            if child.is_running():
                child.kill()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def _in_group(process, pgid):
    try:
        return os.getpgid(process.pid) == pgid
    except (ProcessLookupError, psutil.Error):
        return False


def test_a_diverging_job_is_recorded_and_the_sweep_goes_on(tmp_path):
    out, report = tmp_path / "div.jsonl", tmp_path / "report"
    result = _bench("run", "--cells", "gru0", "--tasks", "digits", "--hidden", "32", "--epochs", "1",
                    "--lr", "1e6", "1e36", "1e-2", "--threads", "1", "--no-progress", "--output", str(out),
                    "--report-dir", str(report), "--reuse-processes")  # one Keras start-up, not three
    assert result.returncode == 0, result.stderr
    records = {(r["identity"]["framework"], r["identity"]["lr"]): r for r in read_records(out)}
    assert set(records) == {(framework, lr) for framework in ("torch", "keras") for lr in (1e6, 1e36, 1e-2)}
    for framework in ("torch", "keras"):
        fine = records[(framework, 1e-2)]
        for lr in (1e6, 1e36):  # a loss that overflows, and one that stays finite but explodes (1e6: ~1e7 × 2.3)
            diverged = records[(framework, lr)]
            assert diverged["status"] == "diverged", (lr, diverged["error"])
            assert re.search(r"training loss (became (nan|inf)|grew to \S+ in epoch 1, over 100 × the untrained "
                             r"loss)", diverged["error"]), diverged["error"]
            assert len(diverged["train"]["epochs"]) == 1  # the partial curve is kept
        divergence = fine["train"]["divergence"]  # the rule is recorded with every run
        assert divergence["factor"] == DIVERGENCE_FACTOR and 1.5 < divergence["untrained_loss"] < 3.5  # ~ln 10
        assert divergence["threshold"] == pytest.approx(DIVERGENCE_FACTOR * divergence["untrained_loss"])
        assert fine["status"] == "ok" and fine["train"]["test_metric"] > 0.15  # better than chance (0.1)
        optimizer = fine["train"]["optimizer"]  # which Adam trained it, read from the optimizer itself
        assert optimizer["class"] == "Adam" and optimizer["lr"] == pytest.approx(1e-2)
        expected = {"torch": (1e-8, "bias-corrected root of v"),
                    "keras": (pytest.approx(1e-7), "uncorrected root of v")}
        assert (optimizer["epsilon"], optimizer["epsilon_added_to"]) == expected[framework]
    assert "4 diverged, 2 ok" in result.stdout
    assert f"report written to {report.resolve()}" in result.stdout
    summary = (report / "summary.md").read_text()
    assert "## Failed jobs" in summary and summary.count("| diverged |") == 4


def test_a_job_that_cannot_be_measured_fails_the_run_after_its_record_and_report(tmp_path):
    out, report = tmp_path / "r.jsonl", tmp_path / "report"
    # MNIST with nowhere to find it and no downloading: the job ends `error`
    env = {"RNNBENCH_DATA_DIR": str(tmp_path / "empty"), "RNNBENCH_CACHE_DIR": str(tmp_path / "cache"),
           "RNNBENCH_OFFLINE": "1"}
    args = ["run", "--cells", "gru0", "--frameworks", "torch", "--tasks", "mnist", "--hidden", "8", "--epochs", "1",
            "--no-progress", "--output", str(out)]
    failed = _bench(*args, "--report-dir", str(report), env_extra=env)
    assert failed.returncode == EXIT_JOBS_FAILED, failed.stderr
    assert "1 of the 1 jobs run could not be measured" in failed.stderr
    assert "gru0/torch-eager/train/mnist/L1H8/seed0" in failed.stderr and "--retry-failed" in failed.stderr
    (record,) = read_records(out)
    assert record["status"] == "error" and "DataNotFoundError" in record["error"]
    assert "## Failed jobs" in (report / "summary.md").read_text()

    allowed = _bench(*args, "--no-report", "--retry-failed", "--allow-failures", env_extra=env)
    assert allowed.returncode == 0, allowed.stderr
    assert "1 error" in allowed.stdout and "could not be measured" not in allowed.stderr
    assert [r["status"] for r in read_records(out)] == ["error", "error"]  # retried, and recorded again


def _fake_python(tmp_path, body):
    script = tmp_path / "fake-python"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(0o755)
    return str(script)


def _one_job():
    return expand(Axes(tasks=("digits",), measure="train", cells=("gru0",), frameworks=("torch",), epochs=1))


def test_a_crashing_job_process_gets_an_error_record_from_the_parent(tmp_path):
    executor = LocalExecutor(python=_fake_python(tmp_path, "echo 'about to crash' >&2; kill -SEGV $$"))
    (record,) = list(executor.run(_one_job()))
    assert record.status == "error"
    assert "SIGSEGV" in record.error and "about to crash" in record.error
    RecordStore(tmp_path / "r.jsonl").append(record)  # a parent-written record follows the schema too


def test_a_hanging_job_is_killed_at_the_timeout_and_recorded(tmp_path):
    executor = LocalExecutor(timeout_s=0.5, python=_fake_python(tmp_path, "sleep 60 & wait"))
    start = time.monotonic()
    (record,) = list(executor.run(_one_job()))
    assert record.status == "timeout" and "per-job timeout of 0.5 s" in record.error
    assert time.monotonic() - start < 15
    assert not [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", "60"]
                and p.ppid() in (1, os.getpid())]


def test_unknown_cell_is_an_error_listing_the_cells(capsys):
    assert main(["run", "--cells", "gru9", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "unknown cell 'gru9'" in err and "gru0" in err and "rnn_native" in err


def test_unknown_task_is_an_error_listing_the_tasks(capsys):
    assert main(["run", "--cells", "gru0", "--tasks", "digitz", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "unknown task(s) digitz" in err and "mnist" in err


def test_a_data_dir_that_does_not_exist_is_an_error_before_any_job_runs(tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    assert main(["run", "--cells", "gru0", "--data-dir", str(tmp_path / "nowhere"), "--output", str(out), *TINY]) == 2
    err = capsys.readouterr().err
    assert "--data-dir" in err and "no such folder" in err and "laid out as shared/data" in err
    assert not out.exists()


def test_data_dir_is_where_the_job_processes_find_the_dataset_files(tmp_path):
    data = require_data(*(f"mnist/{name}" for name in MNIST_FILES))
    out = tmp_path / "r.jsonl"
    # nothing else could provide the files: an empty $RNNBENCH_DATA_DIR and cache, no downloading
    env = {"RNNBENCH_DATA_DIR": str(tmp_path / "empty"), "RNNBENCH_CACHE_DIR": str(tmp_path / "cache"),
           "RNNBENCH_OFFLINE": "1"}
    run = _bench("run", "--cells", "gru0", "--frameworks", "torch", "--tasks", "mnist", "--hidden", "8",
                 "--epochs", "1", "--task-option", "limit_train=200", "--task-option", "limit_test=100",
                 "--data-dir", str(data), "--output", str(out), "--no-progress", "--no-report",
                 env_extra=env)
    assert run.returncode == 0, run.stderr
    (record,) = read_records(out)
    assert record["status"] == "ok", record["error"]
    files = record["train"]["task_info"]["files"]
    assert files and all(Path(f["path"]).is_relative_to(data.resolve()) for f in files.values())


def test_a_second_sweep_into_a_file_another_sweep_is_writing_is_refused(tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    with RecordStore(out).held():  # what a running sweep holds
        assert main(["run", "--cells", "gru0", "--output", str(out), *TINY]) == 2
    err = capsys.readouterr().err
    assert f"another sweep is writing to {out} right now" in err and "another --output" in err
    assert not out.exists()  # nothing ran, nothing was written (the lock is a file of its own)


def test_output_and_report_paths_of_the_wrong_kind_are_refused_before_any_job_runs(tmp_path, capsys):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    assert main(["run", "--cells", "gru0", "--output", str(tmp_path), *TINY]) == 2
    assert f"--output {tmp_path} is a folder; give the records file, e.g. {tmp_path / 'records.jsonl'}" in \
        capsys.readouterr().err
    out = tmp_path / "r.jsonl"
    with_report = [arg for arg in TINY if arg != "--no-report"]
    assert main(["run", "--cells", "gru0", "--output", str(out), "--report-dir", str(a_file), *with_report]) == 2
    assert f"--report-dir {a_file} is a file" in capsys.readouterr().err and not out.exists()
    records = Path(__file__).with_name("data") / "harness_records.jsonl"
    assert main(["report", str(records), "--out", str(a_file)]) == 2
    assert f"--out {a_file} is a file; give a folder" in capsys.readouterr().err


def test_refuses_to_start_over_an_existing_file_without_resume(tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    out.write_text(Path(__file__).with_name("data").joinpath("harness_records.jsonl").read_text())
    assert main(["run", "--cells", "gru0", "--no-resume", "--output", str(out), *TINY]) == 2
    assert "already holds records; pass --resume" in capsys.readouterr().err


def test_dry_run_lists_the_quick_suite_and_marks_what_the_output_already_records(capsys, tmp_path):
    output = tmp_path / "quick.jsonl"
    assert main(["run", "--suite", "quick", "--dry-run", "--output", str(output)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == f"{len(out) - 1} jobs" and len(out) - 1 >= 4 * 14
    first_id, first_label = out[0].split(" ", 1)
    record = new_record(_quick_job(first_id), base_environment(), "2026-01-01T00:00:00")
    record.status, record.error, record.duration_s = "error", "failed once", 1.0  # a failure is a record too
    RecordStore(output).append(record)
    assert main(["run", "--suite", "quick", "--dry-run", "--output", str(output)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0] == f"{first_id} {first_label} (recorded)" and not out[1].endswith("(recorded)")
    assert out[-1].endswith("; 1 already recorded, " + f"{len(out) - 2} to run")


def _quick_job(job_id):
    from bench.plan.suites import get_suite

    return next(job for job in get_suite("quick").jobs() if job.job_id == job_id)


def test_list_names_cells_tasks_suites_and_modes(capsys):
    assert main(["list", "--no-devices"]) == 0
    out = capsys.readouterr().out
    for word in ("gru_reset_after", "lstm_native", "digits", "mnist", "quick", "standard", "gpu",
                 "compiled_cudagraphs", "xla"):
        assert word in out


def test_a_runs_own_report_goes_to_the_untracked_local_folder(tmp_path):
    """Running a suite never rewrites a committed report: without --report-dir the report is reports/local/…"""
    result = subprocess.run([sys.executable, "-m", "bench", "run", "--cells", "rnn", "--frameworks", "torch",
                             "--threads", "1", "--tasks", "digits", "--hidden", "8", "--epochs", "1", "--no-progress",
                             "--output", "r.jsonl"], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "reports" / "local" / "cpu-custom" / "summary.md").is_file()
    assert [p.name for p in (tmp_path / "reports").iterdir()] == ["local"]
    ignored = subprocess.run(["git", "check-ignore", "reports/local/cpu-quick/summary.md"], cwd=REPO)
    assert ignored.returncode == 0  # git ignores the folder, so a newcomer's checkout stays clean
