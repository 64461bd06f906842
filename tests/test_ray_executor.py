"""The Ray executor: resource requests, and tiny real sweeps on a local two-CPU Ray instance.

The sweeps train torch cells for one epoch on a subset of the real digits data, so
each job is a few seconds (mostly the job process importing torch).
"""

from __future__ import annotations

import dataclasses
import os
import platform
import secrets
import shutil
import sys
import tempfile
import time

import psutil
import pytest

from bench.records.typed import record_json
from bench.plan.config import ConfigError, TimingConfig
from bench.run.executors.local import LocalExecutor
from bench.run.executors.ray_executor import EXECUTOR_KEY, RayExecutor, run_job_on_node
from bench.run.executors.ray_resources import ClusterShape, ResourcePolicy, resources_for
from bench.plan.jobs import Axes, Job, expand, freeze_options
from bench.records.store import RecordStore
from bench.run.runners.measure import PROFILE_ENV, PROFILE_STEPS
from bench.run.sweep import run_sweep

RAY_CPUS = 2  # the local Ray instance: as many CPUs as this machine has
OBJECT_STORE_BYTES = 80 * 1024 * 1024  # records are small; keep Ray's shared memory light
JOB_TIMEOUT_S = 120.0  # per job; a tiny job takes seconds, so hitting this means something hangs
ACCURACY_TOL = 1e-9  # same seed, same data, one thread each: the accuracies must agree exactly
CLEANUP_WAIT_S = 30.0  # how long a cancelled job's process may take to go away
LONG_EPOCHS = 10_000  # a job that outlasts JOB_TIMEOUT_S whatever the machine
ONE_CPU = ResourcePolicy(train_cpus=1)  # two accuracy jobs pack onto the two CPUs


def tiny_train_jobs(cells: tuple[str, ...], seeds: tuple[int, ...]) -> list[Job]:
    """One-epoch digits jobs on 400 training images: seconds each, yet real training."""
    return expand(Axes(tasks=("digits",), measure="train", cells=cells, frameworks=("torch",), hidden_sizes=(8,),
                       batch_sizes=(32,), epochs=1, lrs=(1e-2,), seeds=seeds,
                       task_options=freeze_options({"limit_train": 400})))


def tiny_timing_job() -> Job:
    (job,) = expand(Axes(tasks=("digits",), measure="timing", cells=("gru0",), frameworks=("torch",),
                         hidden_sizes=(8,), batch_sizes=(16,), timing=TimingConfig(warmup_steps=1, timed_steps=3)))
    return job


def ray_records(path) -> dict[str, dict]:
    return {record.job_id: record_json(record) for record in RecordStore(path).load()}


# -- resource requests (no Ray needed) --------------------------------------------------------

def ray_node(node_id: str, cpus: float, gpus: float = 0, alive: bool = True) -> dict:
    """One entry as `ray.nodes()` reports it."""
    resources = {"CPU": cpus, "memory": 1e9, **({"GPU": gpus} if gpus else {})}
    return {"NodeID": node_id, "NodeManagerAddress": f"10.0.0.{len(node_id)}", "Alive": alive, "Resources": resources}


def test_timing_jobs_get_a_whole_device_and_training_jobs_pack():
    cluster = ClusterShape.from_ray_nodes([ray_node("a", 16, gpus=2), ray_node("bb", 8),
                                           ray_node("ccc", 64, alive=False)])
    policy = ResourcePolicy(train_cpus=3, train_gpus=0.5, gpu_job_cpus=2)
    timing = tiny_timing_job()
    train = tiny_train_jobs(("gru0",), (0,))[0]
    cpu_timing = resources_for(timing, cluster, policy)
    assert (cpu_timing.num_cpus, cpu_timing.num_gpus, cpu_timing.threads) == (16, 0, 16)  # the largest alive node
    gpu_timing = resources_for(dataclasses.replace(timing, device="cuda"), cluster, policy)
    assert (gpu_timing.num_cpus, gpu_timing.num_gpus) == (2, 1.0)
    assert resources_for(dataclasses.replace(train, device="cuda"), cluster, policy).num_gpus == 0.5
    cpu_train = resources_for(train, cluster, policy)
    assert (cpu_train.num_cpus, cpu_train.num_gpus, cpu_train.threads) == (3, 0, 3)


def test_a_job_no_node_can_run_is_refused_before_anything_runs():
    cpu_only = ClusterShape.from_ray_nodes([ray_node("a", 4)])
    with pytest.raises(ConfigError, match="needs 4 CPU and 1 GPU"):
        resources_for(dataclasses.replace(tiny_timing_job(), device="cuda"), cpu_only, ResourcePolicy(gpu_job_cpus=4))
    with pytest.raises(ConfigError, match="no alive node"):
        ClusterShape.from_ray_nodes([ray_node("a", 4, alive=False)])
    with pytest.raises(ConfigError, match="train_gpus"):
        ResourcePolicy(train_gpus=1.5)


