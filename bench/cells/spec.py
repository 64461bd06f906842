"""The cell registry: one `CellSpec` per cell name, shared by both frameworks.

A spec is the single source of truth for a cell: its canonical weight names and
shapes, its closed-form parameter count and its NumPy reference (forward, and
optionally backward through time; without one, gradients come from central finite
differences of the forward).  The Keras and torch packages look their cells up by the
same names, and the tests parametrize over `list_cells()`.  A cell registered from a
plugin file (bench.plan.plugins) records where it came from (`cell_origin`).
"""

from __future__ import annotations

import contextlib
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

FRAMEWORKS = ("torch", "keras")  # the frameworks, spelled and ordered once for the whole project
# every built-in cell is implemented in every framework (tests/test_cells_*.py hold them to it); a plugin
# cell is implemented where its file registered a class (`mark_implemented`)
BUILTIN_IMPLEMENTATIONS = FRAMEWORKS
FINITE_DIFFERENCE_STEP = 1e-6  # float64 central differences: truncation ~1e-12, rounding ~1e-10


class UnknownCellError(KeyError, ValueError):
    """Raised for a cell name that is not registered; the message lists the valid ones."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


class SizeRefused(ValueError):
    """A cell's spec refuses an (input, hidden) size, e.g. a cell whose hidden size must equal its input size."""


@dataclass(frozen=True)
class Equivalence:
    """This cell computes exactly what another registered cell does, once its weights are mapped."""

    cell: str  # the other cell's registry name, e.g. "gru4" for gru_reset_after
    # this cell's canonical weights -> the other cell's canonical weights (identity when the layouts agree)
    weights: Callable[[Weights], Weights] = dict


