"""What both runners share: batches, losses and metrics in NumPy, the training loop, timing.

Each framework supplies a `ModelAdapter` (build, one training step, a forward pass,
parameter counts); everything that must be identical across frameworks lives here:
the batch order (NumPy permutations from the seed), how losses and metrics are
scored (NumPy, from the model's raw outputs), divergence, epochs to target. How the
steps are timed (primed, locked, paired with the native layer) is bench.run.runners.measure.
"""

from __future__ import annotations

import random
import resource
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from bench.cells import get_spec
from bench.plan.jobs import Job
from bench.records.schema import Epoch, Memory, Params, Record, Timing, Train
from bench.records.typed import section_of
from bench.run.runners.adapter import ModelAdapter
from bench.run.runners.batches import Batch, batch_order, eval_batches, make_batch, random_batch
from bench.run.runners.measure import measure_steps, native_job, usual_native_job
from bench.run.runners.metrics import HIGHER_IS_BETTER, Problem, epochs_to_target, score

EMBEDDING_DIM = 64  # token tasks: embedding width passed to make_model (its default)
TRAIN_EVAL_LIMIT = 10_000  # train metric after each epoch is scored on at most this many training sequences


# A run has diverged when an epoch's mean training loss exceeds this multiple of the untrained loss (the loss of
# the first step, computed before any update). Sane runs end far below their untrained loss; --lr 1e6 on digits
# reached 2-4e7 against an untrained 2.3 (1e7 times), so 100 leaves room for any noisy start and still catches it.
DIVERGENCE_FACTOR = 100.0


class Diverged(RuntimeError):
    """The training loss became NaN or infinite, or grew past DIVERGENCE_FACTOR × the untrained loss; the job
    stops and keeps its partial record."""


def seed_host(seed: int) -> None:
    """Seed Python's and NumPy's global generators (frameworks seed their own)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)


def peak_rss() -> dict[str, Any]:
    """Peak resident set size of this process (includes the framework itself), since it started or since
    reset_peak_rss: Linux's VmHWM, elsewhere getrusage's maximum."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return {"peak_bytes": int(line.split()[1]) * 1024, "kind": "max_rss"}
    except OSError:
        pass
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # Linux reports KiB, macOS bytes
    return {"peak_bytes": int(usage * scale), "kind": "max_rss"}


def reset_peak_rss() -> bool:
    """Start peak_rss again from what is resident now (Linux: "5" to clear_refs); False where it cannot."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def predict_all(adapter: ModelAdapter, x, y, lengths, batch_size: int, kind: str) -> np.ndarray:
    outputs = [adapter.predict(batch)[:valid] for batch, valid in eval_batches(x, y, lengths, batch_size, kind)]
    return np.concatenate(outputs)


def is_oom(exc: BaseException) -> bool:
    """Out of device memory in any framework (torch, TensorFlow, JAX/XLA)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & {"OutOfMemoryError", "ResourceExhaustedError"}:
        return True
    text = str(exc)
    # torch's CPU allocator raises a plain RuntimeError ("DefaultCPUAllocator: can't allocate memory")
    return "RESOURCE_EXHAUSTED" in text or "out of memory" in text.lower() or "can't allocate memory" in text


def load_problem_and_task(job: Job):
    """Load the job's dataset (train/both jobs): (Problem, Task)."""
    import datasets

    task = datasets.load(job.task, seed=job.seed, **job.options)
    problem = Problem(kind=task.kind, loss=task.loss, metric=task.metric, num_outputs=task.num_outputs,
                      input_size=task.input_size, seq_len=task.seq_len, vocab_size=task.vocab_size,
                      readout=task.readout)
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
        total += directions * spec.param_count(size_in, job.hidden_size, job.framework)
    return total