def test_the_cli_sets_the_gpu_share_of_accuracy_jobs_and_only_for_ray(capsys):
    from bench.cli import main

    executor = RayExecutor.from_cli(None, 60.0, None, gpu_share=0.25)
    assert executor.policy.train_gpus == 0.25 and executor.policy.train_cpus == ResourcePolicy().train_cpus
    assert RayExecutor.from_cli(None, 60.0, 4).policy == ResourcePolicy(train_cpus=4)
    assert main(["run", "--cells", "gru0", "--frameworks", "torch", "--gpu-share", "0.5", "--no-progress"]) == 2
    assert "--gpu-share is for --executor ray" in capsys.readouterr().err


def test_without_ray_the_executor_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` fail as if it were not installed
    with pytest.raises(ConfigError, match=r"rnnbench\[ray\]"):
        list(RayExecutor().run(tiny_train_jobs(("gru0",), (0,))))


# -- sweeps on a local Ray instance ----------------------------------------------------------

@pytest.fixture(scope="module")
def ray_cluster():
    """A fresh local Ray instance (never a cluster someone started on this machine), shut down after."""
    ray = pytest.importorskip("ray")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RAY_USAGE_STATS_ENABLED", "0")  # no usage reporting from tests
        # A new local Ray turns token auth on (setting RAY_AUTH_MODE, restored after) and would write a
        # token to ~/.ray/auth_token; a throwaway token in the environment keeps the home folder clean.
        env.delenv("RAY_AUTH_MODE", raising=False)
        env.setenv("RAY_AUTH_TOKEN", secrets.token_hex(32))
        # Ray's session files and sockets in a folder of our own (short: socket paths are limited)
        ray_dir = tempfile.mkdtemp(prefix="rnnbench-ray-")
        ray.init(address="local", num_cpus=RAY_CPUS, include_dashboard=False, log_to_driver=False,
                 object_store_memory=OBJECT_STORE_BYTES, _temp_dir=ray_dir)
        try:
            yield ray
        finally:
            ray.shutdown()
            shutil.rmtree(ray_dir, ignore_errors=True)


@pytest.mark.slow
def test_ray_sweep_matches_the_local_sweep(ray_cluster, tmp_path):
    jobs = train = tiny_train_jobs(("gru0",), (0, 1))
    local = run_sweep(jobs, RecordStore(tmp_path / "local.jsonl"),
                      LocalExecutor(timeout_s=JOB_TIMEOUT_S, threads=1), progress=False)
    remote = run_sweep(jobs, RecordStore(tmp_path / "ray.jsonl"),
                       RayExecutor(timeout_s=JOB_TIMEOUT_S, policy=ONE_CPU), progress=False)
    assert local.statuses == remote.statuses == {"ok": len(jobs)}
    by_local, by_ray = ray_records(tmp_path / "local.jsonl"), ray_records(tmp_path / "ray.jsonl")
    assert set(by_ray) == set(by_local) == {job.job_id for job in jobs}
    accuracies = {}
    for job in train:
        mine, theirs = by_ray[job.job_id]["train"], by_local[job.job_id]["train"]
        assert mine["test_metric"] == pytest.approx(theirs["test_metric"], abs=ACCURACY_TOL)
        assert [e["val_loss"] for e in mine["epochs"]] == pytest.approx([e["val_loss"] for e in theirs["epochs"]],
                                                                        abs=ACCURACY_TOL)
        accuracies[job.seed] = mine["test_metric"]
    assert accuracies[0] != accuracies[1]  # the seeds really differ, so agreeing above means something
    node_id = ray_cluster.get_runtime_context().get_node_id()
    for job in jobs:
        where = by_ray[job.job_id]["environment"][EXECUTOR_KEY]
        assert (where["kind"], where["node_id"], where["hostname"]) == ("ray", node_id, platform.node())
        assert EXECUTOR_KEY not in by_local[job.job_id]["environment"]


@pytest.mark.slow
def test_failing_and_dying_jobs_become_error_records(ray_cluster, tmp_path):
    good, crashing = tiny_train_jobs(("mgu",), (0, 1))
    raising = dataclasses.replace(good, cell="no_such_cell")  # the job process raises on the node
    attempts = tmp_path / "attempts"

    def crash_one(identity, threads, timeout_s, python, settings):
        """Kill the Ray worker itself for one job, as a node's OOM killer or a segfault would."""
        if identity["seed"] == crashing.seed:
            with open(attempts, "a") as fh:
                fh.write("x")
            os._exit(1)
        return run_job_on_node(identity, threads, timeout_s, python, settings)

    timing = tiny_timing_job()
    # a run's settings reach the job processes on the node, whose Ray worker has none of the driver's environment
    executor = RayExecutor(timeout_s=JOB_TIMEOUT_S, policy=ONE_CPU, max_retries=1, task_body=crash_one,
                           settings={PROFILE_ENV: "1"})
    result = run_sweep([raising, crashing, good, timing], RecordStore(tmp_path / "ray.jsonl"), executor,
                       progress=False)
    assert result.statuses == {"ok": 2, "error": 2}  # the sweep went on past both failures
    records = ray_records(tmp_path / "ray.jsonl")
    assert records[good.job_id]["status"] == "ok"
    timed = records[timing.job_id]
    assert timed["status"] == "ok" and timed["timing"]
    assert timed["timing"]["profile"]["train_step"]["steps"] == PROFILE_STEPS  # --profile reached the node
    assert timed["environment"][EXECUTOR_KEY]["assigned_resources"]["CPU"] == RAY_CPUS  # the whole node
    assert timed["environment"]["threads_requested"] == RAY_CPUS
    failed = records[raising.job_id]
    assert failed["status"] == "error" and "no_such_cell" in failed["error"]
    assert failed["environment"][EXECUTOR_KEY]["node_id"] == ray_cluster.get_runtime_context().get_node_id()
    died = records[crashing.job_id]
    assert died["status"] == "error" and "WorkerCrashedError" in died["error"]
    assert attempts.read_text() == "xx"  # the first run and Ray's one retry


class InterruptedStore(RecordStore):
    """A store whose sweep is stopped (as by Ctrl-C) right after its first record is written."""

    def append(self, record: dict) -> None:
        super().append(record)
        raise KeyboardInterrupt


def job_processes(job_id: str) -> list[psutil.Process]:
    """Live job processes of this job (their command line names its job file)."""
    return [proc for proc in psutil.process_iter(["cmdline"])
            if f"{job_id}.job.json" in " ".join(proc.info["cmdline"] or ())]


@pytest.mark.slow
def test_resume_after_an_interrupted_ray_sweep_runs_only_the_missing_jobs(ray_cluster, tmp_path):
    first, running, queued = jobs = tiny_train_jobs(("rnn",), (0, 1, 2))  # two CPUs: the third waits its turn
    finished = tmp_path / "finished"  # seeds whose task ran its job to the end
    # in the interrupted sweep the second job trains for minutes, so however slowly a loaded machine delivers
    # the interruption, the job is still running when it comes: finishing it means the cancel failed
    long_running = dataclasses.replace(running, epochs=LONG_EPOCHS)

    def first_fails_while_second_runs(identity, threads, timeout_s, python, settings):
        """The first job's task fails at once, but only after the second job's process has started,
        so the interruption that follows its record reliably finds the second job mid-run."""
        if identity["seed"] == first.seed:
            deadline = time.monotonic() + JOB_TIMEOUT_S
            while time.monotonic() < deadline and not any(
                    f"{long_running.job_id}.job.json" in " ".join(p.info["cmdline"] or ())
                    for p in psutil.process_iter(["cmdline"])):
                time.sleep(0.1)
            raise RuntimeError("a stand-in failure of the first job's task")
        # Ray cancels a running task by raising KeyboardInterrupt in it or, on a busy machine, by killing its
        # worker; either way the job must not get here
        if identity["seed"] == running.seed:
            identity = long_running.identity()
        record = run_job_on_node(identity, threads, timeout_s, python, settings)
        with open(finished, "a") as fh:
            fh.write(str(identity["seed"]))
        return record

    path = tmp_path / "ray.jsonl"
    interrupted = RayExecutor(timeout_s=JOB_TIMEOUT_S, policy=ONE_CPU, task_body=first_fails_while_second_runs)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(jobs, InterruptedStore(path), interrupted, progress=False)
    (written,) = RecordStore(path).load()
    assert written.job_id == first.job_id and "stand-in failure" in written.error
    deadline = time.monotonic() + CLEANUP_WAIT_S
    while job_processes(long_running.job_id) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not job_processes(long_running.job_id), "a cancelled job's process outlived the interrupted sweep"
    # the running job was cancelled, not left to finish
    assert str(running.seed) not in (finished.read_text() if finished.exists() else "")

    resumed = run_sweep(jobs, RecordStore(path), RayExecutor(timeout_s=JOB_TIMEOUT_S, policy=ONE_CPU), progress=False)
    assert (resumed.skipped, resumed.statuses) == (1, {"ok": 2})
    ids = [record.job_id for record in RecordStore(path).load()]
    assert ids[0] == first.job_id and sorted(ids[1:]) == sorted([running.job_id, queued.job_id])  # each job once
    # the records are the local executor's format: resuming with it finds nothing left to run
    assert run_sweep(jobs, RecordStore(path), LocalExecutor(), progress=False).ran == 0
