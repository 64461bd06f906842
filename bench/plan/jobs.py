"""Jobs: one framework running one cell on one task or shape, with one seed.

A job is pure identity. Its id is a short hash of the canonical JSON of that
identity, so the same job always gets the same id and `--resume` can tell which
jobs of a sweep already have a record.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

from bench.cells import UnknownCellError, get_spec, implemented_in, list_cells
from bench.plan.config import (BACKENDS, DEVICES, FRAMEWORKS, MEASURES, ConfigError, TimingConfig, check_choice,
                               default_keras_backend)
from bench.plan.knobs import KNOB_DEFAULTS, KNOBS
from bench.plan.modes import Mode, get_mode, resolve_mode
from bench.plan.shapes import get_shape

JOB_ID_LENGTH = 16  # hex digits of sha256: collisions are negligible for any sweep


@dataclass(frozen=True)
class Job:
    """The identity of one measurement; every field goes into the job id.

    The run settings (learning rate, initialiser, ...) are the last fields, one per knob of bench.plan.knobs.KNOBS,
    declared here so a type checker sees them, their defaults taken from the table (tests/test_harness_jobs.py
    holds the two to each other).
    """

    cell: str  # registry name, e.g. "gru0"
    framework: str  # "torch" or "keras"
    backend: str  # "torch", "tensorflow" or "jax"
    mode: str  # concrete execution mode, e.g. "eager", "compiled", "graph", "xla"
    device: str  # "cpu" or "cuda"
    task: str  # dataset name (train/both) or the label of a timing shape, e.g. "mnist"
    measure: str  # "train" (accuracy run), "timing" (step timing) or "both"
    num_layers: int = 1  # stacked recurrent layers
    hidden_size: int = 128  # units per recurrent layer (and direction)
    bidirectional: bool = False  # forward and backward directions concatenated
    batch_size: int = 64  # sequences per step
    seq_len: int | None = None  # timing shape; None for train jobs (the task decides)
    input_size: int | None = None  # timing shape; None for train jobs (the task decides)
    epochs: int = 0  # training epochs (0 for timing-only jobs)
    seed: int = 0  # seeds every random source: weights, batch order, dropout, data split
    target: float | None = None  # validation metric that counts as "reached" (epochs to target)
    warmup_steps: int | None = None  # timing jobs: untimed steps before timing
    timed_steps: int | None = None  # timing jobs: steps timed after warm-up
    # timing jobs of custom cells: time the native baseline interleaved in the same
    # process (TimingConfig.paired); left out of the identity when False, so jobs from
    # before pairing existed keep their ids and read as unpaired
    paired: bool = False
    # options passed to datasets.load (train jobs) or describing the timing data
    # (loss, num_outputs); stored as sorted pairs so the job stays hashable
    task_options: tuple[tuple[str, Any], ...] = field(default_factory=tuple)
    lr: float = KNOB_DEFAULTS["lr"]  # Adam's learning rate
    init: str = KNOB_DEFAULTS["init"]  # initialiser: each framework's own, or the whole model drawn in NumPy
    native_bias: str = KNOB_DEFAULTS["native_bias"]  # which biases the native layers train
    adam_epsilon: str = KNOB_DEFAULTS["adam_epsilon"]  # where Adam adds epsilon: each framework's way, or Keras's
    float32: str = KNOB_DEFAULTS["float32"]  # float32 matmul precision on GPUs (TF32 or not)
    weight_decay: float = KNOB_DEFAULTS["weight_decay"]  # L2 penalty λ in the loss

    def __post_init__(self) -> None:
        check_choice("framework", self.framework, FRAMEWORKS)
        check_choice(f"backend for {self.framework}", self.backend, BACKENDS[self.framework])
        check_choice("device", self.device, DEVICES)
        check_choice("measure", self.measure, MEASURES)
        for knob in KNOBS:
            knob.check(getattr(self, knob.name))
        if resolve_mode(self.framework, self.backend, self.mode, self.device) != self.mode:
            raise ConfigError(f"mode {self.mode!r} is an alias; jobs carry concrete modes")
        for label in ("num_layers", "hidden_size", "batch_size"):
            if getattr(self, label) < 1:
                raise ConfigError(f"{label} must be >= 1, got {getattr(self, label)}")
        if self.execution.timing_only and self.measure != "timing":
            raise ConfigError(f"mode {self.mode!r} replays one captured step on one fixed batch, so it times "
                              f"steps but cannot train; use it with --measure timing, or train in "
                              f"compiled_cudagraphs mode (got --measure {self.measure})")
        if self.measure in ("train", "both") and self.epochs < 1:
            raise ConfigError(f"a {self.measure!r} job needs epochs >= 1, got {self.epochs}")
        if self.measure in ("timing", "both") and (self.warmup_steps is None or self.timed_steps is None):
            raise ConfigError("a timing job needs warmup_steps and timed_steps")
        if self.measure == "timing" and (self.seq_len is None or self.input_size is None):
            raise ConfigError("a timing-only job needs seq_len and input_size (its shape)")
        if self.paired and (self.measure == "train" or _registered_native(self.cell)):
            raise ConfigError(f"only timing jobs of custom cells can be paired with a native layer; "
                              f"{self.cell} ({self.measure}) cannot")
        if self.adam_epsilon != "framework" and self.execution.captures_step:
            raise ConfigError(f"adam_epsilon {self.adam_epsilon!r} sets torch's Adam epsilon before "
                              f"every step, which a step captured once as a CUDA graph ({self.mode}) cannot do; "
                              "time compiled_cudagraphs instead, or leave --adam-epsilon at framework")

    @property
    def execution(self) -> Mode:
        """The declared mode this job runs in (bench.plan.modes)."""
        return get_mode(self.backend, self.mode)

    @property
    def options(self) -> dict[str, Any]:
        """Task options as a dict."""
        return dict(self.task_options)

    def identity(self) -> dict[str, Any]:
        """Plain-JSON identity, the part of a record that names the job."""
        data = asdict(self)
        data["task_options"] = dict(self.task_options)
        if not self.paired:
            del data["paired"]
        for knob in KNOBS:
            if not knob.in_identity(data[knob.name]):
                del data[knob.name]
        return data

    @property
    def job_id(self) -> str:
        canonical = json.dumps(self.identity(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:JOB_ID_LENGTH]

    @classmethod
    def from_identity(cls, identity: dict[str, Any]) -> "Job":
        """Rebuild a job from `identity()` (the worker receives jobs this way)."""
        data = dict(identity)
        data["task_options"] = freeze_options(data.get("task_options") or {})
        return cls(**data)

    def label(self) -> str:
        """Short human name for progress bars and error messages."""
        what = (self.task if self.measure != "timing"
                else f"{self.task}-shape B{self.batch_size}xT{self.seq_len}xI{self.input_size}")
        after_mode = "".join(k.label(getattr(self, k.name)) for k in KNOBS if k.tag_after_mode)
        settings = "".join(k.label(getattr(self, k.name)) for k in KNOBS if not k.tag_after_mode)
        return (f"{self.cell}/{self.framework}-{self.mode}{after_mode}/{self.measure}/{what}/"
                f"L{self.num_layers}H{self.hidden_size}{settings}/seed{self.seed}")


def _registered_native(cell: str) -> bool:
    """Whether `cell` is a registered native cell; False for a name not registered here (a record's plugin cell read
    without its plugin: its pairing was checked when it ran; expand() refuses unknown names for new jobs)."""
    try:
        return get_spec(cell).native
    except UnknownCellError:
        return False


# every identity field with a default, by name (task_options' default is the empty tuple)
JOB_DEFAULTS: dict[str, Any] = {f.name: f.default if f.default is not MISSING else f.default_factory()
                                for f in fields(Job) if f.default is not MISSING or f.default_factory is not MISSING}


def identity_value(identity: dict[str, Any], name: str) -> Any:
    """Field `name` of a record's identity; the Job default where identity() left it out (float32, native_bias …)."""
    if name in identity:
        return identity[name]
    if name not in JOB_DEFAULTS:
        raise KeyError(f"{name!r} is not an identity field with a default; expected one of {', '.join(JOB_DEFAULTS)}")
    return JOB_DEFAULTS[name]


