"""`make_model`: stacked (optionally bidirectional) recurrent layers of one cell + a head.

Call convention: `model(x)` or `model((x, lengths))`, so `train_on_batch((x, lengths), y)`
works.  Variable lengths use padding at the END.  The forward direction reads step
lengths-1.  The backward direction reverses each sequence within its length, so it
starts at the true last step; its "last" value is its output at original position 0.
The same code serves custom and native layers (no Keras masks), so both are timed
alike and the natives keep their fast paths.  Outputs past a sequence's length are
unspecified: mask them in a per-step loss.  Mirrors cells_torch/model.py.
"""

from __future__ import annotations

from dataclasses import asdict

import keras
import numpy as np
from keras import ops

from bench.cells.model_config import ModelConfig
from cells_tf.cell_base import derived_seed
from cells_tf.factory import make_layer

@keras.saving.register_keras_serializable(package="rnnbench")
class RecurrentModel(keras.Model):
    """x (B, T, I) floats, or (B, T) int token ids with vocab_size; optionally with lengths (B,)."""

    def __init__(self, config: ModelConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.embedding = None
        if config.vocab_size is not None:
            self.embedding = keras.layers.Embedding(
                config.vocab_size, config.embedding_dim, name="embedding",
                embeddings_initializer=keras.initializers.RandomUniform(-0.05, 0.05, seed=derived_seed(config.seed, 2)))
            self.embedding.build((None, None))
        layers = []
        for index in range(config.num_layers):
            in_size = config.recurrent_input_size if index == 0 else config.directions * config.hidden_size
            layers.extend(make_layer(config.cell, in_size, config.hidden_size,
                                     seed=derived_seed(config.seed, 0, index, direction))
                          for direction in range(config.directions))
        # in order: layer 0 forward, [layer 0 backward], layer 1 forward, ...
        self.recurrent_layers = layers
        if config.head == "state":  # the last state is the prediction
            self.head = keras.layers.Identity(name="head")
        else:
            self.head = keras.layers.Dense(config.num_outputs, name="head",
                                           kernel_initializer=keras.initializers.GlorotUniform(
                                               seed=derived_seed(config.seed, 1)))
        self.head.build((None, config.directions * config.hidden_size))
        self.built = True

    def call(self, inputs):
        config = self.config
        if isinstance(inputs, (list, tuple)) and len(inputs) != 2:
            raise ValueError(f"the model takes x or a pair (x, lengths), got a sequence of {len(inputs)}")
        x, lengths = inputs if isinstance(inputs, (list, tuple)) else (inputs, None)
        x = self._embed(x)
        lengths = self._check_lengths(x, lengths)
        directions, hidden = config.directions, config.hidden_size
        for index in range(config.num_layers):
            forward_out = self.recurrent_layers[index * directions](x)
            if directions == 2:
                backward_layer = self.recurrent_layers[index * directions + 1]
                backward_out = reverse_within(backward_layer(reverse_within(x, lengths)), lengths)
                x = ops.concatenate([forward_out, backward_out], axis=-1)
            else:
                x = forward_out
        if config.head == "per_step":
            return self.head(x)
        last = at_last_step(x[..., :hidden], lengths)
        if directions == 2:
            # the backward direction has seen the whole sequence at original position 0
            last = ops.concatenate([last, x[:, 0, hidden:]], axis=-1)
        return self.head(ops.relu(last) if config.head == "relu_last" else last)

    def _embed(self, x):
        dtype = keras.backend.standardize_dtype(x.dtype)
        integer = "int" in dtype
        if self.embedding is None:
            if integer:
                raise ValueError(f"this model expects float features (batch, time, {self.config.input_size}), "
                                 f"got {dtype} of shape {tuple(x.shape)}; build it with vocab_size to embed "
                                 f"token ids")
            return x  # the first recurrent layer checks the shape
        if not integer or len(x.shape) != 2:
            raise ValueError(f"a model with vocab_size={self.config.vocab_size} expects int token ids "
                             f"(batch, time), got {dtype} of shape {tuple(x.shape)}")
        # index 0 is padding: a zero vector that passes no gradient to its row, as torch's padding_idx
        not_padding = ops.cast(ops.not_equal(x, 0), self.compute_dtype)
        return self.embedding(x) * ops.expand_dims(not_padding, -1)

    def _check_lengths(self, x, lengths):
        if lengths is None:
            return None
        lengths = ops.convert_to_tensor(lengths)
        dtype = keras.backend.standardize_dtype(lengths.dtype)
        batch, steps = x.shape[0], x.shape[1]
        wrong_batch = len(lengths.shape) == 1 and None not in (batch, lengths.shape[0]) and lengths.shape[0] != batch
        if len(lengths.shape) != 1 or "int" not in dtype or wrong_batch:
            raise ValueError(f"lengths must be integers of shape ({batch},), one per sequence, "
                             f"got {dtype} of shape {tuple(lengths.shape)}")
        values = _concrete(lengths)
        if values is not None and steps is not None and (values.min() < 1 or values.max() > steps):
            raise ValueError(f"lengths must lie in [1, {steps}] (the padded time axis), "
                             f"got values in [{values.min()}, {values.max()}]")
        return ops.cast(lengths, "int32")

    def get_config(self) -> dict:
        return {**super().get_config(), "config": asdict(self.config)}

    @classmethod
    def from_config(cls, config: dict) -> "RecurrentModel":
        config = dict(config)
        return cls(ModelConfig(**config.pop("config")), **config)


def _concrete(tensor) -> np.ndarray | None:
    """The values of `tensor` when it holds data (eager call); None while a graph is traced."""
    try:
        return np.asarray(ops.convert_to_numpy(tensor))
    except (NotImplementedError, TypeError, ValueError, AttributeError):
        # symbolic inside tf.function / jax.jit: values are not known, nothing to check
        return None


def reverse_within(x, lengths):
    """Reverse each sequence of (B, T, F) within its length; padding stays at the end."""
    if lengths is None:
        return ops.flip(x, axis=1)
    steps = ops.expand_dims(ops.arange(ops.shape(x)[1], dtype="int32"), 0)  # (1, T)
    valid_to = ops.expand_dims(lengths, 1)  # (B, 1)
    index = ops.where(steps < valid_to, valid_to - 1 - steps, steps)  # (B, T)
    return ops.take_along_axis(x, ops.broadcast_to(ops.expand_dims(index, -1), ops.shape(x)), axis=1)


def at_last_step(x, lengths):
    """x[b, lengths[b] - 1] for (B, T, F) x; the final step when lengths is None."""
    if lengths is None:
        return x[:, -1]
    index = ops.reshape(lengths - 1, (-1, 1, 1))
    shape = ops.shape(x)
    index = ops.broadcast_to(index, (shape[0], 1, shape[2]))
    return ops.take_along_axis(x, index, axis=1)[:, 0]


def make_model(cell: str, input_size: int | None, hidden_size: int, *, num_layers: int = 1,
               bidirectional: bool = False, head: str = "last", num_outputs: int = 10,
               vocab_size: int | None = None, embedding_dim: int = 64, init: str = "framework",
               seed: int = 0, native_bias: str = "framework") -> RecurrentModel:
    """Build a `RecurrentModel`; the same arguments and seed always give the same weights.

    `native_bias` is accepted for symmetry with cells_torch: Keras's native layers store and train
    exactly the canonical weights (one bias per gate for RNN and LSTM), so both values build the same model.
    """
    config = ModelConfig(cell=cell, input_size=input_size, hidden_size=hidden_size,
                         num_layers=num_layers, bidirectional=bidirectional, head=head,
                         num_outputs=num_outputs, vocab_size=vocab_size,
                         embedding_dim=embedding_dim, init=init, seed=seed, native_bias=native_bias)
    model = RecurrentModel(config)
    if init == "shared":
        _shared_init(model)
    return model


def _shared_init(model: RecurrentModel) -> None:
    """Load the shared initialiser's weights into every recurrent layer and direction, the head and embedding."""
    config = model.config
    for position, layer in enumerate(model.recurrent_layers):
        layer.set_canonical(config.shared_weights(position, layer.input_size))
    if config.head != "state":  # a state readout has no head to initialise
        head = config.shared_head()
        model.head.kernel.assign(head["kernel"])
        model.head.bias.assign(head["bias"])
    if model.embedding is not None:
        model.embedding.embeddings.assign(config.shared_embedding())
