"""The registry and its NumPy references: counts, shapes, gradients, errors."""

import dataclasses

import numpy as np
import pytest

from bench.cells import SizeRefused, UnknownCellError, get_spec, list_cells
from cell_cases import builtin_cells

# Central finite differences in float64 (CellSpec.finite_difference_grad) on a tiny case agree to
# about 1e-9; 1e-6 leaves room for the step size without hiding a wrong term.
FINITE_DIFF_RTOL = 1e-6
FINITE_DIFF_ATOL = 1e-8

# Closed forms of the built-in cells transcribed from docs/cells.md, written out per cell so that a
# wrong shape in a spec cannot agree with itself (the one hand-kept copy: every other count in the
# tests comes from the spec, so a plugin cell's count is its own spec's).
CLOSED_FORMS = {
    "gru0": lambda i, h: 3 * h * h + 3 * i * h + 3 * h,
    "gru1": lambda i, h: 3 * h * h + i * h + 3 * h,
    "gru2": lambda i, h: 3 * h * h + i * h + h,
    "gru3": lambda i, h: h * h + i * h + 3 * h,
    "gru4": lambda i, h: 3 * h * h + 3 * i * h + 6 * h,
    "gru_reset_after": lambda i, h: 3 * h * h + 3 * i * h + 6 * h,
    "mgu": lambda i, h: 2 * h * h + 2 * i * h + 2 * h,
    "mgu1": lambda i, h: 2 * h * h + i * h + 2 * h,
    "mgu2": lambda i, h: 2 * h * h + i * h + h,
    "mgu3": lambda i, h: h * h + i * h + 2 * h,
    "lstm": lambda i, h: 4 * h * h + 4 * i * h + 4 * h,
    "lstm_native": lambda i, h: 4 * h * (i + h) + 4 * h,
    "rnn": lambda i, h: h * h + i * h + h,
    "rnn_native": lambda i, h: h * h + i * h + h,
}
SIZES = [(1, 1), (4, 6), (7, 5), (28, 128), (500, 256)]


def test_every_builtin_cell_has_its_closed_form():
    assert builtin_cells() == sorted(CLOSED_FORMS)


def test_unknown_name_lists_valid_names():
    with pytest.raises(UnknownCellError) as err:
        get_spec("gru9")
    message = str(err.value)
    assert "gru9" in message and all(name in message for name in list_cells())
    assert isinstance(err.value, KeyError) and isinstance(err.value, ValueError)


@pytest.mark.parametrize("typed, meant", [("GRU0", "gru0"), ("lstm-native", "lstm_native"), ("mgu4", "mgu")])
def test_a_near_miss_is_pointed_at_the_cell_it_resembles(typed, meant):
    with pytest.raises(UnknownCellError, match=rf"unknown cell '{typed}' \(did you mean '{meant}'\?\); registered"):
        get_spec(typed)
    with pytest.raises(UnknownCellError, match=r"unknown cell 'transformer'; registered"):  # no likeness, no hint
        get_spec("transformer")


@pytest.mark.parametrize("name", sorted(CLOSED_FORMS))
@pytest.mark.parametrize("input_size,hidden_size", SIZES)
def test_param_count_matches_closed_form(name, input_size, hidden_size):
    assert get_spec(name).param_count(input_size, hidden_size) == CLOSED_FORMS[name](input_size, hidden_size)


def test_known_counts_from_cells_md():
    assert get_spec("gru4").param_count(32, 32, "keras") == 6_336
    assert get_spec("gru4").param_count(28, 128, "torch") == 60_672
    # torch keeps a second bias vector on LSTM and RNN
    assert get_spec("lstm_native").param_count(4, 6, "torch") == 4 * 6 * 10 + 8 * 6
    assert get_spec("rnn_native").param_count(4, 6, "torch") == 36 + 24 + 12


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="hidden_size"):
        get_spec("gru0").weight_shapes(4, 0)


