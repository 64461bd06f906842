"""Jobs, ids, axis expansion and suites (no job is run here)."""

import dataclasses

import pytest

from bench.cells import UnknownCellError, implemented_in, list_cells
from bench.plan.config import ConfigError, TimingConfig
from bench.plan.jobs import Axes, Job, expand
from bench.plan.knobs import KNOBS
from bench.plan.suites import SUITES, get_suite

TF = "tensorflow"


def _job(**changes):
    base = dict(cell="gru0", framework="torch", backend="torch", mode="eager", device="cpu", task="digits",
                measure="train", epochs=2)
    return Job(**{**base, **changes})


def test_job_id_is_stable_and_changes_with_every_identity_field():
    job = _job()
    assert job.job_id == _job().job_id and len(job.job_id) == 16
    changes = {"cell": "mgu", "mode": "compiled", "task": "mnist", "num_layers": 2, "hidden_size": 64,
               "bidirectional": True, "batch_size": 32, "epochs": 3, "lr": 0.01, "seed": 1, "init": "shared",
               "target": 0.9, "task_options": (("limit_train", 500),), "float32": "tf32",
               "native_bias": "canonical", "adam_epsilon": "keras"}
    ids = {job.job_id}
    for field, value in changes.items():
        ids.add(dataclasses.replace(job, **{field: value}).job_id)
    assert len(ids) == len(changes) + 1


def test_identity_round_trips_through_json_form():
    job = _job(task_options=(("eval_lengths", (7, 9)), ("length", 5)))
    again = Job.from_identity(job.identity())
    assert again == job and again.job_id == job.job_id


def test_expand_takes_the_cross_product_and_skips_modes_a_framework_lacks():
    axes = Axes(tasks=("digits",), measure="train", cells=("gru0", "lstm"), frameworks=("torch", "keras"),
                modes=("eager", "graph", "xla"), keras_backend=TF, seeds=(0, 1), epochs=1)
    jobs = expand(axes)
    # torch: eager only; Keras on TensorFlow: eager, graph, xla
    assert len(jobs) == 2 * 2 * (1 + 3)
    assert {(j.framework, j.mode) for j in jobs} == {("torch", "eager"), ("keras", "eager"), ("keras", "graph"),
                                                      ("keras", "xla")}
    assert len({j.job_id for j in jobs}) == len(jobs)


def test_mode_aliases_resolve_per_backend():
    axes = Axes(tasks=("mnist",), measure="timing", cells=("gru0",), modes=("default", "compiled"))
    modes = {(j.backend, j.mode) for j in expand(dataclasses.replace(axes, keras_backend=TF))}
    assert modes == {("torch", "eager"), ("torch", "compiled"), (TF, "graph"), (TF, "xla")}
    jax_modes = {j.mode for j in expand(dataclasses.replace(axes, keras_backend="jax", frameworks=("keras",)))}
    assert jax_modes == {"xla"}  # JAX's default is already jit/XLA: one job, not two


def test_timing_jobs_take_their_shape_from_the_label():
    (job,) = expand(Axes(tasks=("noise",), measure="timing", cells=("gru1",), frameworks=("torch",),
                         timing=TimingConfig(warmup_steps=2, timed_steps=40)))
    assert (job.seq_len, job.input_size, job.epochs) == (100, 500, 0)
    assert job.options == {"loss": "mse", "num_outputs": 10}
    assert (job.warmup_steps, job.timed_steps) == (2, 40)


@pytest.mark.parametrize("axes, message", [
    (Axes(tasks=("digits",), measure="train", modes=("warp",), epochs=1), "mode 'warp' exists for none"),
    (Axes(tasks=("mnist",), measure="timing", modes=("compiled_cudagraphs",), frameworks=("torch",)),
     "needs --device cuda"),
    (Axes(tasks=("mnist",), measure="timing", modes=("compiled_step_graph",), frameworks=("torch",)),
     "needs --device cuda"),
    (Axes(tasks=("digits",), measure="train", modes=("compiled_step_graph",), frameworks=("torch",), epochs=1,
          device="cuda"), "cannot train; use it with --measure timing"),
    (Axes(tasks=("mnist",), measure="timing", modes=("compiled_step_graph",), frameworks=("torch",), device="cuda",
          adam_epsilons=("keras",)), "captured once as a CUDA graph"),
    (Axes(tasks=("mnist-ish",), measure="timing", frameworks=("torch",)), "no timing shape named 'mnist-ish'"),
    (Axes(tasks=("digits",), measure="train", epochs=0, frameworks=("torch",)), "needs epochs >= 1"),
])
def test_bad_axes_get_a_message_saying_what_to_use(axes, message):
    with pytest.raises(ConfigError, match=message):
        expand(axes)


def test_unknown_cell_lists_the_registered_ones():
    with pytest.raises(UnknownCellError, match="registered cells are: .*gru0"):
        expand(Axes(tasks=("digits",), measure="train", cells=("gru9",), epochs=1))


def test_quick_suite_covers_every_registered_cell_in_both_frameworks():
    jobs = get_suite("quick").jobs()
    for framework in ("torch", "keras"):
        cells = {cell for cell in list_cells() if framework in implemented_in(cell)}  # a plugin may have one only
        train = {j.cell for j in jobs if j.framework == framework and j.measure == "train" and j.task == "digits"}
        assert train == cells
        modes = {j.mode for j in jobs if j.framework == framework and j.measure == "timing"}
        assert len(modes) == 2  # default and compiled mode
        timed = [j for j in jobs if j.framework == framework and j.measure == "timing"]
        assert {j.cell for j in timed} == cells
        assert {(j.batch_size, j.seq_len, j.input_size, j.hidden_size) for j in timed} == {(64, 28, 28, 128)}
        assert all(j.timed_steps >= 30 for j in timed)


