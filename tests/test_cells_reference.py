"""Every cell in every framework it is implemented in, against its NumPy reference: one body, parametrized.

Each case builds the layer through bench.correctness.frameworks.run_layer, the very path `bench check` and
the timing gate take, so a framework's cells and the checker cannot drift apart. The framework-specific
contracts (torch's hoisted input projection, Keras's config round trip, the native layers' layouts) stay
in test_cells_torch.py and test_cells_tf.py; the two frameworks against each other in test_cells_cross.py.
"""

import zlib

import numpy as np
import pytest

from bench.cells import get_spec, implemented_in, list_cells
from bench.correctness.deviation import FORWARD_TOLERANCE, GRADIENT_TOLERANCE
from bench.correctness.frameworks import installed, run_layer
from cell_cases import skip_unless_fits

SHAPES = [(3, 5, 4, 6), (2, 4, 7, 5)]  # (batch, time, input, hidden): input below hidden, then above it
COUNT_SIZES = [(1, 1), (4, 6), (7, 5), (32, 32), (28, 128)]  # (input, hidden) for the parameter counts
CASES = [pytest.param(framework, name, id=f"{framework}-{name}")
         for name in list_cells() for framework in implemented_in(name) if installed(framework)]


def _rng(*keys) -> np.random.Generator:
    """A generator seeded by the case, so every case draws its own distinct values."""
    return np.random.default_rng(zlib.crc32(repr(keys).encode()))


def _inputs(rng, batch, steps, features) -> np.ndarray:
    return rng.uniform(-1.0, 1.0, (batch, steps, features)).astype(np.float32)


def _close(got, want, tolerance, what: str) -> None:
    np.testing.assert_allclose(got, want, rtol=tolerance.rtol, atol=tolerance.atol, err_msg=what)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "B{}T{}I{}H{}".format(*s))
@pytest.mark.parametrize("framework,name", CASES)
def test_forward_and_gradients_match_the_reference(framework, name, shape):
    batch, steps, input_size, hidden_size = shape
    skip_unless_fits(name, input_size, hidden_size)
    spec, rng = get_spec(name), _rng(framework, name, shape)
    weights = spec.random_canonical(input_size, hidden_size, rng)
    x = _inputs(rng, batch, steps, input_size)
    # a random weighting of the outputs checks every step's gradient, not only their sum
    d_outputs = rng.uniform(-1.0, 1.0, (batch, steps, hidden_size)).astype(np.float32)
    run = run_layer(framework, name, weights, x, d_outputs)
    want_outputs, want_final = spec.reference_forward(weights, x)
    _close(run.outputs, want_outputs, FORWARD_TOLERANCE, "outputs")
    assert len(run.final_state) == len(want_final) == spec.state_size
    for got, want in zip(run.final_state, want_final):
        _close(got, want, FORWARD_TOLERANCE, "final state")
    want_d_x, want_d_weights = spec.reference_grad(weights, x, d_outputs)
    _close(run.d_x, want_d_x, GRADIENT_TOLERANCE, "d input")
    assert sorted(run.d_weights) == sorted(want_d_weights)
    for key, want in want_d_weights.items():
        _close(run.d_weights[key], want, GRADIENT_TOLERANCE, f"d {key}")


@pytest.mark.parametrize("framework,name", CASES)
def test_forward_from_a_nonzero_initial_state(framework, name):
    batch, steps, input_size, hidden_size = SHAPES[1]
    skip_unless_fits(name, input_size, hidden_size)
    spec, rng = get_spec(name), _rng(framework, name, "initial state")
    weights = spec.random_canonical(input_size, hidden_size, rng)
    x = _inputs(rng, batch, steps, input_size)
    initial = tuple(rng.uniform(-0.8, 0.8, (batch, hidden_size)).astype(np.float32) for _ in range(spec.state_size))
    run = run_layer(framework, name, weights, x, initial_state=initial)
    want_outputs, want_final = spec.reference_forward(weights, x, initial)
    _close(run.outputs, want_outputs, FORWARD_TOLERANCE, "outputs")
    for got, want in zip(run.final_state, want_final):
        _close(got, want, FORWARD_TOLERANCE, "final state")
    zero_start = run_layer(framework, name, weights, x).outputs
    assert np.abs(zero_start - want_outputs).max() > 100 * FORWARD_TOLERANCE.atol  # the state mattered


@pytest.mark.parametrize("framework,name", CASES)
def test_the_frameworks_parameter_count_is_the_specs(framework, name):
    """The spec's count (held to docs/cells.md's closed forms by tests/test_cell_specs.py) is the framework's."""
    spec, counted = get_spec(name), 0
    for input_size, hidden_size in COUNT_SIZES:
        try:
            weights = spec.random_canonical(input_size, hidden_size, _rng(framework, name, input_size))
        except ValueError:  # a size this cell refuses
            continue
        run = run_layer(framework, name, weights, _inputs(_rng(name), 1, 2, input_size))
        assert run.param_count == spec.param_count(input_size, hidden_size, framework)
        counted += 1
    assert counted
