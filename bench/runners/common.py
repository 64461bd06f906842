"""What both runners share: batches, losses and metrics in NumPy, the training loop, timing.

Each framework supplies a `ModelAdapter` (build, one training step, a forward pass,
parameter counts); everything that must be identical across frameworks lives here:
the batch order (NumPy permutations from the seed), how losses and metrics are
scored (NumPy, from the model's raw outputs), divergence, epochs to target, and how a
custom cell is timed interleaved with its native baseline in the same process.
"""

from __future__ import annotations

import dataclasses
import os
import random
import resource
import sys
import time
from typing import Any, Callable, Protocol

import numpy as np

from bench.cells import get_spec
from bench.config import SPEC_FRAMEWORK
from bench.jobs import Job
from bench.runners.batches import Batch, batch_order, eval_batches, make_batch, random_batch
from bench.runners.metrics import HIGHER_IS_BETTER, Problem, epochs_to_target, score
from bench.executors.device_lock import LOCK_DIR_ENV, PARALLEL_ENV, device_lock
from bench.timing import StepStats, time_pair, time_steps

EMBEDDING_DIM = 64  # token tasks: embedding width passed to make_model (its default)
TRAIN_EVAL_LIMIT = 10_000  # train metric after each epoch is scored on at most this many training sequences


class Diverged(RuntimeError):
    """The training loss became NaN or infinite; the job stops and keeps its partial record."""


class ModelAdapter(Protocol):
    """One framework's model, optimizer and steps for one job."""

    def train_step(self, batch: Batch) -> float:
        """One optimizer step on `batch`; the loss as a Python float."""

    def predict(self, batch: Batch) -> np.ndarray:
        """Raw outputs (logits or values) of a forward pass, as NumPy."""

    def timed_train_step(self, batch: Batch) -> Callable[[], Any]:
        """A zero-argument training step on `batch` already moved to the device."""

    def timed_infer_step(self, batch: Batch) -> Callable[[], Any]:
        """A zero-argument forward pass without gradients on `batch` on the device."""

    def sync(self, result: Any) -> None:
        """Block until the device has finished `result` (and everything queued before)."""

    def param_counts(self) -> dict[str, Any]:
        """{"framework": all model parameters, "recurrent": recurrent layers' parameters, "per_layer": [...]}."""

    def native_path(self, batch: Batch) -> str | None:
        """For a native cell: which kernel ran; None for custom cells."""

    def peak_memory(self) -> dict[str, Any]:
        """{"peak_bytes": int, "kind": how it was measured}."""


def seed_host(seed: int) -> None:
    """Seed Python's and NumPy's global generators (frameworks seed their own)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)


def peak_rss() -> dict[str, Any]:
    """Maximum resident set size of this process (includes the framework itself)."""
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # Linux reports KiB, macOS bytes
    return {"peak_bytes": int(usage * scale), "kind": "max_rss"}


def predict_all(adapter: ModelAdapter, x, y, lengths, batch_size: int, kind: str) -> np.ndarray:
    outputs = [adapter.predict(batch)[:valid] for batch, valid in eval_batches(x, y, lengths, batch_size, kind)]
    return np.concatenate(outputs)


def is_oom(exc: BaseException) -> bool:
    """Out of device memory in any framework (torch, TensorFlow, JAX/XLA)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & {"OutOfMemoryError", "ResourceExhaustedError"}:
        return True
    text = str(exc)
    return "RESOURCE_EXHAUSTED" in text or "out of memory" in text.lower()


def load_problem_and_task(job: Job):
    """Load the job's dataset (train/both jobs): (Problem, Task)."""
    import datasets

    task = datasets.load(job.task, seed=job.seed, **job.options)
    problem = Problem(kind=task.kind, loss=task.loss, metric=task.metric, num_outputs=task.num_outputs,
                      input_size=task.input_size, seq_len=task.seq_len, vocab_size=task.vocab_size)
    return problem, task


