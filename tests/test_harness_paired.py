"""Paired timing in the runners: a custom cell's job times its native layer in the same process.

Real jobs, run in this process at a tiny size (digits, H8), in both frameworks.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from bench.records.typed import record_json
from bench.plan.config import ConfigError, TimingConfig
from bench.plan.jobs import Axes, Job, expand
from bench.run.worker import run_in_process

TIMING = TimingConfig(warmup_steps=2, timed_steps=6)
STEP_KINDS = ("train_step", "inference_step")
RATIO_SANITY = 20.0  # a custom cell this many times slower or faster than its native layer means a mix-up


@pytest.fixture(scope="module", autouse=True)
def _keep_torch_threads():
    """The runners set torch's thread count for their job; give the test session its own back."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _jobs(measure: str, cells: tuple[str, ...], framework: str, paired: bool = True) -> list[Job]:
    return expand(Axes(tasks=("digits",), measure=measure, cells=cells, frameworks=(framework,), hidden_sizes=(8,),
                       batch_sizes=(16,), epochs=1 if measure != "timing" else 0, lrs=(1e-2,), seeds=(3,),
                       timing=dataclasses.replace(TIMING, paired=paired)))


def test_only_custom_timing_jobs_are_paired_and_the_flag_is_in_their_identity():
    custom, native = _jobs("timing", ("mgu", "gru4"), "torch")
    assert custom.paired and not native.paired  # a native layer is its own baseline
    assert custom.identity()["paired"] is True and "paired" not in native.identity()
    (unpaired,) = _jobs("timing", ("mgu",), "torch", paired=False)
    assert "paired" not in unpaired.identity() and unpaired.job_id != custom.job_id
    (train,) = expand(Axes(tasks=("digits",), measure="train", cells=("mgu",), frameworks=("torch",), epochs=1))
    assert "paired" not in train.identity()  # train jobs keep the ids they had before pairing existed
    with pytest.raises(ConfigError, match="only timing jobs of custom cells can be paired"):
        dataclasses.replace(native, paired=True)


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_a_paired_job_records_its_native_half_and_the_paired_ratio(framework):
    (job,) = _jobs("timing", ("lstm",), framework)
    record = record_json(run_in_process(job, threads=1))
    assert record["status"] == "ok", record["error"]
    timing = record["timing"]
    assert timing["paired"] is True and timing["native"]["cell"] == "lstm_native"
    assert timing["paired_ratio"]["order"] == "ABBA"
    for kind in STEP_KINDS:
        mine, native, ratio = timing[kind], timing["native"][kind], timing["paired_ratio"][kind]
        assert mine["n"] == native["n"] == ratio["n"] == TIMING.timed_steps
        assert native["warmup_n"] == TIMING.warmup_steps and native["median_s"] > 0
        assert ratio["q1"] <= ratio["median"] <= ratio["q3"]
        assert 1 / RATIO_SANITY < ratio["median"] < RATIO_SANITY


def test_a_job_in_another_mode_also_times_the_native_layer_as_users_run_it():
    """Keras xla: the cell is paired with the native layer in xla and, interleaved again, in graph (Keras's usual
    mode on TensorFlow); a job already in the usual mode has only the one pairing."""
    (graph_job,) = _jobs("timing", ("mgu",), "keras")
    xla_job = dataclasses.replace(graph_job, mode="xla")
    xla, graph = (record_json(run_in_process(job, threads=1)) for job in (xla_job, graph_job))
    assert xla["status"] == graph["status"] == "ok", (xla["error"], graph["error"])
    usual = xla["timing"]["native_usual"]
    assert usual["cell"] == "gru4" and usual["mode"] == "graph" and "mode" not in xla["timing"]["native"]
    for kind in STEP_KINDS:
        ratio = xla["timing"]["paired_ratio_usual"][kind]
        assert usual[kind]["n"] == ratio["n"] == TIMING.timed_steps
        assert 1 / RATIO_SANITY < ratio["median"] < RATIO_SANITY
    assert "native_usual" not in graph["timing"] and "paired_ratio_usual" not in graph["timing"]


def test_pairing_leaves_training_untouched_and_an_unpaired_job_times_alone():
    (paired,) = _jobs("both", ("gru0",), "torch")
    (alone,) = _jobs("both", ("gru0",), "torch", paired=False)
    with_native, without = (record_json(run_in_process(j, threads=1)) for j in (paired, alone))
    assert with_native["status"] == without["status"] == "ok"
    # the native model is built after training, so the cell's training is bit for bit the same
    assert with_native["train"]["epochs"][0]["train_loss"] == without["train"]["epochs"][0]["train_loss"]
    assert with_native["train"]["test_metric"] == without["train"]["test_metric"]
    assert np.isfinite(with_native["timing"]["paired_ratio"]["train_step"]["median"])
    assert without["timing"]["paired"] is False and "native" not in without["timing"]
    assert "paired_ratio" not in without["timing"]