def train(adapter: ModelAdapter, job: Job, problem: Problem, task, out: Record) -> None:
    """Train for job.epochs, filling out.train as it goes (partial results survive a failure).

    Raises Diverged on a non-finite training loss or an epoch's mean past DIVERGENCE_FACTOR × the untrained
    loss, after recording the epoch so far.
    """
    n_eval = min(len(task.x_train), TRAIN_EVAL_LIMIT)
    train_eval = (task.x_train[:n_eval], task.y_train[:n_eval],
                  None if task.lengths_train is None else task.lengths_train[:n_eval])
    record = out.train = Train(
        loss=problem.loss, metric=problem.metric, kind=problem.kind, higher_is_better=HIGHER_IS_BETTER[problem.metric],
        seq_len=int(task.x_train.shape[1]), input_size=problem.input_size, num_outputs=problem.num_outputs,
        vocab_size=problem.vocab_size,
        sizes={"train": len(task.x_train), "val": len(task.x_val), "test": len(task.x_test)},
        train_metric_on=n_eval, target=job.target, epochs=[], extra_tests={}, task_info=_jsonable(task.info),
        optimizer=adapter.optimizer_facts(),
        # how divergence is judged: the untrained loss is filled in by the first step
        divergence={"factor": DIVERGENCE_FACTOR, "untrained_loss": None, "threshold": None})
    for epoch in range(1, job.epochs + 1):
        start = time.perf_counter()
        losses = []
        for rows in batch_order(len(task.x_train), job.batch_size, job.seed, epoch, task.groups_train):
            loss = adapter.train_step(make_batch(task.x_train, task.y_train, task.lengths_train, rows, problem.kind))
            losses.append(loss)
            divergence = record.divergence
            if divergence["untrained_loss"] is None and np.isfinite(loss):  # the loss before the first update
                divergence["untrained_loss"], divergence["threshold"] = loss, DIVERGENCE_FACTOR * abs(loss)
            if not np.isfinite(loss):
                record.epochs.append(Epoch(epoch=epoch, train_loss=float(np.mean(losses)), steps=len(losses),
                                           wall_s=time.perf_counter() - start))
                raise Diverged(f"training loss became {loss} at epoch {epoch}, step {len(losses)} "
                               f"(lr {job.lr}); the job was stopped")
        wall = time.perf_counter() - start
        mean_loss, threshold = float(np.mean(losses)), record.divergence["threshold"]
        if threshold is not None and mean_loss > threshold:
            record.epochs.append(Epoch(epoch=epoch, train_loss=mean_loss, steps=len(losses), wall_s=wall))
            raise Diverged(f"training loss grew to {mean_loss:.4g} in epoch {epoch}, over {DIVERGENCE_FACTOR:g} × "
                           f"the untrained loss {record.divergence['untrained_loss']:.4g} (lr {job.lr}); "
                           "the job was stopped")
        _, train_metric = _evaluate(adapter, *train_eval, job, problem)
        val_loss, val_metric = _evaluate(adapter, task.x_val, task.y_val, task.lengths_val, job, problem)
        record.epochs.append(Epoch(epoch=epoch, train_loss=float(np.mean(losses)), train_metric=train_metric,
                                   val_loss=val_loss, val_metric=val_metric, steps=len(losses), wall_s=wall))
    record.epochs_to_target = epochs_to_target([e.val_metric for e in record.epochs], job.target, problem.metric)
    record.test_loss, record.test_metric = _evaluate(adapter, task.x_test, task.y_test, task.lengths_test, job,
                                                     problem)
    for name, (x, y, lengths) in task.extra_tests.items():
        loss, metric = _evaluate(adapter, x, y, lengths, job, problem)
        record.extra_tests[name] = {"loss": loss, "metric": metric, "n": len(x)}


def _evaluate(adapter, x, y, lengths, job: Job, problem: Problem) -> tuple[float, float]:
    outputs = predict_all(adapter, x, y, lengths, job.batch_size, problem.kind)
    return score(outputs, y, lengths, problem)


def first_train_batch(job: Job, problem: Problem, task) -> Batch:
    rows = batch_order(len(task.x_train), job.batch_size, job.seed, 0, task.groups_train)[0]
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


def run_job(job: Job, make_adapter: Callable[[Job, Problem], ModelAdapter], out: Record) -> None:
    """The whole job: data, model, training and/or timing, parameters, memory, into `out`."""
    seed_host(job.seed)
    if job.measure == "timing":
        problem, task = timing_problem(job), None
        timing_batch = random_batch(job, problem)
    else:
        problem, task = load_problem_and_task(job)
        timing_batch = first_train_batch(job, problem, task) if job.measure == "both" else None
    if timing_batch is not None:  # correctness gates timing: a cell that misses its reference is never timed
        from bench.correctness import require_correct

        input_size = EMBEDDING_DIM if problem.vocab_size else problem.input_size
        require_correct(job.cell, job.framework, job.execution,
                        sizes=(job.batch_size, input_size, job.hidden_size, int(timing_batch.x.shape[1])))
    adapter = make_adapter(job, problem)
    probe = timing_batch or first_train_batch(job, problem, task)
    out.params = Params(**adapter.param_counts(),
                        recurrent_expected=expected_recurrent_params(job, problem, EMBEDDING_DIM))
    out.native_path = adapter.native_path(probe)
    try:
        if task is not None:
            train(adapter, job, problem, task, out)
        if timing_batch is not None:
            # built after training, so the paired native model cannot change the custom one's results
            make_native = (lambda: make_adapter(native_job(job), problem)) if job.paired else None
            usual = usual_native_job(job) if job.paired else None
            make_usual = (lambda: make_adapter(usual, problem)) if usual is not None else None
            out.timing = section_of(Timing, measure_steps(adapter, job, timing_batch, make_native, make_usual))
    finally:
        # a paired job's process also holds the native model: its peak read before that model existed
        alone = out.timing.memory_alone if out.timing else None
        out.memory = alone if alone is not None else Memory(**adapter.peak_memory())

