"""Served job processes (`--reuse-processes`): one process per framework runs job after job.

The results must be those of a fresh process per job; a job that hangs or kills its process takes only
that process down; the peak-memory mark starts again at each job.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from bench.cli import main
from bench.records.typed import record_json
from bench.run.executors.local import LocalExecutor
from bench.plan.jobs import Axes, expand
from bench.run.runners.common import peak_rss, reset_peak_rss

pytestmark = pytest.mark.slow
HANG_EPOCHS = 400  # a job that trains for minutes: only the timeout ends it within the test
TIMEOUT_S = 20.0  # past a fresh process's imports and a tiny job on a loaded machine (8 s was not); short of HANG_EPOCHS
BIG_BYTES = 300 * 2**20  # an allocation that moves the peak well past the noise of a Python process


def _jobs(cells, epochs=1, frameworks=("torch",)):
    return expand(Axes(tasks=("digits",), measure="train", cells=cells, frameworks=frameworks, hidden_sizes=(8,),
                       batch_sizes=(32,), epochs=epochs, lrs=(1e-2,), seeds=(1,)))


def test_a_served_process_gives_each_job_the_results_a_fresh_process_gives():
    jobs = _jobs(("gru0", "mgu"), frameworks=("torch", "keras"))
    served = [record_json(r) for r in LocalExecutor(threads=1, reuse_processes=True).run(jobs)]
    by_framework: dict[str, list[str]] = {}
    for record in served:
        by_framework.setdefault(record["identity"]["framework"], []).append(record["environment"]["process"])
    # one process per framework, whatever the order of the jobs
    assert by_framework == {"torch": ["fresh", "reused: job 2 of this process"],
                            "keras": ["fresh", "reused: job 2 of this process"]}
    reused = [record for record in served if record["environment"]["process"] != "fresh"]
    by_id = {job.job_id: job for job in jobs}
    fresh = [record_json(r) for r in LocalExecutor(threads=1).run([by_id[record["job_id"]] for record in reused])]
    assert [r["status"] for r in served + fresh] == ["ok"] * (len(jobs) + len(reused))
    assert {r["environment"]["process"] for r in fresh} == {"fresh"}
    for one, other in zip(reused, fresh):  # seeds, weights and data: the job, not the process, decides them
        assert one["job_id"] == other["job_id"]
        assert one["train"]["epochs"][0]["train_loss"] == other["train"]["epochs"][0]["train_loss"]
        assert one["train"]["test_metric"] == other["train"]["test_metric"]


def test_a_job_that_hangs_in_a_served_process_is_recorded_and_the_next_job_gets_a_new_process():
    hanging, quick = _jobs(("gru0",), epochs=HANG_EPOCHS) + _jobs(("mgu",))
    start = time.monotonic()
    executor = LocalExecutor(threads=1, timeout_s=TIMEOUT_S, reuse_processes=True)
    first, second = map(record_json, executor.run([hanging, quick]))
    assert first["status"] == "timeout" and f"per-job timeout of {TIMEOUT_S:g} s" in first["error"]
    assert second["status"] == "ok" and second["environment"]["process"] == "fresh"
    assert time.monotonic() - start < 10 * TIMEOUT_S


def test_a_served_process_that_dies_leaves_an_error_record_with_its_output(tmp_path):
    script = tmp_path / "python"
    script.write_text("#!/bin/sh\necho 'about to crash' >&2; kill -SEGV $$\n")
    script.chmod(0o755)
    (record,) = [record_json(r) for r in LocalExecutor(python=str(script), reuse_processes=True).run(_jobs(("gru0",)))]
    assert record["status"] == "error"
    assert "SIGSEGV" in record["error"] and "about to crash" in record["error"]


def test_the_peak_memory_mark_starts_again_from_what_is_resident():
    if not reset_peak_rss():
        pytest.skip("this OS cannot reset a process's peak resident set size")
    before = peak_rss()["peak_bytes"]
    block = np.ones(BIG_BYTES // 8)  # touched, so resident
    assert peak_rss()["peak_bytes"] >= before + BIG_BYTES * 0.9
    del block
    assert reset_peak_rss()
    assert peak_rss()["peak_bytes"] < before + BIG_BYTES * 0.5


def test_reusing_processes_is_refused_where_jobs_run_side_by_side_or_on_ray(capsys):
    for extra in (["--parallel", "2"], ["--executor", "ray"]):
        assert main(["run", "--cells", "gru0", "--tasks", "digits", "--reuse-processes", *extra,
                     "--output", "/nonexistent/r.jsonl", "--no-report"]) == 2
        assert "--reuse-processes runs one job at a time" in capsys.readouterr().err
