"""The Keras runner: a `ModelAdapter` around cells_tf.make_model, compiled with Adam.

Modes: "graph" (TensorFlow's tf.function, jit_compile=False), "xla"
(jit_compile=True; on JAX this is jax.jit) and "eager" (run_eagerly=True).
Training and inference go through train_on_batch / predict_on_batch so both
frameworks see exactly the batches bench.run.runners.common hands out.
"""

from __future__ import annotations

from typing import Any, Callable

import keras
import numpy as np

import cells_tf
from bench.cells import get_spec
from bench.records.environment import keras_environment
from bench.plan.jobs import Job
from bench.records.schema import Record
from bench.run.runners.batches import Batch
from bench.run.runners.common import EMBEDDING_DIM, peak_rss, run_job
from bench.run.runners.metrics import Problem

# reduction that divides by the sum of the step weights, like the masked mean in torch
REDUCTION = "mean_with_sample_weight"


def setup(job: Job, threads: int) -> dict[str, Any]:
    """Threads and seeds before the backend starts; returns the environment facts to record."""
    backend = keras.backend.backend()
    if backend != job.backend:
        raise RuntimeError(f"the job asks for Keras on {job.backend} but Keras started on {backend}; "
                           "KERAS_BACKEND must be set before keras is imported")
    if backend == "tensorflow":
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(max(1, min(threads, 2)))
        except RuntimeError:  # TensorFlow already started in this process; the record shows its values
            pass
        if job.device == "cuda" and not tf.config.list_physical_devices("GPU"):
            raise RuntimeError("the job asks for --device cuda but TensorFlow sees no GPU "
                               "(tensorflow-cpu has no GPU support; on a GPU machine use --keras-backend jax)")
    elif backend == "jax" and job.device == "cuda":
        import jax

        if jax.default_backend() != "gpu":
            raise RuntimeError(f"the job asks for --device cuda but JAX runs on {jax.default_backend()}; "
                               "install jax with CUDA support")
    keras.utils.set_random_seed(job.seed)
    set_float32_precision(backend, job.float32)
    return keras_environment(backend, job.device)


def set_float32_precision(backend: str, precision: str) -> None:
    """The backend's TF32 setting as the job's `float32` asks; "default" leaves the backend's own (TF32 allowed).

    The record's environment reads it back (tf32 on TensorFlow, jax_matmul_precision on JAX).
    """
    if precision == "default":
        return
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_tensor_float_32_execution(precision == "tf32")
    elif backend == "jax":
        import jax

        jax.config.update("jax_default_matmul_precision", "tensorfloat32" if precision == "tf32" else "float32")


class SigmoidMSE(keras.losses.Loss):
    """Squared error of sigmoid(logits) against 0/1 targets, averaged over the last axis as MSE is."""

    def call(self, y_true, y_pred):
        y_true = keras.ops.cast(y_true, y_pred.dtype)
        return keras.ops.mean(keras.ops.square(keras.ops.sigmoid(y_pred) - y_true), axis=-1)


def _loss(name: str) -> keras.losses.Loss:
    if name == "cross_entropy":
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=REDUCTION)
    if name == "bce":
        return keras.losses.BinaryCrossentropy(from_logits=True, reduction=REDUCTION)
    if name == "mse":
        return keras.losses.MeanSquaredError(reduction=REDUCTION)
    if name == "sigmoid_mse":
        return SigmoidMSE(reduction=REDUCTION, name="sigmoid_mse")
    raise ValueError(f"unknown loss {name!r}")


def make_optimizer(job: Job) -> keras.optimizers.Optimizer:
    """Adam at the job's learning rate with Keras's defaults (epsilon 1e-7, added outside the bias correction).

    Every job.adam_epsilon gets this Adam: "keras" changes torch's step to match it (bench.run.runners.torch_adam).
    """
    return keras.optimizers.Adam(learning_rate=job.lr)


