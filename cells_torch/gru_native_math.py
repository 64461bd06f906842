"""`gru_reset_after`: a hand-written GRU with exactly the math of torch.nn.GRU.

    [z, r, n] blocks;  hp = h @ U + b_h
    z, r = sigmoid(x W_zr + b_zr + hp_zr)
    n    = tanh(x W_n + b_n + r * hp_n)
    h'   = z * h + (1 - z) * n                 (z KEEPS the old state)
"""

from __future__ import annotations

import torch
from torch import Tensor

from cells_torch.base import CustomRecurrent
from cells_torch.registry import register
from cells_torch.validation import State


@register("gru_reset_after")
class GRUResetAfter(CustomRecurrent):
    def step_constants(self) -> tuple:
        return self.recurrent_kernel, self.recurrent_bias

    def step(self, x_proj_t: Tensor, state: State, consts: tuple) -> tuple[Tensor, State]:
        (h,) = state
        recurrent_kernel, recurrent_bias = consts
        hidden = self.hidden_size
        h_proj = torch.addmm(recurrent_bias, h, recurrent_kernel)
        zr = torch.sigmoid(x_proj_t[:, : 2 * hidden] + h_proj[:, : 2 * hidden])
        z, r = zr[:, :hidden], zr[:, hidden:]
        n = torch.tanh(torch.addcmul(x_proj_t[:, 2 * hidden:], r, h_proj[:, 2 * hidden:]))
        h = torch.lerp(n, h, z)  # z * h + (1 - z) * n
        return h, (h,)
