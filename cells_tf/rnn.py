"""`rnn` (hand-written Elman cell) and `rnn_native` (keras.layers.SimpleRNN).

    h' = tanh(x W + h U + b)
"""

from __future__ import annotations

import keras
from keras import ops

from cells_tf.cell_base import RecurrentCell, dense_over_time
from cells_tf.native import NativeRecurrent
from cells_tf.registry import register_cell_class, register_native_layer


@keras.saving.register_keras_serializable(package="rnnbench")
@register_cell_class("rnn")
class ElmanCell(RecurrentCell):
    """Hand-written Elman RNN cell."""

    def project_inputs(self, inputs):
        return dense_over_time(inputs, self.kernel, self.bias)

    def step(self, projected, states):
        h_new = ops.tanh(projected + ops.matmul(states[0], self.recurrent_kernel))
        return h_new, [h_new]


@keras.saving.register_keras_serializable(package="rnnbench")
@register_native_layer("rnn_native")
class NativeSimpleRNN(NativeRecurrent):
    """keras.layers.SimpleRNN; its kernel, recurrent kernel and bias are already canonical."""

    def make_native(self, **kwargs) -> keras.layers.Layer:
        return keras.layers.SimpleRNN(self.hidden_size, name="simple_rnn", **kwargs)
