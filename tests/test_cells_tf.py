"""The Keras cells against the NumPy references, the native layers and the model contract.

Runs on the configured Keras backend (TensorFlow here; `KERAS_BACKEND=jax` where JAX
is installed): gradients use tf.GradientTape on TensorFlow and jax.grad on JAX.
"""

import gzip
import os
import re
import zlib
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

import cells_tf
from bench.cells import UnknownCellError, get_spec, implemented_in
from cell_cases import builtin_cells, skip_unless_fits
from bench.correctness.deviation import FORWARD_TOLERANCE  # one name each
from bench.cells.model_config import SHARED_STREAMS

BACKEND = keras.backend.backend()
CELLS = cells_tf.list_cells()  # every cell with a Keras implementation, plugins included
CUSTOM = [name for name in CELLS if not get_spec(name).native]

# (batch, time, input_size, hidden_size); I != H in both, once with I < H and once I > H
SHAPES = [(3, 5, 4, 6), (3, 5, 7, 5)]
# the hand-written twins of the native layers, with exactly the same math
TWINS = [("gru_reset_after", "gru4"), ("lstm", "lstm_native"), ("rnn", "rnn_native")]


DATA_DIR = Path(os.environ.get("RNNBENCH_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
needs_data = pytest.mark.skipif(not (DATA_DIR / "mnist").is_dir(), reason=f"real datasets not found in {DATA_DIR}")


def _rng(*keys) -> np.random.Generator:
    """A generator seeded by the test's identity, so every test draws its own values."""
    return np.random.default_rng(zlib.crc32(repr(keys).encode()))


def _np(tensor) -> np.ndarray:
    return np.asarray(ops.convert_to_numpy(tensor))


@pytest.fixture(scope="module", autouse=True)
def true_float32_matmuls():
    """GPUs multiply in TF32 by default (about 1e-3 relative); the tolerances assume float32."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        before = tf.config.experimental.tensor_float_32_execution_enabled()
        tf.config.experimental.enable_tensor_float_32_execution(False)
        yield
        tf.config.experimental.enable_tensor_float_32_execution(before)
    elif BACKEND == "jax":
        import jax

        with jax.default_matmul_precision("highest"):
            yield
    else:
        yield


@pytest.fixture(scope="module")
def layers():
    """Built layers shared across tests (building is the slow part); each test loads its own weights."""
    cache = {}

    def get(name: str, input_size: int, hidden_size: int):
        key = (name, input_size, hidden_size)
        if key not in cache:
            cache[key] = cells_tf.make_layer(name, input_size, hidden_size, return_state=True, seed=1)
        return cache[key]

    return get


def _loaded(layers, name, input_size, hidden_size, rng):
    """A shared layer loaded with fresh distinct random canonical weights."""
    skip_unless_fits(name, input_size, hidden_size)
    weights = get_spec(name).random_canonical(input_size, hidden_size, rng)
    layer = layers(name, input_size, hidden_size)
    layer.set_canonical(weights)
    return layer, weights


def _has_step(name):
    from cells_tf.cell_base import RecurrentCell
    from cells_tf.registry import lookup

    return lookup(name)[1].step is not RecurrentCell.step


# -- registry ---------------------------------------------------------------------------
def test_every_registered_cell_has_a_keras_implementation():
    assert set(builtin_cells()) <= set(CELLS)
    assert all("keras" in implemented_in(name) for name in CELLS)


def test_unknown_cell_name_lists_the_valid_names():
    for build in (lambda: cells_tf.make_layer("gru9", 4, 6), lambda: cells_tf.make_model("gru9", 4, 6)):
        with pytest.raises(UnknownCellError) as err:
            build()
        message = str(err.value)
        assert "gru9" in message and all(name in message for name in CELLS)
        assert isinstance(err.value, KeyError) and isinstance(err.value, ValueError)


# -- structure --------------------------------------------------------------------------
def test_keras_gru32_on_32_features_has_6336_parameters():
    native = keras.layers.GRU(32)
    native.build((None, None, 32))
    assert native.count_params() == 6_336
    assert cells_tf.make_layer("gru4", 32, 32).count_params() == 6_336
    assert cells_tf.make_layer("gru_reset_after", 32, 32).count_params() == 6_336


@pytest.mark.parametrize("name", CELLS)
def test_canonical_round_trip(layers, name):
    layer, weights = _loaded(layers, name, 4, 6, _rng("round trip", name))
    got = layer.get_canonical()
    assert sorted(got) == sorted(weights)
    for key, value in weights.items():
        assert got[key].dtype == np.float32
        np.testing.assert_array_equal(got[key], value, err_msg=key)


@pytest.mark.parametrize("name", ["gru0", "gru4", "lstm_native", "mgu3"])
def test_set_canonical_rejects_bad_weights_and_loads_nothing(layers, name):
    layer, weights = _loaded(layers, name, 4, 6, _rng("bad weights", name))
    missing = {key: value for key, value in weights.items() if key != "bias"}
    with pytest.raises(ValueError, match=r"missing \['bias'\]"):
        layer.set_canonical(missing)
    renamed = {**weights, "kernal": weights["kernel"]}
    with pytest.raises(ValueError, match=r"unexpected \['kernal'\]"):
        layer.set_canonical(renamed)
    wrong = {**weights, "recurrent_kernel": weights["recurrent_kernel"][:, 1:],
             "kernel": weights["kernel"] * 2.0}
    with pytest.raises(ValueError, match=r"'recurrent_kernel' must have shape"):
        layer.set_canonical(wrong)
    for key, value in layer.get_canonical().items():  # the valid kernel was not loaded either
        np.testing.assert_array_equal(value, weights[key])


@pytest.mark.parametrize("name", CELLS)
def test_config_round_trip(layers, name):
    layer, _ = _loaded(layers, name, 4, 6, _rng("config", name))
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(restored) is type(layer) and restored.get_config() == config
    restored.set_canonical(layer.get_canonical())
    x = _rng("config x", name).normal(size=(2, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(_np(restored(x)[0]), _np(layer(x)[0]), rtol=0, atol=FORWARD_TOLERANCE.atol)
    if name in CUSTOM:
        cell_config = layer.cell.get_config()
        assert type(layer.cell).from_config(cell_config).get_config() == cell_config


@pytest.mark.parametrize("name", CUSTOM)
def test_cell_runs_standalone_inside_keras_rnn(layers, name):
    if cells_tf.make_layer(name, 7, 7).cell.sequence is not None and not _has_step(name):
        pytest.skip(f"{name} runs whole sequences only (a scan), so Keras's RNN cannot step it")
    rng = _rng("standalone", name)
    layer, _ = _loaded(layers, name, 7, 5, rng)
    x = rng.normal(size=(3, 5, 7)).astype(np.float32)
    # keras.layers.RNN calls cell.call(x_t, states), projecting each step on its own
    standalone = keras.layers.RNN(layer.cell, return_sequences=True, return_state=True)
    want_outputs, *want_final = standalone(x)
    outputs, *final = layer(x)
    np.testing.assert_allclose(_np(outputs), _np(want_outputs), rtol=0, atol=FORWARD_TOLERANCE.atol)
    for got, want in zip(final, want_final):
        np.testing.assert_allclose(_np(got), _np(want), rtol=0, atol=FORWARD_TOLERANCE.atol)


@pytest.mark.parametrize("name", CUSTOM)
def test_input_projection_runs_once_for_the_whole_sequence(layers, name, monkeypatch):
    layer, _ = _loaded(layers, name, 4, 6, _rng("hoist", name))
    seen = []
    project = layer.cell.project_inputs

    def spy(inputs):
        seen.append(tuple(inputs.shape))
        return project(inputs)

    monkeypatch.setattr(layer.cell, "project_inputs", spy)
    layer(_rng("hoist x", name).normal(size=(3, 5, 4)).astype(np.float32))
    assert seen == [(3, 5, 4)]


# -- custom against native --------------------------------------------------------------
def test_gru0_equals_keras_reset_before_gru_with_negated_update_gate(layers):
    batch, steps, input_size, hidden_size = SHAPES[1]
    rng = _rng("gru0 native")
    layer, weights = _loaded(layers, "gru0", input_size, hidden_size, rng)
    native = keras.layers.GRU(hidden_size, reset_after=False, return_sequences=True)
    native.build((None, None, input_size))

    def negate_z(array):  # Keras's z keeps the old state, Dey's selects the candidate
        return np.concatenate([-array[..., :hidden_size], array[..., hidden_size:]], axis=-1)

    for key in ("kernel", "recurrent_kernel", "bias"):
        getattr(native.cell, key).assign(negate_z(weights[key]))
    x = rng.normal(size=(batch, steps, input_size)).astype(np.float32)
    np.testing.assert_allclose(_np(layer(x)[0]), _np(native(x)), rtol=0, atol=FORWARD_TOLERANCE.atol)


@pytest.mark.parametrize("custom,native", TWINS)
def test_custom_twin_equals_native_layer(layers, custom, native):
    batch, steps, input_size, hidden_size = SHAPES[0]
    rng = _rng("twins", custom)
    custom_layer, weights = _loaded(layers, custom, input_size, hidden_size, rng)
    native_layer = layers(native, input_size, hidden_size)
    native_layer.set_canonical(weights)
    x = rng.normal(size=(batch, steps, input_size)).astype(np.float32)
    for got, want in zip(custom_layer(x), native_layer(x)):
        np.testing.assert_allclose(_np(got), _np(want), rtol=0, atol=FORWARD_TOLERANCE.atol)


# -- bad input --------------------------------------------------------------------------
@pytest.mark.parametrize("name", CELLS)
def test_wrong_rank_or_feature_size_names_both_shapes(layers, name):
    layer = layers(name, 4, 6)
    rng = _rng("bad input", name)
    for shape in [(3, 4), (3, 5, 9)]:
        with pytest.raises(ValueError) as err:
            layer(rng.normal(size=shape).astype(np.float32))
        assert "(batch, time, 4)" in str(err.value) and str(shape) in str(err.value)


@pytest.mark.parametrize("name", ["gru0", "lstm", "lstm_native"])
def test_wrong_initial_state_is_rejected(layers, name):
    layer = layers(name, 4, 6)
    rng = _rng("bad state", name)
    x = rng.normal(size=(3, 5, 4)).astype(np.float32)
    count = get_spec(name).state_size
    with pytest.raises(ValueError, match=r"initial state"):
        layer(x, initial_state=[rng.normal(size=(3, 6)).astype(np.float32)] * (count + 1))
    with pytest.raises(ValueError, match=r"\(batch, 6\), got \(3, 7\)"):
        layer(x, initial_state=[rng.normal(size=(3, 7)).astype(np.float32)] * count)


# -- native fast path -------------------------------------------------------------------
def _gpu_visible() -> bool:
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_logical_devices("GPU"))
    import jax

    return jax.default_backend() == "gpu"


@pytest.mark.skipif(BACKEND not in ("tensorflow", "jax"), reason="modelled backends only")
def test_native_fast_path_reports_the_path_keras_takes():
    gpu = _gpu_visible()
    gru = cells_tf.native_fast_path(cells_tf.make_layer("gru4", 4, 6))
    lstm = cells_tf.native_fast_path(cells_tf.make_layer("lstm_native", 4, 6))
    if BACKEND == "tensorflow":
        assert gru.path == ("cudnn" if gpu else "generic")
    else:
        assert gru.path == "fused_scan"  # JAX has no cuDNN GRU; Keras hoists and scans
    assert lstm.path == ("cudnn" if gpu else "generic")
    if not gpu:  # the default arguments allow cuDNN: only the missing GPU rules it out
        assert "GPU" in lstm.reason and (BACKEND == "jax" or "GPU" in gru.reason)
    assert str(lstm) == lstm.path and lstm.backend == BACKEND
    for name in ("rnn_native", "gru0", "lstm"):
        assert cells_tf.native_fast_path(cells_tf.make_layer(name, 4, 6)).path == "generic"
    reset_before = cells_tf.native_fast_path(keras.layers.GRU(6, reset_after=False))
    assert reset_before.path == "generic" and "reset_after=False" in reset_before.reason
    no_cudnn = cells_tf.native_fast_path(keras.layers.LSTM(6, use_cudnn=False))
    assert no_cudnn.path == "generic" and "use_cudnn=False" in no_cudnn.reason
    with pytest.raises(ValueError, match="Dense"):
        cells_tf.native_fast_path(keras.layers.Dense(3))


# -- make_model -------------------------------------------------------------------------
def _mnist(count: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `count` MNIST test digits as (count, 28 rows, 28 pixels) in [0, 1], and labels."""
    with gzip.open(DATA_DIR / "mnist" / "t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(16 + count * 784), np.uint8, offset=16)
    with gzip.open(DATA_DIR / "mnist" / "t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(8 + count), np.uint8, offset=8)
    return (images.reshape(count, 28, 28) / 255.0).astype(np.float32), labels.astype(np.int64)


def _sentences(count: int) -> list[list[str]]:
    """The first `count` Yelp sentences of the UCI sentiment set, as lower-case words."""
    lines = (DATA_DIR / "sentiment" / "yelp_labelled.txt").read_text(encoding="utf-8").splitlines()
    return [re.findall(r"[a-z']+", line.split("\t")[0].lower()) for line in lines[:count]]


def _padded_with_noise(x: np.ndarray, lengths: np.ndarray, rng) -> np.ndarray:
    """x with every step past a sequence's length replaced by noise the model must ignore."""
    noisy = x.copy()
    for row, length in enumerate(lengths):
        noisy[row, length:] = rng.normal(size=noisy[row, length:].shape)
    return noisy


@needs_data
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("name", ["gru0", "lstm_native"])
def test_model_shapes_and_layers(name, bidirectional):
    x, _ = _mnist(3)
    directions = 2 if bidirectional else 1
    for head, want in (("last", (3, 4)), ("per_step", (3, 28, 4))):
        model = cells_tf.make_model(name, 28, 5, num_layers=2, bidirectional=bidirectional, head=head,
                                    num_outputs=4)
        assert tuple(model(x).shape) == want
    assert len(model.recurrent_layers) == 2 * directions
    head_params = (5 * directions + 1) * 4
    assert model.count_params() == sum(layer.count_params() for layer in model.recurrent_layers) + head_params
    assert [layer.input_size for layer in model.recurrent_layers] == [28] * directions + [5 * directions] * directions


@needs_data
@pytest.mark.parametrize("name", ["gru0", "lstm_native"])
def test_padded_batch_gives_the_unpadded_results(name):
    rng = _rng("padding", name)
    x, _ = _mnist(3)
    lengths = np.array([28, 17, 9])
    padded = _padded_with_noise(x, lengths, rng)
    for head in ("last", "per_step"):
        model = cells_tf.make_model(name, 28, 6, num_layers=2, bidirectional=True, head=head, seed=3)
        batched = _np(model((padded, lengths)))
        for row, length in enumerate(lengths):
            alone = _np(model(x[row:row + 1, :length]))[0]
            got = batched[row] if head == "last" else batched[row, :length]
            np.testing.assert_allclose(got, alone, rtol=0, atol=FORWARD_TOLERANCE.atol, err_msg=f"{head} row {row}")
        # without lengths the noise is read: the check above can fail
        assert np.abs(_np(model(padded))[1] - batched[1]).max() > 100 * FORWARD_TOLERANCE.atol


@needs_data
def test_embedding_model_reads_token_ids_and_lengths():
    sentences = _sentences(4)
    vocab = {word: index + 1 for index, word in enumerate(sorted({w for s in sentences for w in s}))}
    lengths = np.array([len(s) for s in sentences])
    ids = np.zeros((len(sentences), lengths.max()), np.int64)  # 0 = padding, at the end
    for row, sentence in enumerate(sentences):
        ids[row, :len(sentence)] = [vocab[w] for w in sentence]
    model = cells_tf.make_model("mgu", None, 5, bidirectional=True, vocab_size=len(vocab) + 1,
                                embedding_dim=6, num_outputs=2, seed=2)
    logits = _np(model((ids, lengths)))
    assert logits.shape == (4, 2) and model.recurrent_layers[0].input_size == 6
    for row, length in enumerate(lengths):
        alone = _np(model(ids[row:row + 1, :length]))[0]
        np.testing.assert_allclose(logits[row], alone, rtol=0, atol=FORWARD_TOLERANCE.atol)
    with pytest.raises(ValueError, match="int token ids"):
        model(ids.astype(np.float32))
    with pytest.raises(ValueError, match="vocab_size"):
        cells_tf.make_model("mgu", 6, 5)(ids[:, :, None])


@needs_data
def test_bad_lengths_are_rejected():
    x, _ = _mnist(3)
    model = cells_tf.make_model("rnn", 28, 4)
    with pytest.raises(ValueError, match=r"\[1, 28\]"):
        model((x, np.array([28, 0, 5])))
    with pytest.raises(ValueError, match=r"\[1, 28\]"):
        model((x, np.array([29, 3, 5])))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        model((x, np.array([[28, 3, 5]])))
    with pytest.raises(ValueError, match="integers"):
        model((x, np.array([28.0, 3.0, 5.0])))


@pytest.mark.parametrize("name", ["gru4", "lstm"])
def test_shared_init_loads_the_spec_initialiser_per_layer_and_direction(name):
    model = cells_tf.make_model(name, 7, 5, num_layers=2, bidirectional=True, init="shared", seed=11)
    spec = get_spec(name)
    for position, layer in enumerate(model.recurrent_layers):
        index, direction = divmod(position, 2)
        rng = np.random.default_rng([11, SHARED_STREAMS["recurrent"], index, direction])
        want = spec.init_canonical(layer.input_size, 5, rng)
        for key, value in layer.get_canonical().items():
            np.testing.assert_array_equal(value, want[key], err_msg=f"{position} {key}")


@pytest.mark.parametrize("name", CELLS)
def test_keras_layers_train_exactly_the_canonical_weights_so_native_bias_changes_nothing(name):
    """native_bias="canonical" is cells_torch's way to train as Keras does: Keras builds the same model."""
    usual, canonical = (cells_tf.make_model(name, 7, 5, seed=3, native_bias=bias) for bias in ("framework", "canonical"))
    for model in (usual, canonical):
        model(np.zeros((2, 4, 7), np.float32))
        layer = model.recurrent_layers[0]
        assert sum(int(np.prod(w.shape)) for w in layer.trainable_weights) == get_spec(name).param_count(7, 5)
    for a, b in zip(usual.weights, canonical.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))


def test_framework_init_is_keras_recipe_and_seeded():
    first, again, other = (cells_tf.make_model("lstm", 7, 5, bidirectional=True, seed=s) for s in (4, 4, 5))
    for a, b, c in zip(first.recurrent_layers, again.recurrent_layers, other.recurrent_layers):
        for key, value in a.get_canonical().items():
            np.testing.assert_array_equal(value, b.get_canonical()[key])
            if key != "bias":
                assert not np.allclose(value, c.get_canonical()[key])
    clone = cells_tf.RecurrentModel.from_config(first.get_config())
    for a, b in zip(first.recurrent_layers, clone.recurrent_layers):
        for key, value in a.get_canonical().items():
            np.testing.assert_array_equal(value, b.get_canonical()[key])
    forward, backward = (layer.get_canonical() for layer in first.recurrent_layers)
    assert not np.allclose(forward["kernel"], backward["kernel"])
    kernel = forward["recurrent_kernel"]  # (H, 4H) with orthonormal rows, as Keras's Orthogonal draws
    np.testing.assert_allclose(kernel @ kernel.T, np.eye(5), atol=FORWARD_TOLERANCE.atol)
    # custom and native LSTM both start with the forget-gate bias at 1 (Keras's default)
    native = cells_tf.make_layer("lstm_native", 7, 5, seed=4).get_canonical()["bias"]
    np.testing.assert_array_equal(forward["bias"], native)
    np.testing.assert_array_equal(native, np.repeat([0.0, 1.0, 0.0, 0.0], 5))


@needs_data
@pytest.mark.parametrize("jit_compile", [False, True], ids=["graph", "xla"])
@pytest.mark.parametrize("name", ["mgu", "gru4"])
def test_model_trains_one_batch(name, jit_compile):
    x, labels = _mnist(8)
    lengths = np.array([28, 20, 28, 13, 28, 7, 28, 25])
    x = _padded_with_noise(x, lengths, _rng("train", name))
    model = cells_tf.make_model(name, 28, 6, bidirectional=True, seed=7)
    model.compile(optimizer=keras.optimizers.SGD(0.5),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=jit_compile)
    # Keras falls back to jit_compile=False only when a layer cannot be compiled: on
    # TensorFlow that is the cuDNN kernel, i.e. a native layer on a GPU
    on_cudnn = BACKEND == "tensorflow" and cells_tf.native_fast_path(model.recurrent_layers[0]).path == "cudnn"
    assert model.jit_compile == (jit_compile and not on_cudnn)
    before = [layer.get_canonical() for layer in model.recurrent_layers]
    loss = float(model.train_on_batch((x, lengths), labels))
    assert np.isfinite(loss) and abs(loss - np.log(10)) < 1.0  # near chance: logits start small
    for layer, old in zip(model.recurrent_layers, before):
        new = layer.get_canonical()
        assert all(not np.array_equal(new[key], old[key]) for key in old)