def test_torch_timed_steps_never_flip_train_eval_mode_so_compiled_graphs_are_not_recompiled():
    """Flipping module.training between the two kinds of step made torch.compile recompile at each flip
    (seen on the H100: 20 s warm-up steps). The models hold no mode-dependent layer, so both modes agree."""
    from bench.run.runners.batches import random_batch
    from bench.run.runners.common import timing_problem
    from bench.run.runners.torch_runner import TorchAdapter

    (job,) = _jobs("timing", ("gru4",), "torch")
    problem = timing_problem(job)
    adapter = TorchAdapter(job, problem)
    mode_dependent = (torch.nn.Dropout, torch.nn.modules.batchnorm._BatchNorm)
    assert not [m for m in adapter.model.modules() if isinstance(m, mode_dependent)]
    batch = random_batch(job, problem)
    train, infer = adapter.timed_train_step(batch), adapter.timed_infer_step(batch)
    for step in (train, infer, train):
        step()
        assert adapter.model.training


@pytest.mark.slow
# rnn in compiled_scan: torch 2.13's scan gets mgu's and gru3's recurrent-kernel gradient wrong at this size
# (the gate records them incorrect), so no timing would follow
@pytest.mark.parametrize("mode, cell", [("compiled", "mgu"), ("compiled_scan", "rnn")])
def test_a_compiled_cell_runs_the_graph_it_primed_beside_its_compiled_native_layer(mode, cell):
    """Compiling the paired native model (which Dynamo gives up on at nn.GRU) once made the custom model's
    next step fall back to eager with its layer compiled anew: a second compile after priming, and a timed
    graph other than the one primed. Nothing may compile after both models are primed."""
    (job,) = _jobs("timing", (cell,), "torch")
    record = record_json(run_in_process(dataclasses.replace(job, mode=mode), threads=1))
    assert record["status"] == "ok", record["error"]
    graphs = record["timing"]["compiled_graphs"]
    assert graphs["total"] > 0
    assert graphs["after_priming"] == 0 and graphs["while_timed"] == 0, graphs


def test_profile_records_what_each_step_ran_beside_the_native_and_the_report_shows_it(monkeypatch, tmp_path):
    from bench.records.store import RecordStore
    from bench.report.summary import write_report
    from bench.run.runners.measure import PHASES, PROFILE_ENV, PROFILE_STEPS

    monkeypatch.setenv(PROFILE_ENV, "1")
    (job,) = _jobs("timing", ("gru0",), "torch")
    record = record_json(run_in_process(job, threads=1))
    assert record["status"] == "ok", record["error"]
    profile = record["timing"]["profile"]
    assert set(profile) == {f"{prefix}{kind}" for prefix in ("", "native_") for kind in STEP_KINDS}
    mine, native = profile["train_step"], profile["native_train_step"]
    assert mine["steps"] == PROFILE_STEPS and mine["what"].startswith("ATen operators")
    # a hand-written cell runs an operator or more per time step; the native layer one fused call
    assert mine["launches_per_step"] > native["launches_per_step"] > 0
    assert "aten::gru" not in {t["name"] for t in mine["top"]}
    assert mine["top"] and all(t["time_per_step_s"] >= 0 for t in mine["top"])
    RecordStore(tmp_path / "r.jsonl").append(record)
    summary = write_report(tmp_path / "r.jsonl", tmp_path)["summary"].read_text()
    assert "## Profile" in summary and "ATen operators (CPU time)" in summary
    assert "| busy " in summary  # the counted time as a share of the timed step
    host = mine["host_top"]  # the host side: which calls held the CPU during a step
    assert host and host[0]["time_per_step_s"] >= host[-1]["time_per_step_s"] > 0 and mine["wall_per_step_s"] > 0
    assert "### The host's side of the same steps" in summary
    for side in (mine, native):  # the training step's wall time, split by phase on the host, for both models
        phases = side["host_phases"]
        assert list(phases) == list(PHASES) and all(seconds >= 0 for seconds in phases.values())
        assert phases["forward"] > 0 and phases["backward"] > 0 and phases["optimizer"] > 0
    # on a CPU the work is done while it is issued: forward and backward hold most of the step
    assert mine["host_phases"]["forward"] + mine["host_phases"]["backward"] > sum(mine["host_phases"].values()) / 2
    assert "host_phases" not in profile["inference_step"]
    assert "host ms per phase: zero_grad / forward / loss / backward / optimizer / device_wait" in summary


def test_a_profile_counts_kernels_and_not_the_annotations_that_span_them():
    """On a GPU torch lists "Optimizer.step#Adam.step" as a device row over kernels that have rows of their own."""
    from types import SimpleNamespace

    from bench.run.runners.torch_profile import device_kernels

    rows = [SimpleNamespace(key="gemm", device_type="cuda", is_user_annotation=False),
            SimpleNamespace(key="Optimizer.step#Adam.step", device_type="cuda", is_user_annotation=True),
            SimpleNamespace(key="aten::mm", device_type="cpu", is_user_annotation=False)]
    assert [row.key for row in device_kernels(rows, "cuda")] == ["gemm"]