def freeze_options(options: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """Sorted (key, value) pairs; lists become tuples so the job stays hashable."""
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in options.items()))


@dataclass(frozen=True)
class Axes:
    """The axes of a sweep; `expand` takes their cross product. Each tuple is one axis.

    The last fields are the knobs' axes (`knob.axis` of bench.plan.knobs.KNOBS, default: the knob's default alone).
    """

    tasks: tuple[str, ...]  # dataset names (train/both) or timing-shape labels (timing, see bench.plan.shapes)
    measure: str  # "train", "timing" or "both"
    cells: tuple[str, ...] = ()  # registry names; empty = every registered cell
    frameworks: tuple[str, ...] = ("torch", "keras")  # "torch", "keras"
    modes: tuple[str, ...] = ("default",)  # concrete names or aliases ("default", "compiled")
    device: str = "cpu"  # "cpu" or "cuda"
    keras_backend: str | None = None  # backend of the Keras jobs; None = TensorFlow if installed, else JAX
    num_layers: tuple[int, ...] = (1,)  # stacked layers
    hidden_sizes: tuple[int, ...] = (128,)  # units
    batch_sizes: tuple[int, ...] = (64,)  # sequences per step
    bidirectional: tuple[bool, ...] = (False,)  # directions
    epochs: int = 0  # training epochs (train/both)
    seeds: tuple[int, ...] = (0,)  # one job per seed
    seq_len: int | None = None  # timing: steps; None = from the named shape
    input_size: int | None = None  # timing: features per step; None = from the named shape
    target: float | None = None  # validation metric target for epochs-to-target
    timing: TimingConfig | None = None  # warm-up and timed steps, pairing with native (timing/both)
    task_options: tuple[tuple[str, Any], ...] = ()  # passed to every job
    lrs: tuple[float, ...] = (KNOB_DEFAULTS["lr"],)  # learning rates
    inits: tuple[str, ...] = (KNOB_DEFAULTS["init"],)  # initialisers
    native_biases: tuple[str, ...] = (KNOB_DEFAULTS["native_bias"],)  # native layers' trained biases
    adam_epsilons: tuple[str, ...] = (KNOB_DEFAULTS["adam_epsilon"],)  # where Adam adds epsilon
    float32: tuple[str, ...] = (KNOB_DEFAULTS["float32"],)  # float32 matmul precisions
    weight_decays: tuple[float, ...] = (KNOB_DEFAULTS["weight_decay"],)  # L2 penalties


