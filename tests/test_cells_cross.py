"""Keras against torch: the same names, the same canonical weights, the same numbers."""

import zlib

import keras
import numpy as np
import pytest
import torch

import cells_tf
import cells_torch
from bench.cells import UnknownCellError, get_spec, list_cells
from bench.correctness.deviation import GRADIENT_TOLERANCE, PAIR_TOLERANCE  # one name each
from cell_cases import builtin_cells, skip_unless_fits
from cells_tf.gradients import canonical_gradients as keras_gradients
from cells_torch.gradients import canonical_gradients as torch_gradients

SHAPES = [(3, 5, 4, 6), (2, 4, 7, 5)]  # (batch, steps, input, hidden): I < H and I > H


BOTH = sorted(set(cells_torch.list_cells()) & set(cells_tf.list_cells()))  # a plugin cell may be in one only


def _rng(*key) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def test_both_frameworks_implement_every_builtin_cell():
    assert set(builtin_cells()) <= set(BOTH)


@pytest.mark.parametrize("make_layer", [cells_torch.make_layer, cells_tf.make_layer], ids=["torch", "keras"])
def test_unknown_name_lists_valid_names_in_both(make_layer):
    with pytest.raises(UnknownCellError) as err:
        make_layer("gru5", 4, 6)
    assert all(name in str(err.value) for name in list_cells())


@pytest.mark.parametrize("name", BOTH)
@pytest.mark.parametrize("batch,steps,input_size,hidden_size", SHAPES)
def test_keras_and_torch_agree_forward_and_backward(name, batch, steps, input_size, hidden_size):
    skip_unless_fits(name, input_size, hidden_size)
    spec, rng = get_spec(name), _rng(name, input_size)
    weights = spec.random_canonical(input_size, hidden_size, rng)
    x = rng.uniform(-1, 1, (batch, steps, input_size)).astype(np.float32)
    d_outputs = rng.normal(size=(batch, steps, hidden_size)).astype(np.float32)

    torch_layer = cells_torch.make_layer(name, input_size, hidden_size)
    torch_layer.set_canonical(weights)
    keras_layer = cells_tf.make_layer(name, input_size, hidden_size)
    keras_layer.set_canonical(weights)

    torch_out = torch_layer(torch.from_numpy(x))[0].detach().numpy()
    keras_out = keras.ops.convert_to_numpy(keras_layer(x))
    np.testing.assert_allclose(torch_out, keras_out, rtol=0, atol=PAIR_TOLERANCE.atol)

    torch_dx, torch_dw = torch_gradients(torch_layer, x, d_outputs)
    keras_dx, keras_dw = keras_gradients(keras_layer, x, d_outputs)
    np.testing.assert_allclose(torch_dx, keras_dx, rtol=0, atol=GRADIENT_TOLERANCE.atol)
    assert torch_dw.keys() == keras_dw.keys() == weights.keys()
    for key in weights:
        np.testing.assert_allclose(torch_dw[key], keras_dw[key], rtol=0, atol=GRADIENT_TOLERANCE.atol, err_msg=key)


@pytest.mark.parametrize("name", BOTH)
def test_shared_initialiser_gives_identical_models(name):
    """init="shared" is the fair start: the same weights everywhere, hence the same logits, in both frameworks."""
    skip_unless_fits(name, 4, 6)
    kwargs = dict(num_layers=2, bidirectional=True, head="last", num_outputs=3, init="shared", seed=5)
    torch_model = cells_torch.make_model(name, 4, 6, **kwargs)
    keras_model = cells_tf.make_model(name, 4, 6, **kwargs)
    assert len(torch_model.recurrent_layers) == len(keras_model.recurrent_layers) == 4
    for torch_layer, keras_layer in zip(torch_model.recurrent_layers, keras_model.recurrent_layers):
        want = torch_layer.get_canonical()
        got = keras_layer.get_canonical()
        for key in want:
            np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(keras_model.head.kernel),
                                  torch_model.head.weight.detach().numpy().T)
    x = _rng(name, "shared").normal(size=(3, 5, 4)).astype(np.float32)
    with torch.no_grad():
        torch_logits = torch_model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras_model(x)), torch_logits, rtol=0, atol=PAIR_TOLERANCE.atol)


