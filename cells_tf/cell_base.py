"""Base class of the hand-written Keras cells, split into an input half and a step half.

A cell is a Keras RNN cell (`call(x_t, states) -> (h_t, new_states)`, `state_size`,
`output_size`), so it runs unchanged inside `keras.layers.RNN`.  Its `call` is made of
two halves that the sequence layer uses separately:

- `project_inputs(x)`: everything that depends on the input only (x @ kernel plus the
  bias blocks that go with it).  It accepts (B, I) or (B, T, I), so the sequence layer
  runs it ONCE for all time steps as a single (B*T, I) @ (I, k*H) product;
- `step(projected_t, states)`: the recurrent part, the only work left per time step;
- or `sequence(projected, states)`: the whole sequence at once (a parallel scan, a
  library call), used instead of Keras's loop over `step` when a cell defines it.

Weights are created from the cell's spec (`bench.cells`), so names and shapes are the
canonical ones by construction.  Written with `keras.ops` only: it runs on the
TensorFlow and the JAX backends.
"""

from __future__ import annotations

from typing import ClassVar

import keras
import numpy as np
from keras import ops

from bench.cells import CellSpec, get_spec


def check_positive(label: str, value: object) -> int:
    """`value` as an int, or a ValueError saying it must be a positive integer."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{label} must be a positive integer, got {value!r}")
    return int(value)


def derived_seed(*keys: int) -> int:
    """An independent 31-bit seed for each key tuple (different weights never share a seed)."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(1)[0] >> 1)


def framework_initializers(seed: int | None) -> dict[str, keras.initializers.Initializer]:
    """Keras's usual recurrent-layer initialisers by canonical weight name.

    Glorot-uniform input kernel, orthogonal recurrent kernel, zero biases: what
    keras.layers.GRU/LSTM/SimpleRNN use.  With a seed, every weight gets its own.
    """
    kernel_seed = None if seed is None else derived_seed(seed, 0)
    recurrent_seed = None if seed is None else derived_seed(seed, 1)
    return {
        "kernel": keras.initializers.GlorotUniform(seed=kernel_seed),
        "recurrent_kernel": keras.initializers.Orthogonal(seed=recurrent_seed),
        "bias": keras.initializers.Zeros(),
        "recurrent_bias": keras.initializers.Zeros(),
    }


def dense_over_time(x, kernel, bias=None):
    """x @ kernel (+ bias) for x of shape (B, I) or (B, T, I), as ONE 2-D matrix product."""
    if len(x.shape) == 2:
        y = ops.matmul(x, kernel)
    else:
        batch, steps = ops.shape(x)[0], ops.shape(x)[1]
        flat = ops.matmul(ops.reshape(x, (-1, x.shape[-1])), kernel)
        y = ops.reshape(flat, (batch, steps, kernel.shape[-1]))
    return y if bias is None else y + bias


def _by_rank(shape: tuple[int, ...], seed: int | None) -> keras.initializers.Initializer:
    """For a weight name Keras's recipe does not know: Glorot-uniform for a matrix, zeros otherwise."""
    return keras.initializers.GlorotUniform(seed=seed) if len(shape) == 2 else keras.initializers.Zeros()


class RecurrentCell(keras.layers.Layer):
    """One hand-written cell; subclasses implement `project_inputs` and `step`."""

    cell_name: ClassVar[str]  # set by cells_tf.registry.register_cell_class

    def __init__(self, units: int, seed: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = check_positive("units", units)
        self.seed = seed  # seeds the framework initialisers; None draws fresh weights
        count = self.spec.state_size
        # Keras's cell protocol: an int for one state, a list for several (LSTM: h, c)
        self.state_size = self.units if count == 1 else [self.units] * count
        self.output_size = self.units

    @property
    def spec(self) -> CellSpec:
        return get_spec(self.cell_name)

    def initializers(self) -> dict[str, keras.initializers.Initializer]:
        """Initialiser per canonical weight name; LSTM overrides the bias one."""
        return framework_initializers(self.seed)

    def build(self, input_shape) -> None:
        input_size = check_positive("input feature size", input_shape[-1])
        initializers = self.initializers()
        for index, (name, shape) in enumerate(self.spec.weight_shapes(input_size, self.units).items()):
            initializer = initializers.get(name) or _by_rank(shape, None if self.seed is None else
                                                            derived_seed(self.seed, 2, index))
            setattr(self, name, self.add_weight(shape=shape, name=name, initializer=initializer))

    def project_inputs(self, inputs):
        """The input-only part of the pre-activations, for (B, I) or (B, T, I) inputs.

        The default is inputs @ kernel + bias for a cell with weights of those names; a cell
        with other names overrides it (returning `inputs` itself is fine: the step then sees x_t).
        """
        if not hasattr(self, "kernel"):
            raise NotImplementedError(f"{type(self).__name__} ({self.cell_name}) has no weight named 'kernel', so "
                                      "the default project_inputs (inputs @ kernel + bias) cannot run; override "
                                      "project_inputs(inputs) to return the input part of every step (or inputs)")
        return dense_over_time(inputs, self.kernel, getattr(self, "bias", None))

    def step(self, projected, states):
        """(h_t, new_states) from the projected input of one step and the previous states."""
        raise NotImplementedError

    def projected_size(self, input_size: int) -> int:
        """Width of `project_inputs`'s output for one step, from one tiny call (no layout assumed)."""
        return int(self.project_inputs(ops.zeros((1, input_size), dtype=self.compute_dtype)).shape[-1])

    # a cell may define sequence(projected (B, T, k*H), states) -> (outputs (B, T, H), final states list)
    # to run the whole sequence itself; CustomRecurrent then uses it instead of keras.layers.RNN over step
    sequence = None

    @classmethod
    def implements_recurrence(cls) -> bool:
        """Whether the class defines `step` or `sequence` (the registry refuses one that does neither)."""
        return cls.step is not RecurrentCell.step or cls.sequence is not None

    def call(self, inputs, states):
        return self.step(self.project_inputs(inputs), list(states) if isinstance(states, (list, tuple))
                         else [states])

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "seed": self.seed}