@dataclass(frozen=True)
class CellSpec:
    """Everything both frameworks need to know about one cell."""

    name: str  # registry key, the same in every framework
    family: str  # "gru", "mgu", "lstm" or "rnn": which native layer it is compared with
    native: bool  # True when the framework implementation is the framework's own layer
    baseline: str  # the native cell this one is timed against (gru4 for GRU and MGU cells)
    description: str  # one line for `python -m bench list` and the reports
    # (input_size, hidden_size) -> {canonical name: shape}, in docs/cells.md order
    shapes: Callable[[int, int], dict[str, tuple[int, ...]]]
    forward: ForwardFn  # NumPy reference of the whole sequence
    # NumPy backpropagation through time of sum(d_outputs * outputs); None: finite differences of `forward`
    backward: BackwardFn | None = None
    state_size: int = 1  # number of (B, H) state tensors: 1, or 2 for LSTM (h, c)
    # extra parameters a native layer has beyond the canonical form, per framework,
    # as a multiple of hidden_size (torch's second bias vector on LSTM and RNN)
    native_extra_bias: dict[str, int] = field(default_factory=dict)
    # gate blocks per canonical weight, used by the shared initialiser; a name not
    # listed is a single block
    forget_bias_block: int | None = None  # LSTM: which block of `bias` starts at 1
    # the registered cell this one equals with mapped weights (`bench check` and the tests hold them equal)
    equivalent: Equivalence | None = None

    @property
    def native_biases_differ(self) -> bool:
        """Whether the frameworks' layers store different bias vectors (torch's nn.RNN/nn.LSTM keep a second)."""
        return len({self.native_extra_bias.get(framework, 0) for framework in FRAMEWORKS}) > 1

    def weight_shapes(self, input_size: int, hidden_size: int) -> dict[str, tuple[int, ...]]:
        """Canonical weight names and shapes for this size; SizeRefused where the cell's shapes refuse it."""
        _check_sizes(input_size, hidden_size)
        try:
            return dict(self.shapes(input_size, hidden_size))
        except SizeRefused:
            raise
        except ValueError as err:
            raise SizeRefused(f"{self.name} refuses input size {input_size}, hidden size {hidden_size}: {err}") from err

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
        """Gradient of sum(d_outputs * outputs) (d_outputs defaults to ones): (d_x, d_weights).

        From the spec's backward where it has one, else from finite differences of its forward.
        """
        w, x64 = self._prepare(weights, x)
        if d_outputs is None:
            d_outputs = np.ones(x64.shape[:2] + (self.hidden_size_of(w, x64.shape[2]),))
        if self.backward is None:
            return self._finite_difference_grad(w, x64, np.asarray(d_outputs, np.float64))
        return self.backward(w, x64, np.asarray(d_outputs, np.float64))

    def finite_difference_grad(self, weights: Weights, x: np.ndarray, d_outputs: np.ndarray):
        """(d_x, d_weights) of sum(d_outputs * outputs) by central differences of the float64 forward.

        One pair of forward passes per input and weight element: meant for tiny shapes.
        """
        w, x64 = self._prepare(weights, x)
        return self._finite_difference_grad(w, x64, np.asarray(d_outputs, np.float64))

    def _finite_difference_grad(self, w: Weights, x64: np.ndarray, d_outputs: np.ndarray):
        def loss() -> float:
            return float(np.sum(self.forward(w, x64, None)[0] * d_outputs))

        def grad_of(array: np.ndarray) -> np.ndarray:
            grad = np.zeros_like(array)
            for index in np.ndindex(array.shape):
                saved = array[index]
                array[index] = saved + FINITE_DIFFERENCE_STEP
                plus = loss()
                array[index] = saved - FINITE_DIFFERENCE_STEP
                minus = loss()
                array[index] = saved
                grad[index] = (plus - minus) / (2 * FINITE_DIFFERENCE_STEP)
            return grad

        x64 = x64.copy()  # perturbed in place
        return grad_of(x64), {name: grad_of(value) for name, value in w.items()}

    def init_canonical(self, input_size: int, hidden_size: int, rng: np.random.Generator) -> Weights:
        """Keras's recipe in NumPy, the shared initialiser for both frameworks.

        Glorot-uniform input kernel, orthogonal recurrent kernel, zero biases (LSTM's
        forget block at 1), so one seed gives identical weights in Keras and torch.
        Weights named otherwise (a plugin's own names) follow their rank: a matrix is
        Glorot-uniform, anything else zeros.
        """
        weights: Weights = {}
        for name, shape in self.weight_shapes(input_size, hidden_size).items():
            if name == "recurrent_kernel":
                weights[name] = _orthogonal(shape, rng)
            elif name == "kernel" or (len(shape) == 2 and name not in ("bias", "recurrent_bias")):
                weights[name] = glorot_uniform(shape, rng)
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

    def hidden_size_of(self, weights: Mapping, input_size: int) -> int:
        """The hidden size whose shapes these weights have, found from the spec's shapes (no weight name assumed).

        Every dimension of a weight is at most a small multiple of H, so H is at most the largest
        dimension: the smallest H in that range whose shapes match is the answer.
        """
        given = {name: tuple(np.shape(value)) for name, value in weights.items()}
        largest = max((d for shape in given.values() for d in shape), default=1)
        for hidden in range(1, largest + 1):
            try:
                if self.weight_shapes(input_size, hidden) == given:
                    return hidden
            except ValueError:  # a cell may refuse some sizes (e.g. hidden must equal input)
                continue
        expected = self.weight_shapes(input_size, max(1, input_size))
        raise ValueError(f"{self.name}: no hidden size gives weights shaped {given} for input size {input_size}; "
                         f"expected the names {sorted(expected)} shaped as the spec's shapes(input_size, "
                         f"hidden_size), e.g. {expected} for hidden size {max(1, input_size)}")

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
        if not isinstance(weights, Mapping):
            raise ValueError(f"{self.name}: canonical weights must be a dict {{name: array}}, "
                             f"got {type(weights).__name__}")
        self.check_weights(weights, x64.shape[2], self.hidden_size_of(weights, x64.shape[2]))
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
# cell name -> the plugin file (or installed module) that registered it; absent for built-in cells
_ORIGINS: dict[str, str] = {}
# cell name -> frameworks a plugin registered an implementation in ("keras", "torch")
_IMPLEMENTED: dict[str, set[str]] = {}
# the plugin being imported (bench.plan.plugins), innermost last: what registers meanwhile is attributed to it
_loading_plugin: list[str] = []


@contextlib.contextmanager
def registering_from(origin: str):
    """Attribute every cell registered inside the block to `origin` (a plugin file or module)."""
    _loading_plugin.append(origin)
    try:
        yield
    finally:
        _loading_plugin.pop()


def register_cell(spec: CellSpec) -> CellSpec:
    """Add a spec to the registry; a name can be registered once."""
    if spec.name in _REGISTRY:
        where = _ORIGINS.get(spec.name, "a built-in cell")
        raise ValueError(f"cell {spec.name!r} is already registered (by {where}); give the new cell another name")
    _REGISTRY[spec.name] = spec
    if _loading_plugin:
        _ORIGINS[spec.name] = _loading_plugin[-1]
    return spec


def cell_origin(name: str) -> str | None:
    """The plugin file or module that registered `name`; None for a built-in cell."""
    get_spec(name)
    return _ORIGINS.get(name)


def mark_implemented(name: str, framework: str) -> None:
    """Called by the framework registries: `framework` ("keras" or "torch") implements `name`."""
    _IMPLEMENTED.setdefault(name, set()).add(framework)


def implemented_in(name: str) -> tuple[str, ...]:
    """The frameworks that implement `name`, without importing either: built-ins are in both."""
    if cell_origin(name) is None:
        return BUILTIN_IMPLEMENTATIONS
    return tuple(framework for framework in FRAMEWORKS if framework in _IMPLEMENTED.get(name, ()))


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
