"""`native_fast_path(layer)`: which implementation a Keras recurrent layer will run.

Mirrors how Keras 3 decides (keras/src/layers/rnn/{gru,lstm}.py `inner_loop` and
keras/src/backend/{tensorflow,jax}/rnn.py `gru`, `lstm`, `cudnn_ok`), so a record can
say which path ran:

- TensorFlow: GRU (reset_after) and LSTM take cuDNN only when the arguments allow it
  (tanh / sigmoid, bias, no unroll, no recurrent dropout, `use_cudnn` not False) AND
  TensorFlow sees a GPU; otherwise the generic step loop (`backend.rnn`).
- JAX: LSTM takes cuDNN (`jax.experimental.rnn`) under the same argument rules on a
  GPU backend.  GRU has no cuDNN kernel on JAX; with reset_after and no unroll Keras
  runs a fused path (input projection hoisted, `lax.scan`) on CPU and GPU alike.
- SimpleRNN and the hand-written cells always run the generic loop (the custom cells
  with their input projection hoisted out of it).
Masks would change the JAX answer, but the sequence layers here never pass one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import keras

from cells_tf.custom import CustomRecurrent
from cells_tf.native import NativeRecurrent

CUDNN = "cudnn"  # the vendor-fused kernel (cuDNN through TensorFlow or jax.experimental.rnn)
FUSED_SCAN = "fused_scan"  # Keras's JAX GRU: one hoisted input product, then lax.scan
GENERIC = "generic"  # Keras's backend.rnn loop calling the cell once per step
UNKNOWN = "unknown"  # a backend whose choice this module does not model


@dataclass(frozen=True)
class FastPath:
    """The path a layer runs on this machine and backend, and why."""

    path: str  # CUDNN, FUSED_SCAN, GENERIC or UNKNOWN
    backend: str  # keras.backend.backend() when asked
    reason: str  # one line for the record

    def __str__(self) -> str:
        return self.path


def native_fast_path(layer: keras.layers.Layer) -> FastPath:
    """The path `layer` (a cells_tf layer, or keras.layers.GRU/LSTM/SimpleRNN) will take."""
    backend = keras.backend.backend()
    if isinstance(layer, CustomRecurrent):
        return FastPath(GENERIC, backend, "hand-written cell: input projection hoisted, "
                                          "recurrent step in keras.layers.RNN's loop")
    native = layer.rnn if isinstance(layer, NativeRecurrent) else layer
    if isinstance(native, keras.layers.SimpleRNN):
        return FastPath(GENERIC, backend, "Keras has no fused SimpleRNN kernel on any backend")
    if not isinstance(native, (keras.layers.GRU, keras.layers.LSTM)):
        raise ValueError(f"native_fast_path expects a cells_tf layer or keras.layers.GRU/LSTM/SimpleRNN, "
                         f"got {type(layer).__name__}")
    is_gru = isinstance(native, keras.layers.GRU)
    blockers = _blockers(native, is_gru)
    if backend == "tensorflow":
        if blockers:
            return FastPath(GENERIC, backend, "cuDNN ruled out by arguments: " + "; ".join(blockers.values()))
        if not _tensorflow_sees_gpu():
            return FastPath(GENERIC, backend, "TensorFlow sees no GPU: cuDNN runs only on a GPU")
        return FastPath(CUDNN, backend, "cuDNN kernel through TensorFlow (GPU visible, arguments allow it)")
    if backend == "jax":
        return _jax_path(is_gru, blockers)
    return FastPath(UNKNOWN, backend, f"the {backend} backend's choice is not modelled here")


def _blockers(native: keras.layers.Layer, is_gru: bool) -> dict[str, str]:
    """Arguments that rule out a fused kernel: {argument: why}; empty when none does."""
    cell = native.cell
    checks = {
        "use_cudnn": (native.use_cudnn not in ("auto", True), f"use_cudnn={native.use_cudnn!r}"),
        "recurrent_dropout": (bool(cell.recurrent_dropout), f"recurrent_dropout={cell.recurrent_dropout}"),
        "activation": (cell.activation not in (keras.activations.tanh, keras.ops.tanh),
                       "activation is not tanh"),
        "recurrent_activation": (cell.recurrent_activation not in (keras.activations.sigmoid, keras.ops.sigmoid),
                                 "recurrent_activation is not sigmoid"),
        "unroll": (bool(native.unroll), "unroll=True"),
        "use_bias": (not cell.use_bias, "use_bias=False"),
        "reset_after": (is_gru and not cell.reset_after, "reset_after=False"),
    }
    return {argument: why for argument, (blocked, why) in checks.items() if blocked}


# Keras's JAX gru() takes any activation and bias; only these send it to the generic loop
_JAX_GRU_BLOCKERS = ("use_cudnn", "recurrent_dropout", "unroll", "reset_after")


def _jax_path(is_gru: bool, blockers: dict[str, str]) -> FastPath:
    if is_gru:
        hard = [why for argument, why in blockers.items() if argument in _JAX_GRU_BLOCKERS]
        if hard:
            return FastPath(GENERIC, "jax", "fused JAX GRU ruled out by arguments: " + "; ".join(hard))
        return FastPath(FUSED_SCAN, "jax", "Keras's JAX GRU: input projection hoisted, lax.scan per step "
                                           "(JAX has no cuDNN GRU)")
    if blockers:
        return FastPath(GENERIC, "jax", "cuDNN ruled out by arguments: " + "; ".join(blockers.values()))
    import jax  # only on the JAX backend

    if jax.default_backend() != "gpu":
        return FastPath(GENERIC, "jax", f"JAX runs on {jax.default_backend()}: cuDNN runs only on a GPU")
    try:
        import jax.experimental.rnn  # noqa: F401  (Keras's cuDNN LSTM on JAX)
    except ImportError:
        return FastPath(GENERIC, "jax", "jax.experimental.rnn is not importable")
    return FastPath(CUDNN, "jax", "cuDNN LSTM through jax.experimental.rnn (GPU backend)")


def _tensorflow_sees_gpu() -> bool:
    import tensorflow as tf  # only on the TensorFlow backend

    return bool(tf.config.list_logical_devices("GPU"))


def observed_jax_kernel(layer: keras.layers.Layer, x: Any) -> str | None:
    """On the JAX backend: the cuDNN custom call in `layer(x)`'s jitted program, or None.

    `native_fast_path` predicts from the arguments; this looks at what JAX will
    actually run (Keras falls back to its generic loop silently when the cuDNN call
    cannot be built), by lowering the call with jax.jit and searching the StableHLO.
    """
    import jax  # only on the JAX backend

    text = jax.jit(lambda inputs: layer(inputs)).lower(x).as_text()
    match = re.search(r"cudnn[A-Za-z_$]*", text)
    return match.group(0) if match else None