def timing_problem(job: Job) -> Problem:
    """The problem of a timing-only job, from its shape options."""
    options = job.options
    loss = options.get("loss", "cross_entropy")
    kind = "classify" if loss == "cross_entropy" else "regress"
    metric = "accuracy" if kind == "classify" else "mse"
    return Problem(kind=kind, loss=loss, metric=metric, num_outputs=int(options.get("num_outputs", 10)),
                   input_size=job.input_size, seq_len=job.seq_len, vocab_size=None)


def expected_recurrent_params(job: Job, problem: Problem, embedding_dim: int) -> int:
    """The spec's closed-form count for every recurrent layer (and direction) of the model."""
    spec = get_spec(job.cell)
    directions = 2 if job.bidirectional else 1
    first_input = embedding_dim if problem.vocab_size else problem.input_size
    total = 0
    for layer in range(job.num_layers):
        size_in = first_input if layer == 0 else job.hidden_size * directions
        total += directions * spec.param_count(size_in, job.hidden_size, SPEC_FRAMEWORK[job.framework])
    return total


def train(adapter: ModelAdapter, job: Job, problem: Problem, task, out: dict[str, Any]) -> None:
    """Train for job.epochs, filling out["train"] as it goes (partial results survive a failure).

    Raises Diverged on a non-finite training loss, after recording the epoch so far.
    """
    n_eval = min(len(task.x_train), TRAIN_EVAL_LIMIT)
    train_eval = (task.x_train[:n_eval], task.y_train[:n_eval],
                  None if task.lengths_train is None else task.lengths_train[:n_eval])
    record: dict[str, Any] = {
        "loss": problem.loss, "metric": problem.metric, "kind": problem.kind,
        "higher_is_better": HIGHER_IS_BETTER[problem.metric],
        "seq_len": int(task.x_train.shape[1]), "input_size": problem.input_size,
        "num_outputs": problem.num_outputs, "vocab_size": problem.vocab_size,
        "sizes": {"train": len(task.x_train), "val": len(task.x_val), "test": len(task.x_test)},
        "train_metric_on": n_eval, "target": job.target, "epochs": [], "epochs_to_target": None,
        "test_loss": None, "test_metric": None, "extra_tests": {}, "task_info": _jsonable(task.info),
    }
    out["train"] = record
    for epoch in range(1, job.epochs + 1):
        start = time.perf_counter()
        losses = []
        for rows in batch_order(len(task.x_train), job.batch_size, job.seed, epoch):
            loss = adapter.train_step(make_batch(task.x_train, task.y_train, task.lengths_train, rows, problem.kind))
            losses.append(loss)
            if not np.isfinite(loss):
                record["epochs"].append({"epoch": epoch, "train_loss": float(np.mean(losses)),
                                         "steps": len(losses), "wall_s": time.perf_counter() - start})
                raise Diverged(f"training loss became {loss} at epoch {epoch}, step {len(losses)} "
                               f"(lr {job.lr}); the job was stopped")
        wall = time.perf_counter() - start
        _, train_metric = _evaluate(adapter, *train_eval, job, problem)
        val_loss, val_metric = _evaluate(adapter, task.x_val, task.y_val, task.lengths_val, job, problem)
        record["epochs"].append({"epoch": epoch, "train_loss": float(np.mean(losses)), "train_metric": train_metric,
                                 "val_loss": val_loss, "val_metric": val_metric, "steps": len(losses),
                                 "wall_s": wall})
    record["epochs_to_target"] = epochs_to_target([e["val_metric"] for e in record["epochs"]], job.target,
                                                  problem.metric)
    record["test_loss"], record["test_metric"] = _evaluate(adapter, task.x_test, task.y_test, task.lengths_test,
                                                           job, problem)
    for name, (x, y, lengths) in task.extra_tests.items():
        loss, metric = _evaluate(adapter, x, y, lengths, job, problem)
        record["extra_tests"][name] = {"loss": loss, "metric": metric, "n": len(x)}


