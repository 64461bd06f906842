"""The record, typed: one dataclass per section, from which validation, the typed record and the published schema
all come.

bench.records.validation walks a record (a dict, as read from JSONL) against these classes, nested sections and
lists included, and names every problem by its path ("timing.train_step.median_s must be float or null");
bench.records.typed turns a valid one into these classes and back. `schema_markdown` writes the table
docs/harness.md publishes (a test keeps the two the same). A field's type says what a value may be; `Optional`
means null is allowed (a measurement that was not finite is written as null); a field with a default may be
absent (older records, or a section that only some jobs fill in). A section marked OPEN may hold keys beyond its
fields (free-form maps: versions, task options); every other section refuses keys it does not declare, so a
writer's typo fails at once.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Optional

from bench.plan.jobs import Job
from bench.plan.knobs import KNOBS


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """A class's resolved field types (resolving them is slow, and every record asks)."""
    return typing.get_type_hints(cls)


def doc(text: str, default: Any = dataclasses.MISSING) -> Any:
    """A field with its description (and a default where the key may be absent)."""
    return field(default=default, metadata={"doc": text})


ABSENT = None  # the default of a key that may be missing


@dataclass
class StepStats:
    """One kind of step's timing (bench.run.timing.StepStats.to_dict)."""

    median_s: Optional[float] = doc("median step time, s")
    mean_s: Optional[float] = doc("mean step time, s")
    q1_s: Optional[float] = doc("first quartile, s")
    q3_s: Optional[float] = doc("third quartile, s")
    iqr_s: Optional[float] = doc("q3 − q1, s")
    n: int = doc("timed steps")
    batch_size: int = doc("sequences per step")
    throughput_seq_s: Optional[float] = doc("sequences per second at the median")
    first_s: Optional[float] = doc("the first call (compiles), s", ABSENT)
    compile_s: Optional[float] = doc("first call minus the median, s", ABSENT)
    warmup_n: int = doc("untimed warm-up steps", ABSENT)
    warmup_s: list = doc("each warm-up step's time, s", ABSENT)


@dataclass
class PairedRatio:
    """A paired timing job's per-pair ratios, custom ÷ native (bench.run.timing.time_pair)."""

    median: Optional[float] = doc("median of the per-pair ratios")
    iqr: Optional[float] = doc("their interquartile range", ABSENT)
    q1: Optional[float] = doc("first quartile", ABSENT)
    q3: Optional[float] = doc("third quartile", ABSENT)
    n: int = doc("pairs", ABSENT)
    ratios: list = doc("every pair's ratio, in timing order (the A/B gate resamples them; absent before it)", ABSENT)


@dataclass
class PairedRatios:
    """Per step kind, the paired ratio; and which side ran first in each pair."""

    order: Optional[str] = doc("the order of the two sides in a pair")
    train_step: Optional[PairedRatio] = doc("training step", ABSENT)
    inference_step: Optional[PairedRatio] = doc("inference step", ABSENT)


@dataclass
class NativeSide:
    """The native layer timed in the same job as a custom cell."""

    cell: str = doc("the baseline's registry name")
    mode: str = doc("the mode it ran in (absent: the job's own mode)", ABSENT)
    train_step: StepStats = doc("its training step", ABSENT)
    inference_step: StepStats = doc("its inference step", ABSENT)


@dataclass
class Memory:
    """A peak of memory and how it was read."""

    peak_bytes: Optional[int] = doc("peak bytes")
    kind: str = doc("what was read: max_rss on CPU, the framework's allocator peak on a GPU")


@dataclass
class Timing:
    """Step timing of a timing or both job (bench.run.runners.measure.measure_steps)."""

    train_step: StepStats = doc("the training step (forward, loss, backward, Adam)")
    inference_step: StepStats = doc("the inference step (forward)")
    paired: bool = doc("whether the native layer was timed interleaved in this job (absent before pairing)", ABSENT)
    shape: dict = doc("batch_size, seq_len, input_size as measured", ABSENT)
    data: str = doc("random, or the first training batch", ABSENT)
    native: NativeSide = doc("the paired native layer's timing", ABSENT)
    paired_ratio: PairedRatios = doc("the per-pair ratios to native (what the report and gate use)", ABSENT)
    native_usual: NativeSide = doc("the native layer as users run it (its backend's default mode), timed interleaved "
                                   "too where the job's mode is another", ABSENT)
    paired_ratio_usual: PairedRatios = doc("the per-pair ratios to native_usual", ABSENT)
    memory_alone: Memory = doc("peak memory before the native model existed", ABSENT)
    compiled_graphs: dict = doc("graphs compiled: total, after both models' steps were primed (should be 0), and while the "
                                "timed steps ran (should be 0)", ABSENT)
    device_lock: dict = doc("whether the device lock was used, how long it waited, the cores it timed on", ABSENT)
    profile: dict = doc("with --profile: operators or kernels per step and where the host's time went", ABSENT)


