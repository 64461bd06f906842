"""Keras 3 implementations of every registered cell, plus the native layers behind the
same interface: `make_layer(name, input_size, hidden_size)`, `make_model(...)`,
`native_fast_path(layer)`.

Written with `keras.ops` only, so they run on the TensorFlow and the JAX backends.
Importing the package imports every family module, which registers its cells.
"""

from cells_tf import gated, gru_native_math, lstm, rnn  # noqa: F401  (registers the cells)
from cells_tf.cell_base import RecurrentCell
from cells_tf.custom import CustomRecurrent
from cells_tf.factory import make_layer
from cells_tf.fast_path import FastPath, native_fast_path
from cells_tf.model import ModelConfig, RecurrentModel, make_model
from cells_tf.native import NativeRecurrent
from cells_tf.registry import list_cells, register_cell_class
from cells_tf.sequence import SequenceLayer

__all__ = ["CustomRecurrent", "FastPath", "ModelConfig", "NativeRecurrent", "RecurrentCell",
           "RecurrentModel", "SequenceLayer", "list_cells", "make_layer", "make_model", "native_fast_path",
           "register_cell_class"]