def _evaluate(adapter, x, y, lengths, job: Job, problem: Problem) -> tuple[float, float]:
    outputs = predict_all(adapter, x, y, lengths, job.batch_size, problem.kind)
    return score(outputs, y, lengths, problem)


STEP_KINDS = ("train_step", "inference_step")  # what is timed, in this order
PROFILE_ENV = "RNNBENCH_PROFILE"  # set (by `bench run --profile`): profile each timed step after timing it
PROFILE_STEPS = 5  # steps under the profiler per kind of step


def native_job(job: Job) -> Job:
    """The job of `job`'s native baseline: same framework, mode, shape, batch, seed and init."""
    return dataclasses.replace(job, cell=get_spec(job.cell).baseline, paired=False)


def measure_steps(adapter: ModelAdapter, job: Job, batch: Batch,
                  make_native: Callable[[], ModelAdapter] | None = None) -> dict[str, Any]:
    """Training-step and inference-step statistics on one batch, after warm-up.

    Kind by kind (training step, then inference step), each step is first primed:
    `job.warmup_steps` untimed calls, the first one timed as the compile/trace cost
    (`first_s`, `compile_s`). Priming happens outside the device lock
    (bench.executors.device_lock), so jobs run side by side with `--parallel` compile at
    the same time; the warm-up and timed steps then run holding the lock, so no other
    job's timed steps overlap them. The memory peak is read after the custom model's
    training step was primed and before the native model exists, so it is this model's
    alone. Where the framework can tell, the record counts the graphs compiled, and
    those compiled while the lock was held (a recompile inside the timed section).

    With `make_native` (builds the baseline's adapter in this process), each kind of
    step is timed interleaved with the native one (bench.timing.time_pair); the record
    then holds the native's statistics under "native" and the median of the per-pair
    ratios under "paired_ratio", which the report and the gate prefer to a ratio
    across jobs.
    """
    result: dict[str, Any] = {"paired": make_native is not None}
    native: ModelAdapter | None = None
    waited, compiles = 0.0, _compile_count(adapter)
    recompiled_while_timed = 0
    for name in STEP_KINDS:
        step = _step_maker(adapter, name)(batch)
        first = _prime(step, adapter.sync, job.warmup_steps)
        if "memory_alone" not in result:
            result["memory_alone"] = adapter.peak_memory()  # before the native model exists
        if make_native is not None and native is None:
            native = make_native()
            result["native"] = {"cell": get_spec(job.cell).baseline}
            result["paired_ratio"] = {"order": None}
        if native is not None:
            native_step = _step_maker(native, name)(batch)
            native_first = _prime(native_step, native.sync, job.warmup_steps)
            # alternate once outside the lock too: on CUDA, running the other compiled model in
            # between made torch.compile compile the first one again (20-40 s, seen on the H100)
            for _ in range(job.warmup_steps):
                adapter.sync(step())
                native.sync(native_step())
        before = _compile_count(adapter)
        with device_lock(job.device) as lock:
            if native is None:
                stats = time_steps(step, warmup=job.warmup_steps, repeats=job.timed_steps,
                                   batch_size=job.batch_size, sync=adapter.sync)
                result[name] = _with_first_call(stats, first).to_dict()
            else:
                pair = time_pair(step, native_step, warmup=job.warmup_steps, repeats=job.timed_steps,
                                 batch_size=job.batch_size, sync_a=adapter.sync, sync_b=native.sync)
                result[name] = _with_first_call(pair.a, first).to_dict()
                result["native"][name] = _with_first_call(pair.b, native_first).to_dict()
                result["paired_ratio"][name] = pair.ratio.to_dict() if pair.ratio else None
                result["paired_ratio"]["order"] = pair.order
            if os.environ.get(PROFILE_ENV) and hasattr(adapter, "profile_step"):
                # after the timed steps, still alone on the device; never part of the statistics
                profiles = result.setdefault("profile", {})
                profiles[name] = adapter.profile_step(step, PROFILE_STEPS)
                if native is not None:
                    profiles[f"native_{name}"] = native.profile_step(native_step, PROFILE_STEPS)
        waited += lock["wait_s"]
        if before is not None:
            recompiled_while_timed += _compile_count(adapter) - before
    if compiles is not None:
        # graphs compiled by this job, and how many of them came while holding the lock (should be 0)
        result["compiled_graphs"] = {"total": _compile_count(adapter) - compiles,
                                     "while_timed": recompiled_while_timed}
    result["device_lock"] = {"used": bool(os.environ.get(LOCK_DIR_ENV)), "wait_s": waited,
                             "parallel_jobs": int(os.environ.get(PARALLEL_ENV, "1"))}
    result["data"] = "random" if job.measure == "timing" else "first training batch"
    result["shape"] = {"batch_size": job.batch_size, "seq_len": int(batch.x.shape[1]),
                       "input_size": int(batch.x.shape[2]) if batch.x.ndim == 3 else None}
    return result


