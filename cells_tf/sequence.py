"""`SequenceLayer`: the interface every Keras cell is used through, custom or native.

`layer(x)` maps (B, T, I) to all outputs (B, T, H); with `return_state=True` it also
returns the final state(s) (h, or h and c).  `initial_state` is optional.  Weights go in
and out in the canonical layout of docs/cells.md (`get_canonical` / `set_canonical`); a
subclass only says how its own variables map to that layout.
"""

from __future__ import annotations

from collections.abc import Mapping

import keras
import numpy as np
from keras import ops

from bench.cells import CellSpec, get_spec
from cells_tf.cell_base import check_positive

Arrays = dict[str, np.ndarray]


class SequenceLayer(keras.layers.Layer):
    """Base of `CustomRecurrent` and the native wrappers."""

    cell_name: str  # registry name: a class attribute for natives, set per instance for custom cells

    def __init__(self, input_size: int, hidden_size: int, return_state: bool = False,
                 seed: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.input_size = check_positive("input_size", input_size)
        self.hidden_size = check_positive("hidden_size", hidden_size)
        self.return_state = bool(return_state)  # also return the final state(s) after the outputs
        self.seed = seed  # seeds the framework initialisers; None draws fresh weights

    @property
    def spec(self) -> CellSpec:
        return get_spec(self.cell_name)

    # -- what a subclass provides ---------------------------------------------------------
    def build_weights(self) -> None:
        """Create the variables for `self.input_size` features."""
        raise NotImplementedError

    def run(self, inputs, states):
        """(outputs (B, T, H), list of final states) for checked inputs; states may be None."""
        raise NotImplementedError

    def native_variables(self) -> dict[str, keras.Variable]:
        """The layer's own trainable variables by their Keras name."""
        raise NotImplementedError

    def to_canonical(self, arrays: Mapping[str, np.ndarray]) -> Arrays:
        """Arrays shaped like `native_variables()` (values or gradients) in canonical layout."""
        return {name: np.asarray(value, np.float32) for name, value in arrays.items()}

    def from_canonical(self, weights: Mapping[str, np.ndarray]) -> Arrays:
        """Checked canonical arrays as values for `native_variables()`."""
        return dict(weights)

    # -- the shared interface -------------------------------------------------------------
    def build(self, inputs_shape=None, initial_state_shape=None) -> None:
        if inputs_shape is not None:
            self.check_input_shape(inputs_shape)
        self.build_weights()

    def check_input_shape(self, shape) -> None:
        """ValueError naming the expected and the actual shape unless shape is (B, T, I)."""
        shape = tuple(shape)
        if len(shape) != 3 or shape[-1] not in (None, self.input_size):
            raise ValueError(f"{self.cell_name} expects input (batch, time, {self.input_size}), got {shape}")

    def call(self, inputs, initial_state=None):
        self.check_input_shape(inputs.shape)
        outputs, final_states = self.run(inputs, self._checked_states(initial_state))
        return (outputs, *final_states) if self.return_state else outputs

    def _checked_states(self, initial_state):
        if initial_state is None:
            return None
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        count = self.spec.state_size
        if len(states) != count:
            raise ValueError(f"{self.cell_name} takes {count} initial state tensor(s) of shape "
                             f"(batch, {self.hidden_size}), got {len(states)}")
        checked = []
        for state in states:
            state = ops.convert_to_tensor(state, dtype=self.compute_dtype)
            if len(state.shape) != 2 or state.shape[-1] != self.hidden_size:
                raise ValueError(f"{self.cell_name} expects initial state (batch, {self.hidden_size}), "
                                 f"got {tuple(state.shape)}")
            checked.append(state)
        return checked

    def get_canonical(self) -> Arrays:
        """The weights as float32 NumPy arrays in the canonical layout."""
        self._ensure_built()
        return self.to_canonical({name: ops.convert_to_numpy(variable)
                                  for name, variable in self.native_variables().items()})

    def set_canonical(self, weights: Mapping[str, np.ndarray]) -> None:
        """Load canonical weights; names and shapes are checked first, nothing half-loaded."""
        self._ensure_built()
        checked = check_canonical(self.spec, self.input_size, self.hidden_size, weights)
        variables = self.native_variables()
        for name, value in self.from_canonical(checked).items():
            variables[name].assign(value)

    def _ensure_built(self) -> None:
        if not self.built:
            self.build((None, None, self.input_size))

    def get_config(self) -> dict:
        return {**super().get_config(), "input_size": self.input_size, "hidden_size": self.hidden_size,
                "return_state": self.return_state, "seed": self.seed}


def check_canonical(spec: CellSpec, input_size: int, hidden_size: int, weights: Mapping) -> Arrays:
    """`weights` as float32 arrays, or a ValueError saying which name or shape is wrong."""
    expected = spec.check_weights(weights, input_size, hidden_size)
    checked = {}
    for name in expected:
        value = np.asarray(weights[name], dtype=np.float32)
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{spec.name}: weight {name!r} contains NaN or infinity")
        checked[name] = value
    return checked
