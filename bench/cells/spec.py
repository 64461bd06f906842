"""The cell registry: one `CellSpec` per cell name, shared by both frameworks.

A spec is the single source of truth for a cell: its canonical weight names and
shapes, its closed-form parameter count and its NumPy reference (forward and
backward through time).  The Keras and torch packages look their cells up by the
same names, and the tests parametrize over `list_cells()`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

Weights = dict[str, np.ndarray]
# forward(weights, x, initial_state) -> (outputs (B, T, H), final_state tuple)
ForwardFn = Callable[[Weights, np.ndarray, "tuple[np.ndarray, ...] | None"], "tuple[np.ndarray, tuple]"]
# backward(weights, x, d_outputs) -> (d_x, d_weights)
BackwardFn = Callable[[Weights, np.ndarray, np.ndarray], "tuple[np.ndarray, Weights]"]

FRAMEWORKS = ("tf", "torch")


class UnknownCellError(KeyError, ValueError):
    """Raised for a cell name that is not registered; the message lists the valid ones."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


@dataclass(frozen=True)
class CellSpec:
    """Everything both frameworks need to know about one cell."""

    name: str  # registry key, the same in every framework
    family: str  # "gru", "mgu", "lstm" or "rnn": which native layer it is compared with
    native: bool  # True when the framework implementation is the framework's own layer
    baseline: str  # the native cell this one is timed against (gru4 for GRU and MGU cells)
    description: str  # one line for `python -m bench list` and the reports
    # (input_size, hidden_size) -> {canonical name: shape}, in CELLS.md order
    shapes: Callable[[int, int], dict[str, tuple[int, ...]]]
    forward: ForwardFn  # NumPy reference of the whole sequence
    backward: BackwardFn  # NumPy backpropagation through time of sum(d_outputs * outputs)
    state_size: int = 1  # number of (B, H) state tensors: 1, or 2 for LSTM (h, c)
    # extra parameters a native layer has beyond the canonical form, per framework,
    # as a multiple of hidden_size (torch's second bias vector on LSTM and RNN)
    native_extra_bias: dict[str, int] = field(default_factory=dict)
    # gate blocks per canonical weight, used by the shared initialiser; a name not
    # listed is a single block
    forget_bias_block: int | None = None  # LSTM: which block of `bias` starts at 1

    @property
    def native_biases_differ(self) -> bool:
        """Whether the frameworks' layers store different bias vectors (torch's nn.RNN/nn.LSTM keep a second)."""
        return len({self.native_extra_bias.get(framework, 0) for framework in FRAMEWORKS}) > 1

    def weight_shapes(self, input_size: int, hidden_size: int) -> dict[str, tuple[int, ...]]:
        """Canonical weight names and shapes for this size."""
        _check_sizes(input_size, hidden_size)
        return dict(self.shapes(input_size, hidden_size))

    def param_count(self, input_size: int, hidden_size: int, framework: str | None = None) -> int:
        """Closed-form parameter count; `framework` adds what a native layer stores beyond it."""
        total = sum(int(np.prod(s)) for s in self.weight_shapes(input_size, hidden_size).values())
        if framework is not None:
            if framework not in FRAMEWORKS:
                raise ValueError(f"unknown framework {framework!r}; expected one of {FRAMEWORKS}")
            total += self.native_extra_bias.get(framework, 0) * hidden_size
        return total

    def reference(self, weights: Weights, x: np.ndarray, initial_state=None) -> np.ndarray:
        """Outputs (B, T, H) of the NumPy reference, computed in float64."""
        outputs, _ = self.reference_forward(weights, x, initial_state)
        return outputs

    def reference_forward(self, weights: Weights, x: np.ndarray, initial_state=None):
        """(outputs (B, T, H), final state tuple) of the NumPy reference."""
        w, x64 = self._prepare(weights, x)
        return self.forward(w, x64, initial_state)

    def reference_grad(self, weights: Weights, x: np.ndarray, d_outputs: np.ndarray | None = None):
        """Gradient of sum(d_outputs * outputs) (d_outputs defaults to ones): (d_x, d_weights)."""
        w, x64 = self._prepare(weights, x)
        hidden = self._hidden_size(w)
        if d_outputs is None:
            d_outputs = np.ones(x64.shape[:2] + (hidden,))
        return self.backward(w, x64, np.asarray(d_outputs, np.float64))

    def init_canonical(self, input_size: int, hidden_size: int, rng: np.random.Generator) -> Weights:
        """Keras's recipe in NumPy, the shared initialiser for both frameworks.

        Glorot-uniform input kernel, orthogonal recurrent kernel, zero biases (LSTM's
        forget block at 1), so one seed gives identical weights in Keras and torch.
        """
        weights: Weights = {}
        for name, shape in self.weight_shapes(input_size, hidden_size).items():
            if name == "kernel":
                weights[name] = glorot_uniform(shape, rng)
            elif name == "recurrent_kernel":
                weights[name] = _orthogonal(shape, rng)
            else:
                weights[name] = np.zeros(shape)
        if self.forget_bias_block is not None:
            k = self.forget_bias_block
            weights["bias"][k * hidden_size:(k + 1) * hidden_size] = 1.0
        return {k: v.astype(np.float32) for k, v in weights.items()}

    def random_canonical(self, input_size: int, hidden_size: int, rng: np.random.Generator,
                         scale: float = 0.5) -> Weights:
        """Distinct random values for every weight (tests: never constants, never zeros)."""
        return {
            name: rng.uniform(-scale, scale, shape).astype(np.float32)
            for name, shape in self.weight_shapes(input_size, hidden_size).items()
        }

    def _hidden_size(self, weights: Weights) -> int:
        return weights["recurrent_kernel"].shape[0]

    def check_weights(self, weights, input_size: int, hidden_size: int) -> dict[str, tuple[int, ...]]:
        """Raise a ValueError naming what is wrong with a canonical weight dict; return the shapes.

        Every implementation's `set_canonical` and the reference call this, so one
        message says which name or shape is wrong wherever weights are loaded.
        """
        expected = self.weight_shapes(input_size, hidden_size)
        if not isinstance(weights, Mapping):
            raise ValueError(f"{self.name}: canonical weights must be a dict {{name: array}} with names "
                             f"{sorted(expected)}, got {type(weights).__name__}")
        missing, extra = sorted(set(expected) - set(weights)), sorted(set(weights) - set(expected))
        if missing or extra:
            raise ValueError(f"{self.name}: canonical weights must be named {sorted(expected)}; "
                             f"missing {missing}, unexpected {extra}")
        for name, shape in expected.items():
            if tuple(np.shape(weights[name])) != shape:
                raise ValueError(f"{self.name}: weight {name!r} must have shape {shape} for input size "
                                 f"{input_size} and hidden size {hidden_size}, got {tuple(np.shape(weights[name]))}")
        return expected

    def _prepare(self, weights: Weights, x: np.ndarray):
        x64 = np.asarray(x, np.float64)
        if x64.ndim != 3:
            raise ValueError(f"{self.name}: expected input of shape (batch, time, features), got {x64.shape}")
        if not isinstance(weights, Mapping) or "recurrent_kernel" not in weights:
            raise ValueError(f"{self.name}: canonical weights must be a dict with a 'recurrent_kernel' "
                             f"(hidden size is read from it), got {type(weights).__name__}")
        self.check_weights(weights, x64.shape[2], np.shape(weights["recurrent_kernel"])[0])
        return {k: np.asarray(v, np.float64) for k, v in weights.items()}, x64


