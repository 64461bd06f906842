"""Gradients with respect to the canonical weights, for tests and users' own checks."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.func import functional_call


def canonical_gradients(layer: nn.Module, x: np.ndarray, d_outputs: np.ndarray,
                        weights: dict[str, np.ndarray] | None = None):
    """(d_x, {canonical name: gradient}) of sum(d_outputs * outputs).

    Gradients flow through the layer's own canonical -> parameter map, so a native
    layer's layout conversion is differentiated too. `weights` defaults to the layer's.
    """
    if weights is None:
        weights = layer.get_canonical()
    canonical = {k: torch.tensor(np.asarray(v), requires_grad=True) for k, v in weights.items()}
    x_t = torch.tensor(np.asarray(x), requires_grad=True)
    outputs, _ = functional_call(layer, layer.params_from_canonical(canonical), (x_t,))
    (outputs * torch.as_tensor(np.asarray(d_outputs), dtype=outputs.dtype)).sum().backward()
    return x_t.grad.numpy(), {k: v.grad.numpy() for k, v in canonical.items()}
