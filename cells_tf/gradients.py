"""Gradients with respect to the canonical weights, for tests and users' own checks."""

from __future__ import annotations

import keras
import numpy as np


def canonical_gradients(layer, x: np.ndarray, d_outputs: np.ndarray):
    """(d_x, {canonical name: gradient}) of sum(d_outputs * outputs) for a built layer.

    Uses tf.GradientTape on TensorFlow and jax.grad on JAX, then maps the layer's own
    variable gradients to the canonical layout with `layer.to_canonical`.
    """
    variables = layer.trainable_variables
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x_t = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x_t)
            loss = tf.reduce_sum(_sequence_outputs(layer(x_t)) * d_outputs)
        d_x, *d_vars = tape.gradient(loss, [x_t, *variables])
    elif backend == "jax":
        import jax
        import jax.numpy as jnp

        def loss(values, inputs):
            outputs, _ = layer.stateless_call(values, [v.value for v in layer.non_trainable_variables], inputs)
            return jnp.sum(_sequence_outputs(outputs) * d_outputs)

        d_vars, d_x = jax.grad(loss, argnums=(0, 1))([v.value for v in variables], jnp.asarray(x))
    else:
        raise NotImplementedError(f"canonical_gradients supports the tensorflow and jax backends, not {backend}")
    as_numpy = keras.ops.convert_to_numpy
    d_native = {v.name: as_numpy(g) for v, g in zip(variables, d_vars)}
    return as_numpy(d_x), layer.to_canonical(d_native)


def _sequence_outputs(result):
    """The (B, T, H) outputs whether the layer was built with return_state or not."""
    return result[0] if isinstance(result, (tuple, list)) else result
