"""`rnn`: a hand-written Elman RNN, h' = tanh(x W + h U + b)."""

from __future__ import annotations

import torch
from torch import Tensor

from cells_torch.base import CustomRecurrent
from cells_torch.registry import register
from cells_torch.validation import State


@register("rnn")
class ElmanRNN(CustomRecurrent):
    def step(self, x_proj_t: Tensor, state: State, consts: tuple) -> tuple[Tensor, State]:
        (h,) = state
        (recurrent_kernel,) = consts
        h = torch.tanh(torch.addmm(x_proj_t, h, recurrent_kernel))
        return h, (h,)