def test_shared_initialiser_covers_the_embedding():
    """A token model starts identical too: embedding table (padding row zero), layers and head."""
    kwargs = dict(num_layers=1, head="last", num_outputs=2, vocab_size=50, embedding_dim=8, init="shared", seed=3)
    torch_model = cells_torch.make_model("mgu", None, 6, **kwargs)
    keras_model = cells_tf.make_model("mgu", None, 6, **kwargs)
    table = torch_model.embedding.weight.detach().numpy()
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(keras_model.embedding.embeddings), table)
    assert not table[0].any() and table[1:].std() > 0.01
    tokens = _rng("tokens").integers(1, 50, size=(4, 7))
    tokens[:, 5:] = 0  # padding at the end
    with torch.no_grad():
        torch_logits = torch_model(torch.from_numpy(tokens)).numpy()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras_model(tokens)), torch_logits, rtol=0,
                               atol=PAIR_TOLERANCE.atol)


def test_shared_initialiser_draws_other_weights_for_other_seeds():
    """No two seeds share a layer: seed s's backward direction is not seed s+1's forward one."""
    def recurrent_and_head(seed):
        model = cells_torch.make_model("gru0", 4, 6, num_layers=2, bidirectional=True, init="shared", seed=seed)
        return [layer.get_canonical()["recurrent_kernel"] for layer in model.recurrent_layers] + \
            [model.head.weight.detach().numpy()]

    for a in recurrent_and_head(0):
        for b in recurrent_and_head(1):
            assert a.shape != b.shape or not np.allclose(a, b)


@pytest.mark.parametrize("name", ["gru0", "gru4"])
def test_a_state_readout_predicts_with_the_last_state_itself_in_both_frameworks(name):
    """head="state" (the noise source's setup): no dense layer; the prediction is the last step's state."""
    kwargs = dict(head="state", num_outputs=6, init="shared", seed=2)
    torch_model, keras_model = cells_torch.make_model(name, 4, 6, **kwargs), cells_tf.make_model(name, 4, 6, **kwargs)
    x = _rng("state readout", name).uniform(-1, 1, (3, 5, 4)).astype(np.float32)
    torch_out = torch_model(torch.from_numpy(x)).detach().numpy()
    _, final = torch_model.recurrent_layers[0](torch.from_numpy(x))
    np.testing.assert_array_equal(torch_out, final.detach().numpy())
    assert sum(p.numel() for p in torch_model.parameters()) == get_spec(name).param_count(4, 6, "torch")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras_model(x)), torch_out, rtol=0, atol=PAIR_TOLERANCE.atol)
    assert keras_model.count_params() == get_spec(name).param_count(4, 6, "keras")
    with pytest.raises(ValueError, match=r"head 'state' predicts with the last state itself, so num_outputs must "
                                         r"be its width 6 \(directions × hidden_size\), got 10"):
        cells_torch.make_model(name, 4, 6, head="state", num_outputs=10)


def test_a_relu_head_reads_the_rectified_last_step_in_both_frameworks():
    """head="relu_last" (the sentiment source's ReLU → Linear): the dense head on max(h_T, 0), same in both."""
    kwargs = dict(head="relu_last", num_outputs=3, init="shared", seed=4)
    torch_model, keras_model = cells_torch.make_model("mgu", 4, 6, **kwargs), cells_tf.make_model("mgu", 4, 6, **kwargs)
    x = _rng("relu head").uniform(-1, 1, (5, 7, 4)).astype(np.float32)
    with torch.no_grad():
        torch_out = torch_model(torch.from_numpy(x)).numpy()
        _, final = torch_model.recurrent_layers[0](torch.from_numpy(x))
        want = torch_model.head(torch.relu(final)).numpy()
        plain = torch_model.head(final).numpy()
    assert (final.numpy() < 0).any()  # else the ReLU would change nothing and the test could not fail
    np.testing.assert_allclose(torch_out, want, rtol=0, atol=PAIR_TOLERANCE.atol)
    assert not np.allclose(torch_out, plain, rtol=0, atol=PAIR_TOLERANCE.atol)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras_model(x)), torch_out, rtol=0, atol=PAIR_TOLERANCE.atol)
