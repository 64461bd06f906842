"""`gru_reset_after` (hand-written, the native layers' math) and `gru4` (keras.layers.GRU).

    r = sigmoid(x W_r + b_r + h U_r + bh_r);  z = sigmoid(x W_z + b_z + h U_z + bh_z)
    n = tanh(x W_n + b_n + r * (h U_n + bh_n));  h' = z * h + (1 - z) * n

Here z KEEPS the old state (native convention).  Canonical blocks are [z, r, n], the
order of keras.layers.GRU; its bias is (2, 3H): row 0 input side, row 1 recurrent side.
"""

from __future__ import annotations

from collections.abc import Mapping

import keras
import numpy as np
from keras import ops

from cells_tf.cell_base import RecurrentCell, dense_over_time
from cells_tf.native import NativeRecurrent
from cells_tf.registry import register_cell_class, register_native_layer


@keras.saving.register_keras_serializable(package="rnnbench")
@register_cell_class("gru_reset_after")
class GRUResetAfterCell(RecurrentCell):
    """Hand-written GRU with exactly keras.layers.GRU(reset_after=True)'s math."""

    def project_inputs(self, inputs):
        return dense_over_time(inputs, self.kernel, self.bias)

    def step(self, projected, states):
        h = states[0]
        hidden = self.units
        recurrent = ops.matmul(h, self.recurrent_kernel) + self.recurrent_bias
        z = ops.sigmoid(projected[:, :hidden] + recurrent[:, :hidden])
        r = ops.sigmoid(projected[:, hidden:2 * hidden] + recurrent[:, hidden:2 * hidden])
        n = ops.tanh(projected[:, 2 * hidden:] + r * recurrent[:, 2 * hidden:])
        h_new = n + z * (h - n)  # z * h + (1 - z) * n
        return h_new, [h_new]


@keras.saving.register_keras_serializable(package="rnnbench")
@register_native_layer("gru4")
class NativeGRU(NativeRecurrent):
    """keras.layers.GRU(reset_after=True), Keras's cuDNN-capable GRU."""

    def make_native(self, **kwargs) -> keras.layers.Layer:
        return keras.layers.GRU(self.hidden_size, reset_after=True, name="gru", **kwargs)

    def to_canonical(self, arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        bias = np.asarray(arrays["bias"], np.float32)
        return {"kernel": np.asarray(arrays["kernel"], np.float32),
                "recurrent_kernel": np.asarray(arrays["recurrent_kernel"], np.float32),
                "bias": bias[0], "recurrent_bias": bias[1]}

    def from_canonical(self, weights: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"kernel": weights["kernel"], "recurrent_kernel": weights["recurrent_kernel"],
                "bias": np.stack([weights["bias"], weights["recurrent_bias"]])}
