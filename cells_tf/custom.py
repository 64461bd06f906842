"""`CustomRecurrent`: a hand-written cell run over a whole sequence.

The input projection of ALL time steps is one matrix product before the loop
(`cell.project_inputs`); only `cell.step` runs per time step.  The loop is
`keras.layers.RNN` over the projected inputs with a thin step cell, i.e. the same
`backend.rnn` loop that keras.layers.GRU/LSTM/SimpleRNN run when they are not on cuDNN
(a `tf.while_loop` over TensorArrays on TensorFlow, `lax.scan` on JAX).  That loop is
Keras's own, exercised under `jit_compile=True` and on JAX by the native layers, so
off cuDNN custom and native cells are timed on the same loop machinery (where the
native cells, unlike these, multiply x by the kernel inside every step).  `keras.ops.scan` was the alternative: on TensorFlow (Keras 3.15) its
gradient does not compile under `jit_compile=True` ("XLA compilation requires a fixed
tensor list size") and, measured for gru0 at B=32, T=50, I=32, H=64 on CPU, a
`tf.function` training step took 21.7 ms with it against 17.6 ms with this loop.
"""

from __future__ import annotations

import keras
from keras import ops

from cells_tf.cell_base import RecurrentCell
from cells_tf.registry import lookup
from cells_tf.sequence import SequenceLayer


class ProjectedStep(keras.layers.Layer):
    """The per-step half of a cell, as a Keras RNN cell reading projected inputs."""

    def __init__(self, cell: RecurrentCell, **kwargs) -> None:
        super().__init__(**kwargs)
        # a bound method is not tracked by Keras: the cell's weights are counted once,
        # through the sequence layer that owns the cell
        self._step = cell.step
        self.state_size = cell.state_size
        self.output_size = cell.output_size

    def call(self, projected_t, states):
        return self._step(projected_t, states)


@keras.saving.register_keras_serializable(package="rnnbench")
class CustomRecurrent(SequenceLayer):
    """A registered hand-written cell over (B, T, I) sequences."""

    def __init__(self, cell_name: str, input_size: int, hidden_size: int, return_state: bool = False,
                 seed: int | None = None, **kwargs) -> None:
        kind, cell_class = lookup(cell_name)  # unknown name -> UnknownCellError listing names
        if kind != "cell":
            raise ValueError(f"{cell_name!r} is a native Keras layer, not a hand-written cell; "
                             f"build it with cells_tf.make_layer({cell_name!r}, ...)")
        super().__init__(input_size, hidden_size, return_state=return_state, seed=seed, **kwargs)
        self.cell_name = cell_name
        self.cell = cell_class(hidden_size, seed=seed, name="cell")
        # a cell that runs its whole sequence itself (cell.sequence) needs no Keras loop
        self.loop = None if self.cell.sequence is not None else keras.layers.RNN(
            ProjectedStep(self.cell, name="step"), return_sequences=True, return_state=True, name="loop")

    def build_weights(self) -> None:
        if not self.cell.built:
            self.cell.build((None, self.input_size))
        if self.loop is not None and not self.loop.built:  # now, not lazily inside a traced call
            self.loop.build((None, None, self.cell.projected_size(self.input_size)))

    def run(self, inputs, states):
        projected = self.cell.project_inputs(inputs)  # all time steps, one (B*T, I) @ (I, k*H)
        if self.loop is None:
            if states is None:
                states = [ops.zeros((ops.shape(inputs)[0], self.hidden_size), dtype=projected.dtype)
                          for _ in range(self.spec.state_size)]
            outputs, final_states = self.cell.sequence(projected, list(states))
            return outputs, list(final_states)
        outputs, *final_states = self.loop(projected, initial_state=states)
        return outputs, final_states

    def native_variables(self) -> dict[str, keras.Variable]:
        return {variable.name: variable for variable in self.cell.weights}

    def get_config(self) -> dict:
        return {**super().get_config(), "cell_name": self.cell_name}