def _check_sizes(input_size: int, hidden_size: int) -> None:
    for label, value in (("input_size", input_size), ("hidden_size", hidden_size)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{label} must be a positive integer, got {value!r}")


def glorot_uniform(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Keras's GlorotUniform in NumPy: U(-l, l) with l = sqrt(6 / (fan_in + fan_out)), float64."""
    limit = np.sqrt(6.0 / (shape[0] + shape[1]))
    return rng.uniform(-limit, limit, shape)


def _orthogonal(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    rows, cols = shape
    flat = rng.normal(size=(max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))  # make the decomposition unique, as Keras does
    return q if rows >= cols else q.T


_REGISTRY: dict[str, CellSpec] = {}


def register_cell(spec: CellSpec) -> CellSpec:
    """Add a spec to the registry; a name can be registered once."""
    if spec.name in _REGISTRY:
        raise ValueError(f"cell {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def list_cells(family: str | None = None, native: bool | None = None) -> list[str]:
    """Sorted registered names, optionally filtered by family or nativeness."""
    return sorted(
        name for name, spec in _REGISTRY.items()
        if (family is None or spec.family == family) and (native is None or spec.native == native)
    )


def get_spec(name: str) -> CellSpec:
    """The spec of `name`; an unknown name raises an error listing the valid ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(str(name).lower(), list_cells(), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownCellError(
            f"unknown cell {name!r}{hint}; registered cells are: {', '.join(list_cells())}") from None