def test_suite_overrides_change_only_the_grids_they_apply_to():
    jobs = get_suite("quick").jobs({"cells": ("gru0",), "tasks": ("recall",), "timed_steps": 5})
    assert {j.cell for j in jobs} == {"gru0"}
    assert {j.task for j in jobs if j.measure == "train"} == {"recall"}
    assert {j.task for j in jobs if j.measure == "timing"} == {"mnist"}  # a shape label stays
    assert {j.timed_steps for j in jobs if j.measure == "timing"} == {5}


# for each knob the identity leaves out at its default: a value to choose, one it refuses, and how the error says so
CHOSEN = {"float32": ("fp32", "bf16", "default, tf32, fp32"), "native_bias": ("canonical", "tied", "framework, canonical"),
          "adam_epsilon": ("keras", "torch", "framework, keras"), "weight_decay": (1e-3, -1.0, "zero or positive")}
OPTIONAL_KNOBS = [knob for knob in KNOBS if knob.omit_default]


def test_every_optional_knob_has_a_case_here():
    assert {knob.name for knob in OPTIONAL_KNOBS} == set(CHOSEN)


@pytest.mark.parametrize("knob", OPTIONAL_KNOBS, ids=[knob.name for knob in OPTIONAL_KNOBS])
def test_an_optional_knob_is_part_of_the_identity_and_label_only_when_chosen(knob):
    """Jobs from before the knob existed keep their ids: its default is left out."""
    chosen, invalid, valid = CHOSEN[knob.name]
    name, default, mark = knob.name, knob.default, knob.label(chosen)
    assert mark and name not in _job().identity() and mark not in _job().label()
    assert _job(**{name: chosen}).identity()[name] == chosen and mark in _job(**{name: chosen}).label()
    assert Job.from_identity(_job(**{name: chosen}).identity()) == _job(**{name: chosen})
    with pytest.raises(ConfigError, match=valid):
        _job(**{name: invalid})
    jobs = expand(Axes(tasks=("digits",), measure="train", cells=("lstm_native",), frameworks=("torch",), epochs=1,
                       **{knob.axis: (default, chosen)}))
    assert [getattr(job, name) for job in jobs] == [default, chosen]


def test_the_labels_of_the_older_knobs_are_unchanged():
    assert _job(float32="fp32").label().split("/")[1].endswith("-fp32")
    assert "/canonical-bias/" in _job(native_bias="canonical").label()
    assert "/keras-adam-epsilon/" in _job(adam_epsilon="keras").label()


@pytest.mark.parametrize("knob", KNOBS, ids=[knob.name for knob in KNOBS])
def test_every_knob_is_a_cli_flag_an_axis_and_a_settings_label(knob):
    from bench.cli import build_parser
    from bench.commands.run import build_jobs
    from bench.plan.settings import SETTINGS

    value = knob.choices[-1] if knob.choices else knob.type(0.5)
    args = build_parser().parse_args(["run", "--cells", "gru0", "--frameworks", "torch", knob.flag, str(value)])
    (_, _, (job,)) = build_jobs(args)
    assert getattr(job, knob.name) == value and knob.axis in {f.name for f in dataclasses.fields(Axes)}
    assert knob.name in SETTINGS


def test_shape_labels_in_tasks_select_the_timing_grids_of_a_suite():
    noise = SUITES["gpu"].jobs({"tasks": ("noise",), "keras_backend": TF})
    assert noise and {(j.task, j.batch_size, j.seq_len, j.hidden_size) for j in noise} == {("noise", 64, 100, 256)}
    both = SUITES["gpu"].jobs({"tasks": ("noise", "mnist"), "keras_backend": TF})
    assert len(both) == len(SUITES["gpu"].jobs({"keras_backend": TF}))


def test_gpu_suite_adds_the_cuda_graph_modes_for_torch_only():
    jobs = SUITES["gpu"].jobs({"keras_backend": TF})
    assert {j.mode for j in jobs if j.framework == "torch"} == {"eager", "compiled", "compiled_cudagraphs",
                                                                 "compiled_step_graph"}
    assert {j.mode for j in jobs if j.framework == "keras"} == {"graph", "xla"}
    assert {(j.batch_size, j.seq_len, j.input_size, j.hidden_size) for j in jobs} == {
        (b, 28, 28, h) for b in (64, 256) for h in (128, 256, 512)} | {(64, 100, 500, 256)}
    assert all(j.device == "cuda" for j in jobs)


def test_job_and_axes_declare_every_knob_with_the_tables_type_and_default():
    """Job and Axes are static dataclasses a type checker reads; the knobs table and they cannot drift apart."""
    import typing

    job_fields = {f.name: f for f in dataclasses.fields(Job)}
    job_types = typing.get_type_hints(Job)
    axes_fields = {f.name: f for f in dataclasses.fields(Axes)}
    axes_types = typing.get_type_hints(Axes)
    for knob in KNOBS:
        assert job_types[knob.name] is knob.type and job_fields[knob.name].default == knob.default, knob.name
        assert axes_types[knob.axis] == tuple[knob.type, ...], knob.axis
        assert axes_fields[knob.axis].default == (knob.default,), knob.axis
