"""`lstm` (hand-written) and `lstm_native` (keras.layers.LSTM); gate blocks [i, f, g, o].

    c' = sigmoid(f) * c + sigmoid(i) * tanh(g);  h' = sigmoid(o) * tanh(c')

Both start with the forget-gate bias at 1, as keras.layers.LSTM does by default
(`unit_forget_bias=True`), so custom and native start from the same recipe.
"""

from __future__ import annotations

import keras
from keras import ops

from cells_tf.cell_base import RecurrentCell, dense_over_time
from cells_tf.native import NativeRecurrent
from cells_tf.registry import register_cell_class, register_native_layer


def _unit_forget_bias(shape, dtype=None):
    """Zeros with the forget block [H:2H] at 1, Keras LSTM's default bias."""
    hidden = shape[0] // 4
    return ops.concatenate([ops.zeros((hidden,), dtype), ops.ones((hidden,), dtype),
                            ops.zeros((2 * hidden,), dtype)])


@keras.saving.register_keras_serializable(package="rnnbench")
@register_cell_class("lstm")
class LSTMCell(RecurrentCell):
    """Hand-written LSTM with one bias per gate; states (h, c)."""

    def initializers(self):
        return {**super().initializers(), "bias": _unit_forget_bias}

    def project_inputs(self, inputs):
        return dense_over_time(inputs, self.kernel, self.bias)

    def step(self, projected, states):
        h, c = states[0], states[1]
        hidden = self.units
        pre = projected + ops.matmul(h, self.recurrent_kernel)
        i = ops.sigmoid(pre[:, :hidden])
        f = ops.sigmoid(pre[:, hidden:2 * hidden])
        g = ops.tanh(pre[:, 2 * hidden:3 * hidden])
        o = ops.sigmoid(pre[:, 3 * hidden:])
        c_new = f * c + i * g
        h_new = o * ops.tanh(c_new)
        return h_new, [h_new, c_new]


@keras.saving.register_keras_serializable(package="rnnbench")
@register_native_layer("lstm_native")
class NativeLSTM(NativeRecurrent):
    """keras.layers.LSTM; its kernel, recurrent kernel and bias are already canonical."""

    def make_native(self, **kwargs) -> keras.layers.Layer:
        return keras.layers.LSTM(self.hidden_size, name="lstm", **kwargs)