@dataclass
class Epoch:
    """One training epoch."""

    epoch: int = doc("1-based")
    train_loss: Optional[float] = doc("mean training loss")
    val_loss: Optional[float] = doc("validation loss (absent for a task without a validation split)", ABSENT)
    val_metric: Optional[float] = doc("validation metric (likewise)", ABSENT)
    train_metric: Optional[float] = doc("training metric on a sample", ABSENT)
    steps: int = doc("optimizer steps", ABSENT)
    wall_s: float = doc("wall time of the epoch, s", ABSENT)


@dataclass
class Train:
    """An accuracy run (bench.run.runners.common.train); partial when the job failed midway."""

    loss: str = doc("the loss (cross_entropy, bce, sigmoid_mse, mse)")
    metric: str = doc("the metric scored (accuracy, bit_accuracy, mse …)")
    epochs: list[Epoch] = doc("one entry per finished epoch")
    kind: str = doc("the task's kind (classify, per_step, regress)", ABSENT)
    higher_is_better: bool = doc("whether the metric improves upwards", ABSENT)
    seq_len: Optional[int] = doc("steps per sequence (the longest)", ABSENT)
    input_size: Optional[int] = doc("features per step; null for token input", ABSENT)
    num_outputs: int = doc("outputs of the head", ABSENT)
    vocab_size: Optional[int] = doc("token vocabulary; null for feature input", ABSENT)
    sizes: dict = doc("items per split", ABSENT)
    train_metric_on: Optional[int] = doc("training items the training metric was scored on", ABSENT)
    target: Optional[float] = doc("the validation metric counted as reached", ABSENT)
    epochs_to_target: Optional[int] = doc("first epoch that reached it", ABSENT)
    test_loss: Optional[float] = doc("loss on the test split", ABSENT)
    test_metric: Optional[float] = doc("metric on the test split", ABSENT)
    extra_tests: dict = doc("further test sets: name → loss, metric, n", ABSENT)
    task_info: dict = doc("what the dataset loader reports about the task", ABSENT)
    optimizer: dict = doc("the Adam that trained the model: class, lr, betas, epsilon, epsilon_added_to", ABSENT)
    divergence: dict = doc("the divergence rule: factor, untrained_loss, threshold", ABSENT)


@dataclass
class Params:
    """Parameter counts, from the framework."""

    framework: int = doc("every model parameter")
    recurrent: int = doc("the recurrent layers'")
    per_layer: list = doc("each recurrent layer's")
    recurrent_expected: int = doc("the spec's count for the recurrent layers")
    trainable: int = doc("those the optimizer updates", ABSENT)


@dataclass
class Git:
    """The checkout the job ran from."""

    commit: Optional[str] = doc("HEAD")
    dirty: Optional[bool] = doc("uncommitted changes")


OPEN = "open"  # a class attribute marking a section that may hold undeclared keys


@dataclass
class Environment:
    """Where and with what the job ran (bench.records.environment); platform-specific keys beyond these are kept."""

    section = OPEN
    hostname: str = doc("machine name")
    platform: str = doc("OS and architecture")
    cpu: str = doc("CPU model")
    cpu_cores: int = doc("cores")
    python_executable: str = doc("the interpreter")
    recorded_at: str = doc("UTC time the environment was read")
    git: Git = doc("the checkout")
    versions: dict = doc("package → version (python, numpy, torch, tensorflow, keras, jax …)")
    env: dict = doc("the thread and backend environment variables", ABSENT)
    device_name: str = doc("the CPU or GPU the job ran on", ABSENT)
    cuda: Optional[Any] = doc("CUDA version; null on a CPU", ABSENT)
    cudnn: Optional[int] = doc("cuDNN version", ABSENT)
    threads: dict = doc("intra-op and inter-op threads in use", ABSENT)
    threads_requested: Optional[int] = doc("threads the run asked for", ABSENT)
    source_digest: str = doc("digest of the project's source files", ABSENT)
    plugins: list = doc("each plugin file: source, sha256, its cells' baseline and nativeness", ABSENT)
    tf32: dict = doc("the TF32 switches as read back", ABSENT)
    executor: dict = doc("Ray: node and resources the job ran with", ABSENT)
    compile_cache: str = doc("torch jobs: the Inductor cache compiled into, \"fresh for this job\" unless "
                             "TORCHINDUCTOR_CACHE_DIR named a shared one", ABSENT)
    process: str = doc("\"fresh\": the job's process ran it alone or first; \"reused: job N of this process\": "
                       "its framework was imported and compile caches warmed by earlier jobs (--reuse-processes)",
                       ABSENT)
    extras: dict = field(default_factory=dict, metadata={"internal": True})  # the keys beyond these (CUDA driver …)


