"""The native layers behind the cell interface: gru4 = nn.GRU, lstm_native = nn.LSTM,
rnn_native = nn.RNN (batch_first, one layer), converting canonical <-> torch layout.

torch stores weights as (gates*H, in) with `x @ W.T`, so every matrix is transposed.
nn.GRU orders its gate rows [r, z, n] where the canonical layout has [z, r, n].
nn.LSTM and nn.RNN keep two biases where the canonical form has one: a canonical bias
goes into bias_ih with zeros in bias_hh, and the export is their sum (docs/cells.md). Both
learn, so their sum moves twice as fast as Keras's single bias unless the model is built
with native_bias="canonical", which freezes bias_hh at zero (`train_canonical_only`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import torch
from torch import Tensor, nn

from cells_torch.canonical import CanonicalWeights
from cells_torch.registry import register
from cells_torch.validation import check_input, initial_state, public_state

_PREFIX = "rnn."  # the wrapped module's attribute name, as it appears in parameter names


class NativeRecurrent(CanonicalWeights, nn.Module):
    """A one-layer, batch-first torch RNN module with the custom cells' call signature."""

    rnn_type: ClassVar[type[nn.RNNBase]]

    def __init__(self, input_size: int, hidden_size: int, *,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        spec = self.spec
        spec.weight_shapes(input_size, hidden_size)  # rejects bad sizes with a clear message
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.state_size = spec.state_size
        self.rnn = self.rnn_type(input_size, hidden_size, batch_first=True, device=device, dtype=dtype)

    def forward(self, x: Tensor, initial_state: Tensor | tuple[Tensor, ...] | None = None):
        check_input(self.cell_name, x, self.input_size, self.rnn.weight_ih_l0)
        state = _native_state(self, x, initial_state)
        outputs, final = self.rnn(x, state)
        final = tuple(s.squeeze(0) for s in final) if isinstance(final, tuple) else (final.squeeze(0),)
        return outputs, public_state(final)

    def extra_repr(self) -> str:
        return f"{self.cell_name}"


def _native_state(layer: NativeRecurrent, x: Tensor, given):
    state = initial_state(layer.cell_name, x, layer.hidden_size, layer.state_size, given)
    if state is None:
        return None  # the native kernel starts from zeros itself
    state = tuple(s.unsqueeze(0) for s in state)  # torch wants (num_layers, B, H)
    return state if layer.state_size == 2 else state[0]


def _swap_zr(a: Tensor, hidden: int, dim: int) -> Tensor:
    """[z, r, n] <-> [r, z, n] along `dim`; the swap is its own inverse."""
    first, second, rest = a.split(hidden, dim)
    return torch.cat([second, first, rest], dim)


@register("gru4")
class NativeGRU(NativeRecurrent):
    rnn_type = nn.GRU

    def params_from_canonical(self, weights: Mapping[str, Tensor]) -> dict[str, Tensor]:
        hidden = self.hidden_size
        return {
            _PREFIX + "weight_ih_l0": _swap_zr(weights["kernel"], hidden, 1).t().contiguous(),
            _PREFIX + "weight_hh_l0": _swap_zr(weights["recurrent_kernel"], hidden, 1).t().contiguous(),
            _PREFIX + "bias_ih_l0": _swap_zr(weights["bias"], hidden, 0),
            _PREFIX + "bias_hh_l0": _swap_zr(weights["recurrent_bias"], hidden, 0),
        }

    def canonical_from_params(self) -> dict[str, Tensor]:
        hidden, rnn = self.hidden_size, self.rnn
        return {
            "kernel": _swap_zr(rnn.weight_ih_l0.t(), hidden, 1),
            "recurrent_kernel": _swap_zr(rnn.weight_hh_l0.t(), hidden, 1),
            "bias": _swap_zr(rnn.bias_ih_l0, hidden, 0),
            "recurrent_bias": _swap_zr(rnn.bias_hh_l0, hidden, 0),
        }


class _SingleBiasNative(NativeRecurrent):
    """nn.LSTM / nn.RNN: gate order already canonical; two biases fold into one."""

    def params_from_canonical(self, weights: Mapping[str, Tensor]) -> dict[str, Tensor]:
        return {
            _PREFIX + "weight_ih_l0": weights["kernel"].t().contiguous(),
            _PREFIX + "weight_hh_l0": weights["recurrent_kernel"].t().contiguous(),
            _PREFIX + "bias_ih_l0": weights["bias"],
            _PREFIX + "bias_hh_l0": torch.zeros_like(weights["bias"]),
        }

    def train_canonical_only(self) -> None:
        """Fold bias_hh into bias_ih (the layer computes the same) and keep it at zero, out of training."""
        rnn = self.rnn
        with torch.no_grad():
            rnn.bias_ih_l0.add_(rnn.bias_hh_l0)
            rnn.bias_hh_l0.zero_()
        rnn.bias_hh_l0.requires_grad_(False)  # no gradient, so no optimizer moves it (it is still a parameter)

    def canonical_from_params(self) -> dict[str, Tensor]:
        rnn = self.rnn
        return {
            "kernel": rnn.weight_ih_l0.t(),
            "recurrent_kernel": rnn.weight_hh_l0.t(),
            "bias": rnn.bias_ih_l0 + rnn.bias_hh_l0,
        }


@register("lstm_native")
class NativeLSTM(_SingleBiasNative):
    rnn_type = nn.LSTM


@register("rnn_native")
class NativeRNN(_SingleBiasNative):
    rnn_type = nn.RNN
