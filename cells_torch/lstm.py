"""`lstm`: a hand-written LSTM, gate blocks [i, f, g, o], one bias per gate."""

from __future__ import annotations

import torch
from torch import Tensor

from cells_torch.base import CustomRecurrent
from cells_torch.registry import register
from cells_torch.validation import State


@register("lstm")
class LSTM(CustomRecurrent):
    def step(self, x_proj_t: Tensor, state: State, consts: tuple) -> tuple[Tensor, State]:
        h, c = state
        (recurrent_kernel,) = consts
        i, f, g, o = torch.addmm(x_proj_t, h, recurrent_kernel).chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)