class KerasAdapter:
    """One compiled Keras model for one job."""

    def __init__(self, job: Job, problem: Problem) -> None:
        self.job, self.problem = job, problem
        self.model = cells_tf.make_model(
            job.cell, problem.input_size if problem.vocab_size is None else None, job.hidden_size,
            num_layers=job.num_layers, bidirectional=job.bidirectional, head=problem.head,
            num_outputs=problem.num_outputs, vocab_size=problem.vocab_size, embedding_dim=EMBEDDING_DIM,
            init=job.init, seed=job.seed, native_bias=job.native_bias)
        steps = problem.seq_len or 1
        probe = (np.zeros((2, steps), np.int64) if problem.vocab_size
                 else np.zeros((2, steps, problem.input_size), np.float32))
        self.model(probe)  # creates the weights, so parameters can be counted (and penalised) before training
        if job.weight_decay:  # λ·Σw² per weight matrix, added to the loss by Keras
            for weight in self.model.trainable_weights:
                if len(weight.shape) >= 2:
                    weight.regularizer = keras.regularizers.L2(job.weight_decay)
        self.model.compile(optimizer=make_optimizer(job), loss=_loss(problem.loss),
                           jit_compile=job.execution.compiler == "xla",
                           run_eagerly=job.execution.compiler == "none")

    def _inputs(self, batch: Batch, on_device: bool = False):
        convert = keras.ops.convert_to_tensor if on_device else (lambda a: a)
        x = convert(batch.x)
        return x if batch.lengths is None else (x, convert(batch.lengths))

    # -- ModelAdapter ------------------------------------------------------------------------
    def train_step(self, batch: Batch) -> float:
        return float(self.model.train_on_batch(self._inputs(batch), batch.y, sample_weight=batch.weights))

    def predict(self, batch: Batch) -> np.ndarray:
        return np.asarray(self.model.predict_on_batch(self._inputs(batch)))

    def timed_train_step(self, batch: Batch) -> Callable[[], Any]:
        x = self._inputs(batch, on_device=True)
        y = keras.ops.convert_to_tensor(batch.y)
        weights = None if batch.weights is None else keras.ops.convert_to_tensor(batch.weights)
        # train_on_batch hands back the loss as a host value, which waits for the step
        return lambda: self.model.train_on_batch(x, y, sample_weight=weights)

    def timed_infer_step(self, batch: Batch) -> Callable[[], Any]:
        x = self._inputs(batch, on_device=True)
        return lambda: self.model.predict_on_batch(x)  # returns NumPy: the step is finished

    def sync(self, result: Any) -> None:
        if result is not None:
            np.asarray(result)  # already host values; reading them is the synchronisation

    def param_counts(self) -> dict[str, Any]:
        per_layer = [int(layer.count_params()) for layer in self.model.recurrent_layers]
        trainable = sum(int(np.prod(weight.shape)) for weight in self.model.trainable_weights)
        return {"framework": int(self.model.count_params()), "trainable": trainable,
                "recurrent": sum(per_layer), "per_layer": per_layer}

    def optimizer_facts(self) -> dict[str, Any]:
        optimizer = self.model.optimizer
        return {"class": type(optimizer).__name__, "lr": float(keras.ops.convert_to_numpy(optimizer.learning_rate)),
                "betas": [float(optimizer.beta_1), float(optimizer.beta_2)], "epsilon": float(optimizer.epsilon),
                "epsilon_added_to": "uncorrected root of v"}

    def native_path(self, batch: Batch) -> str | None:
        if not get_spec(self.job.cell).native:
            return None
        layer = self.model.recurrent_layers[0]
        path = cells_tf.native_fast_path(layer)
        described = f"{path.path}: {path.reason}"
        if keras.backend.backend() == "jax" and self.job.device == "cuda":
            # what the backend will really run: Keras falls back from cuDNN silently
            from cells_tf.fast_path import observed_jax_kernel

            steps = batch.x.shape[1]
            probe = np.zeros((2, steps, layer.input_size), np.float32)
            seen = observed_jax_kernel(layer, probe)
            described += f"; observed: {seen + ' in the jitted program' if seen else 'no cuDNN call in the jitted program'}"
        return described

    def peak_memory(self) -> dict[str, Any]:
        if self.job.device == "cuda":
            backend = keras.backend.backend()
            if backend == "tensorflow":
                import tensorflow as tf
                return {"peak_bytes": int(tf.config.experimental.get_memory_info("GPU:0")["peak"]),
                        "kind": "tf.config.experimental.get_memory_info peak"}
            if backend == "jax":
                import jax
                stats = jax.devices()[0].memory_stats() or {}
                return {"peak_bytes": int(stats.get("peak_bytes_in_use", 0)), "kind": "jax memory_stats peak_bytes_in_use"}
        return peak_rss()


def run(job: Job, out: Record) -> None:
    """Run `job` in this process, filling `out` (see bench.run.runners.common.run_job)."""
    run_job(job, KerasAdapter, out)
