"""PyTorch implementations of every registered cell, plus the native layers behind the
same interface: `make_layer(name, input_size, hidden_size)`, `make_model(...)`.

Importing the package imports every family module, which registers its cells.
"""

from cells_torch import gated, gru_native_math, lstm, native, rnn  # noqa: F401  (registers cells)
from cells_torch.base import CustomRecurrent
from cells_torch.model import ModelConfig, RecurrentModel, make_model
from cells_torch.profiling import native_kernel
from cells_torch.registry import layer_class, list_cells, make_layer, register

__all__ = ["CustomRecurrent", "ModelConfig", "RecurrentModel", "layer_class", "list_cells", "make_layer", "make_model",
           "native_kernel", "register"]