def backend_of(framework: str, keras_backend: str | None) -> str:
    if framework == "torch":
        return "torch"
    return keras_backend or default_keras_backend()


def concrete_modes(framework: str, backend: str, modes: tuple[str, ...], device: str) -> list[str]:
    """The modes of `modes` that exist for this framework, aliases resolved, in order, once each.

    A mode that exists only for the other framework (e.g. "xla" for torch) is skipped,
    so one `--modes eager graph` list serves both; a mode valid for neither is an error.
    """
    out: list[str] = []
    for mode in modes:
        try:
            concrete = resolve_mode(framework, backend, mode, device)
        except ConfigError:
            continue
        if concrete not in out:
            out.append(concrete)
    return out


def expand(axes: Axes) -> list[Job]:
    """Every job of the cross product of `axes`, in a stable order, without duplicates."""
    _check_modes_exist(axes)
    # every registered cell the asked frameworks implement (a plugin may bring a cell of one framework only);
    # a cell named explicitly must exist in one of them
    cells = axes.cells or tuple(cell for cell in list_cells() if set(implemented_in(cell)) & set(axes.frameworks))
    for cell in cells:
        get_spec(cell)  # an unknown name raises UnknownCellError listing the registered ones
        if not set(implemented_in(cell)) & set(axes.frameworks):
            where = " and ".join(implemented_in(cell)) or "no framework"
            raise ConfigError(f"cell {cell!r} is implemented in {where} only, and this run asks for "
                              f"{', '.join(axes.frameworks)}; add --frameworks {' '.join(implemented_in(cell))}")
    timing = None if axes.measure == "train" else (axes.timing or TimingConfig())
    jobs: list[Job] = []
    for framework in axes.frameworks:
        backend = backend_of(framework, axes.keras_backend)
        modes = concrete_modes(framework, backend, axes.modes, axes.device)
        knob_values = itertools.product(*(getattr(axes, knob.axis) for knob in KNOBS))
        for task, mode, cell, layers, hidden, batch, bidir, settings, seed in itertools.product(
                axes.tasks, modes, cells, axes.num_layers, axes.hidden_sizes, axes.batch_sizes,
                axes.bidirectional, list(knob_values), axes.seeds):
            if framework not in implemented_in(cell):  # a plugin cell may exist in one framework only
                continue
            seq_len, input_size, options = axes.seq_len, axes.input_size, dict(axes.task_options)
            if axes.measure == "timing":
                shape = get_shape(task)
                seq_len = seq_len or shape.seq_len
                input_size = input_size or shape.input_size
                options = {"loss": shape.loss, "num_outputs": shape.num_outputs, **options}
            jobs.append(Job(
                cell=cell, framework=framework, backend=backend, mode=mode, device=axes.device,
                task=task, measure=axes.measure, num_layers=layers, hidden_size=hidden,
                bidirectional=bidir, batch_size=batch, seq_len=seq_len, input_size=input_size,
                epochs=axes.epochs if axes.measure != "timing" else 0, seed=seed, target=axes.target,
                warmup_steps=timing.warmup_steps if timing else None,
                timed_steps=timing.timed_steps if timing else None,
                paired=bool(timing and timing.paired and not get_spec(cell).native),
                task_options=freeze_options(options), **{knob.name: v for knob, v in zip(KNOBS, settings)}))
    return dedupe(jobs)


def dedupe(jobs: list[Job]) -> list[Job]:
    """Drop repeated jobs, keeping the first of each id."""
    seen: set[str] = set()
    out = []
    for job in jobs:
        if job.job_id not in seen:
            seen.add(job.job_id)
            out.append(job)
    return out


def _check_modes_exist(axes: Axes) -> None:
    last: ConfigError | None = None
    for mode in axes.modes:
        ok = False
        for framework in axes.frameworks:
            backend = backend_of(framework, axes.keras_backend)
            try:
                resolve_mode(framework, backend, mode, axes.device)
                ok = True
            except ConfigError as err:
                last = err
        if not ok:
            raise ConfigError(f"mode {mode!r} exists for none of the frameworks {', '.join(axes.frameworks)} "
                              f"on device {axes.device!r}: {last}")
