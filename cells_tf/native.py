"""`NativeRecurrent`: a Keras built-in recurrent layer behind the `SequenceLayer` interface.

A subclass names the Keras layer (`make_native`) and how its variables map to the
canonical layout; the layer always returns all outputs and its final state(s), the
wrapper decides what the caller sees.
"""

from __future__ import annotations

import keras

from cells_tf.cell_base import framework_initializers
from cells_tf.sequence import SequenceLayer


class NativeRecurrent(SequenceLayer):
    """Base of the gru4 / lstm_native / rnn_native wrappers."""

    def __init__(self, input_size: int, hidden_size: int, return_state: bool = False,
                 seed: int | None = None, **kwargs) -> None:
        super().__init__(input_size, hidden_size, return_state=return_state, seed=seed, **kwargs)
        initializers = framework_initializers(seed)
        # the native layer itself, e.g. keras.layers.GRU; cells_tf.native_fast_path inspects it
        self.rnn = self.make_native(kernel_initializer=initializers["kernel"],
                                    recurrent_initializer=initializers["recurrent_kernel"],
                                    return_sequences=True, return_state=True)

    def make_native(self, **kwargs) -> keras.layers.Layer:
        """The Keras layer with `self.hidden_size` units and these keyword arguments."""
        raise NotImplementedError

    def build_weights(self) -> None:
        if not self.rnn.built:
            self.rnn.build((None, None, self.input_size))

    def run(self, inputs, states):
        outputs, *final_states = self.rnn(inputs, initial_state=states)
        return outputs, final_states

    def native_variables(self) -> dict[str, keras.Variable]:
        return {variable.name: variable for variable in self.rnn.weights}
