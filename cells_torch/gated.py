"""Dey & Salem GRU variants (gru0-gru3) and the MGU family (mgu, mgu1-mgu3).

One class covers all eight: gates g = sigmoid([x W_g] + [h U_g] + [b_g]) with a subset
of the three terms, then

    h~ = tanh(x W_h + (reset * h) U_h + b_h)
    h' = (1 - update) * h + update * h~        (the gate selects the NEW candidate)

A GRU has two gates [z, r] (update, reset); an MGU has one gate f playing both roles.
Canonical arrays stack the gate blocks first and the candidate block last.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from bench.cells.gated import gated_layout
from cells_torch.base import CustomRecurrent
from cells_torch.registry import register
from cells_torch.validation import State


class GatedRecurrent(CustomRecurrent):
    """Shared body; the gate count and terms come from the cell's layout in bench.cells.gated."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        layout = gated_layout(self.cell_name)
        self.n_gates = len(layout.gates)  # 2 for a GRU ([z, r]), 1 for an MGU ([f])
        self.uses_input = layout.terms.uses_input  # the gates see x @ W_g
        self.uses_state = layout.terms.uses_state  # the gates see h @ U_g
        self.uses_bias = layout.terms.uses_bias  # the gates have a bias b_g

    def project_inputs(self, x: Tensor) -> Tensor:
        hidden, gate_width = self.hidden_size, self.n_gates * self.hidden_size
        if self.uses_input:
            # gate and candidate columns in one product; a gate without bias gets zeros
            bias = self.bias if self.uses_bias else F.pad(self.bias, (gate_width, 0))
            return F.linear(x, self.kernel.t(), bias)
        return F.linear(x, self.kernel.t(), self.bias[-hidden:])

    def step_constants(self) -> tuple:
        hidden, gate_width = self.hidden_size, self.n_gates * self.hidden_size
        u_gate = self.recurrent_kernel[:, :gate_width] if self.uses_state else None
        # with input terms the gate bias already rode along in project_inputs
        b_gate = self.bias[:gate_width] if self.uses_bias and not self.uses_input else None
        fixed = None
        if not (self.uses_input or self.uses_state):
            # gates from the bias alone do not change over time: compute them once
            fixed = torch.sigmoid(b_gate) if b_gate is not None else self.bias.new_full((gate_width,), 0.5)
        return u_gate, b_gate, fixed, self.recurrent_kernel[:, -hidden:]

    def step(self, x_proj_t: Tensor, state: State, consts: tuple) -> tuple[Tensor, State]:
        (h,) = state
        u_gate, b_gate, fixed, u_cand = consts
        hidden = self.hidden_size
        if fixed is not None:
            gates = fixed.type_as(h)  # a no-op except under autocast, where h may be bf16 and the bias float32
        else:
            gates = torch.sigmoid(self._gate_preactivation(x_proj_t, h, u_gate, b_gate))
        if self.n_gates == 2:
            update, reset = gates[..., :hidden], gates[..., hidden:]  # [z, r]
        else:
            update = reset = gates
        candidate = torch.tanh(torch.addmm(x_proj_t[:, -hidden:], reset * h, u_cand))
        h = torch.lerp(h, candidate, update)  # (1 - update) * h + update * candidate
        return h, (h,)

    def _gate_preactivation(self, x_proj_t: Tensor, h: Tensor, u_gate, b_gate) -> Tensor:
        pre = x_proj_t[:, : self.n_gates * self.hidden_size] if self.uses_input else b_gate
        if self.uses_state:
            pre = h @ u_gate if pre is None else torch.addmm(pre, h, u_gate)
        return pre


@register("gru0")
class GRU0(GatedRecurrent):
    """Classical reset-before GRU: z, r = sigmoid(x W + h U + b)."""


@register("gru1")
class GRU1(GatedRecurrent):
    """GRU1: z, r = sigmoid(h U + b)."""


@register("gru2")
class GRU2(GatedRecurrent):
    """GRU2: z, r = sigmoid(h U)."""


@register("gru3")
class GRU3(GatedRecurrent):
    """GRU3: z, r = sigmoid(b), constant in time."""


@register("mgu")
class MGU(GatedRecurrent):
    """Minimal gated unit: f = sigmoid(x W + h U + b)."""


@register("mgu1")
class MGU1(GatedRecurrent):
    """MGU1: f = sigmoid(h U + b)."""


@register("mgu2")
class MGU2(GatedRecurrent):
    """MGU2: f = sigmoid(h U)."""


@register("mgu3")
class MGU3(GatedRecurrent):
    """MGU3: f = sigmoid(b), constant in time."""
