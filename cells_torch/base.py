"""`CustomRecurrent`: the shared body of every hand-written torch cell.

A subclass supplies only the per-step recurrent update. The base owns the parameters
(named exactly as the canonical weights), validation, the input projection for all
time steps in one matrix product before the loop, and the time loop itself. The loop
body has no data-dependent Python branching and no host syncs, so `torch.compile`
(including CUDA graphs) can trace it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cells_torch.canonical import CanonicalWeights
from cells_torch.validation import State, check_input, initial_state, public_state, zero_state


class CustomRecurrent(CanonicalWeights, nn.Module):
    """Batch-first layer: `layer(x, initial_state=None) -> (outputs (B, T, H), final_state)`."""

    def __init__(self, input_size: int, hidden_size: int, *,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        spec = self.spec
        shapes = spec.weight_shapes(input_size, hidden_size)  # also rejects bad sizes
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.state_size = spec.state_size
        for name, shape in shapes.items():
            self.register_parameter(name, nn.Parameter(torch.empty(shape, device=device, dtype=dtype)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's recurrent-layer default, U(-1/sqrt(H), 1/sqrt(H)), as nn.GRU/LSTM/RNN use."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for param in self.parameters():
            nn.init.uniform_(param, -bound, bound)

    # -- what a subclass provides -------------------------------------------------
    def project_inputs(self, x: Tensor) -> Tensor:
        """The input part of every step at once: x @ kernel + bias, (B, T, k*H)."""
        return F.linear(x, self.kernel.t(), self.bias)

    def step_constants(self) -> tuple:
        """Weight slices and other per-call constants the step needs, built once per call."""
        return (self.recurrent_kernel,)

    def step(self, x_proj_t: Tensor, state: State, consts: tuple) -> tuple[Tensor, State]:
        """One recurrent update: (projected input (B, k*H), state) -> (output h, new state)."""
        raise NotImplementedError

    # -- shared machinery -----------------------------------------------------------
    def forward(self, x: Tensor, initial_state: Tensor | tuple[Tensor, ...] | None = None):
        check_input(self.cell_name, x, self.input_size, self.kernel)
        state = _initial(self, x, initial_state)
        x_proj = self.project_inputs(x)
        consts = self.step_constants()
        outputs = []
        for x_proj_t in x_proj.unbind(1):
            h, state = self.step(x_proj_t, state, consts)
            outputs.append(h)
        return torch.stack(outputs, 1), public_state(state)

    def params_from_canonical(self, weights: Mapping[str, Tensor]) -> dict[str, Tensor]:
        return dict(weights)  # the parameters ARE the canonical weights

    def canonical_from_params(self) -> dict[str, Tensor]:
        return dict(self.named_parameters())

    def extra_repr(self) -> str:
        return f"{self.cell_name}, input_size={self.input_size}, hidden_size={self.hidden_size}"


def _initial(layer: CustomRecurrent, x: Tensor, given) -> State:
    state = initial_state(layer.cell_name, x, layer.hidden_size, layer.state_size, given)
    return zero_state(x, layer.hidden_size, layer.state_size) if state is None else state