@pytest.mark.parametrize("name", list_cells())
def test_reference_gradient_matches_finite_differences(name):
    spec = get_spec(name)
    if spec.backward is None:
        pytest.skip(f"{name} has no NumPy backward: its gradients are the finite differences themselves")
    rng = np.random.default_rng(7)
    weights = {k: v.astype(np.float64) for k, v in spec.random_canonical(3, 4, rng, scale=0.8).items()}
    x = rng.normal(size=(2, 4, 3))
    d_out = rng.normal(size=(2, 4, 4))  # a random cotangent exercises every output position
    d_x, d_weights = spec.reference_grad(weights, x, d_out)
    # the same spec without its backward: the lighter contract's gradients, from finite differences of the forward
    fd_x, fd_weights = dataclasses.replace(spec, backward=None).reference_grad(weights, x, d_out)
    np.testing.assert_allclose(d_x, fd_x, rtol=FINITE_DIFF_RTOL, atol=FINITE_DIFF_ATOL)
    for key in weights:
        np.testing.assert_allclose(d_weights[key], fd_weights[key], rtol=FINITE_DIFF_RTOL, atol=FINITE_DIFF_ATOL,
                                   err_msg=key)


@pytest.mark.parametrize("name", list_cells())
def test_reference_shapes_and_initial_state(name):
    spec = get_spec(name)
    rng = np.random.default_rng(3)
    weights = spec.random_canonical(5, 3, rng)
    x = rng.normal(size=(2, 6, 5))
    outputs, final = spec.reference_forward(weights, x)
    assert outputs.shape == (2, 6, 3) and len(final) == spec.state_size
    np.testing.assert_array_equal(final[0], outputs[:, -1])
    # Running the second half from the first half's final state continues the sequence.
    _, middle = spec.reference_forward(weights, x[:, :3])
    rest, _ = spec.reference_forward(weights, x[:, 3:], middle)
    np.testing.assert_allclose(rest, outputs[:, 3:], rtol=1e-12, atol=1e-12)


def test_reference_rejects_wrong_weights_and_rank():
    spec = get_spec("gru0")
    weights = spec.random_canonical(4, 6, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"\(batch, time, features\)"):
        spec.reference(weights, np.zeros((4, 4)))
    with pytest.raises(ValueError, match="kernel"):
        spec.reference(weights, np.zeros((2, 3, 5)))


@pytest.mark.parametrize("name", list_cells())
def test_shared_initialiser_is_deterministic_and_orthogonal(name):
    spec = get_spec(name)
    a = spec.init_canonical(7, 5, np.random.default_rng(11))
    b = spec.init_canonical(7, 5, np.random.default_rng(11))
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    if "recurrent_kernel" not in a:
        pytest.skip(f"{name} has no recurrent_kernel to be orthogonal")
    u = a["recurrent_kernel"].astype(np.float64)
    gram = u @ u.T if u.shape[1] >= u.shape[0] else u.T @ u
    np.testing.assert_allclose(gram, np.eye(gram.shape[0]), atol=1e-5)


@pytest.mark.parametrize("name", sorted(CLOSED_FORMS))
@pytest.mark.parametrize("input_size,hidden_size", SIZES)
def test_the_hidden_size_comes_from_the_shapes_whatever_the_weights_are_called(name, input_size, hidden_size):
    spec = get_spec(name)
    weights = spec.random_canonical(input_size, hidden_size, np.random.default_rng(0))
    assert spec.hidden_size_of(weights, input_size) == hidden_size
    renamed = dataclasses.replace(spec, shapes=lambda i, h: {f"w{k}": s for k, s in enumerate(spec.shapes(i, h).values())})
    renamed_weights = dict(zip(renamed.weight_shapes(input_size, hidden_size), weights.values()))
    assert renamed.hidden_size_of(renamed_weights, input_size) == hidden_size


def test_weights_no_hidden_size_fits_are_refused_with_the_expected_shapes():
    spec = get_spec("gru0")
    with pytest.raises(ValueError, match=r"gru0: no hidden size gives weights shaped .* for input size 4; expected"):
        spec.hidden_size_of({"kernel": np.zeros((4, 9)), "recurrent_kernel": np.zeros((5, 15)),
                             "bias": np.zeros(15)}, 4)


def test_a_size_a_cells_shapes_refuse_is_size_refused_naming_the_cell():
    def square_only(i, h):
        if i != h:
            raise ValueError("hidden must equal input")
        return {"kernel": (i, h)}

    spec = dataclasses.replace(get_spec("gru0"), name="square", shapes=square_only)
    assert spec.weight_shapes(3, 3) == {"kernel": (3, 3)}
    with pytest.raises(SizeRefused, match="square refuses input size 3, hidden size 4: hidden must equal input"):
        spec.weight_shapes(3, 4)