def _identity_types() -> dict[str, Any]:
    """Each identity key and its type, from the Job's own fields (task options travel as a JSON object)."""
    hints = _hints(Job)
    return {f.name: dict if f.name == "task_options" else hints[f.name] for f in dataclasses.fields(Job)}


# identity() leaves these out at their defaults: `paired` when False, and the knobs that say so
IDENTITY_OPTIONAL_KEYS = ("paired", *(knob.name for knob in KNOBS if knob.omit_default))
IDENTITY_OPTIONAL = {key: value for key, value in _identity_types().items() if key in IDENTITY_OPTIONAL_KEYS}
IDENTITY_REQUIRED = {key: value for key, value in _identity_types().items() if key not in IDENTITY_OPTIONAL_KEYS}


@dataclass
class Record:
    """One job's record: one JSON line of a records file."""

    schema_version: int = doc("1")
    job_id: str = doc("first 16 hex digits of the SHA-256 of the identity's canonical JSON")
    identity: dict = doc("what was run: bench.plan.jobs.Job.identity() (keys below)")
    status: str = doc("ok, diverged, oom, error, timeout, incorrect (failed its correctness gate; not timed)")
    error: Optional[str] = doc("message and traceback tail when status is not ok")
    started_at: str = doc("UTC start, ISO 8601")
    duration_s: float = doc("wall time of the whole job, process start included")
    native_path: Optional[str] = doc("which kernel a native cell ran; null for custom cells")
    params: Optional[Params] = doc("parameter counts")
    train: Optional[Train] = doc("the accuracy run")
    timing: Optional[Timing] = doc("the step timing")
    memory: Optional[Memory] = doc("the job's peak memory")
    environment: Environment = doc("where and with what it ran")
    # the identity as a Job (bench.records.typed.build_record sets it): readers use record.job.cell, defaults filled in
    job: Optional[Job] = field(default=None, compare=False, repr=False, metadata={"internal": True})


@functools.cache
def _json_fields(cls: type) -> dict[str, dataclasses.Field]:
    """The fields of a section that are keys of its JSON (not `extras`, which holds an open section's others)."""
    return {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}


def _type_text(expected: Any) -> str:
    args = typing.get_args(expected)
    if typing.get_origin(expected) in (typing.Union, types.UnionType):
        inner = next(a for a in args if a is not type(None))
        return f"{_type_text(inner)} or null"
    if typing.get_origin(expected) is list:
        return f"list of {_type_text(args[0])}" if args else "list"
    if dataclasses.is_dataclass(expected):
        return f"`{expected.__name__}`"
    return {str: "string", int: "integer", float: "number", bool: "boolean", dict: "object"}.get(expected, "any")


def schema_markdown() -> str:
    """The record schema as docs/harness.md publishes it: one table per section, generated from the classes."""
    sections, queue, seen = [], [Record], set()
    while queue:
        cls = queue.pop(0)
        if cls in seen:
            continue
        seen.add(cls)
        hints = _hints(cls)
        rows = ["| key | type | content |", "|---|---|---|"]
        for f in _json_fields(cls).values():
            optional = "" if f.default is dataclasses.MISSING else " (may be absent)"
            rows.append(f"| `{f.name}` | {_type_text(hints[f.name])}{optional} | {f.metadata['doc']} |")
            for inner in (hints[f.name], *typing.get_args(hints[f.name])):
                for candidate in (inner, *typing.get_args(inner)):
                    if dataclasses.is_dataclass(candidate):
                        queue.append(candidate)
        extra = " It may hold further keys." if getattr(cls, "section", None) == OPEN else ""
        sections.append(f"#### `{cls.__name__}`\n\n{cls.__doc__.strip()}{extra}\n\n" + "\n".join(rows))
    identity = ["| key | type |", "|---|---|"]
    identity += [f"| `{k}` | {_type_text(v)} |" for k, v in IDENTITY_REQUIRED.items()]
    identity += [f"| `{k}` | {_type_text(v)} (only when not its default) |" for k, v in IDENTITY_OPTIONAL.items()]
    sections.insert(1, "#### `identity`\n\nThe job (bench.plan.jobs.Job); the run settings are the knobs of bench/plan/knobs.py, "
                       "and those that default out of the identity appear only when set.\n\n" + "\n".join(identity))
    return "\n\n".join(sections)