def _compile_count(adapter: ModelAdapter) -> int | None:
    """Graphs the adapter's framework has compiled so far, where it can tell (torch.compile)."""
    count = getattr(adapter, "compile_count", None)
    return count() if count is not None else None


def _prime(step: Callable[[], Any], sync: Callable[[Any], None], calls: int) -> float:
    """Run `step` `calls` times untimed except the first (compilation, tracing, CUDA-graph capture); its seconds."""
    sync(None)
    start = time.perf_counter()
    result = step()
    sync(result)
    first = time.perf_counter() - start
    for _ in range(max(0, calls - 1)):
        sync(step())
    return first


def _with_first_call(stats: StepStats, first_s: float) -> StepStats:
    """`stats` with the priming call as its first call (the compile cost), not its first warm-up step."""
    return dataclasses.replace(stats, first_s=first_s, compile_s=max(0.0, first_s - stats.median_s))


def _step_maker(adapter: ModelAdapter, kind: str) -> Callable[[Batch], Callable[[], Any]]:
    return adapter.timed_train_step if kind == "train_step" else adapter.timed_infer_step


def first_train_batch(job: Job, problem: Problem, task) -> Batch:
    rows = batch_order(len(task.x_train), job.batch_size, job.seed, 0)[0]
    return make_batch(task.x_train, task.y_train, task.lengths_train, rows, problem.kind)


def _jsonable(value: Any) -> Any:
    """Task provenance made JSON-safe (NumPy scalars and arrays become Python values)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist() if value.size <= 64 else f"array{value.shape}"
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def run_job(job: Job, make_adapter: Callable[[Job, Problem], ModelAdapter], out: dict[str, Any]) -> None:
    """The whole job: data, model, training and/or timing, parameters, memory, into `out`."""
    seed_host(job.seed)
    if job.measure == "timing":
        problem, task = timing_problem(job), None
        timing_batch = random_batch(job, problem)
    else:
        problem, task = load_problem_and_task(job)
        timing_batch = first_train_batch(job, problem, task) if job.measure == "both" else None
    adapter = make_adapter(job, problem)
    probe = timing_batch or first_train_batch(job, problem, task)
    out["params"] = adapter.param_counts()
    out["params"]["recurrent_expected"] = expected_recurrent_params(job, problem, EMBEDDING_DIM)
    out["native_path"] = adapter.native_path(probe)
    try:
        if task is not None:
            train(adapter, job, problem, task, out)
        if timing_batch is not None:
            # built after training, so the paired native model cannot change the custom one's results
            make_native = (lambda: make_adapter(native_job(job), problem)) if job.paired else None
            out["timing"] = measure_steps(adapter, job, timing_batch, make_native)
    finally:
        # a paired job's process also holds the native model: its peak read before that model existed
        alone = (out.get("timing") or {}).get("memory_alone")
        out["memory"] = alone if alone is not None else adapter.peak_memory()

