"""get/set of the canonical weight dict (docs/cells.md), shared by custom and native layers.

Each layer supplies one differentiable map `params_from_canonical` (canonical tensors
-> its own parameter tensors, by parameter name) and its inverse
`canonical_from_params`. `set_canonical` copies through the first map, so the same code
path serves loading weights and, through `torch.func.functional_call`, taking gradients
with respect to the canonical weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor

from bench.cells import CellSpec, get_spec


class CanonicalWeights:
    """Mixin for an `nn.Module` that implements one registered cell."""

    cell_name: ClassVar[str] = ""  # set by cells_torch.registry.register
    input_size: int
    hidden_size: int

    @property
    def spec(self) -> CellSpec:
        return get_spec(self.cell_name)

    def params_from_canonical(self, weights: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Differentiable: canonical tensors -> {parameter name: tensor} of this module."""
        raise NotImplementedError

    def canonical_from_params(self) -> dict[str, Tensor]:
        """This module's parameters in the canonical layout (tensors, still attached)."""
        raise NotImplementedError

    def train_canonical_only(self) -> None:
        """Leave out of training whatever this module stores beyond the canonical weights (ModelConfig.native_bias).

        A no-op for a module that stores exactly the canonical weights, as every custom cell does.
        """

    def get_canonical(self) -> dict[str, np.ndarray]:
        """A float32 NumPy copy of the weights in the canonical layout."""
        with torch.no_grad():
            return {name: value.detach().to("cpu", torch.float32, copy=True).numpy()
                    for name, value in self.canonical_from_params().items()}

    def set_canonical(self, weights: Mapping[str, object]) -> None:
        """Load canonical weights (NumPy arrays or tensors), checking names and shapes."""
        expected = self.spec.check_weights(weights, self.input_size, self.hidden_size)
        reference = next(self.parameters())  # device and dtype to build on
        tensors = {name: torch.as_tensor(weights[name], dtype=reference.dtype, device=reference.device)
                   for name in expected}
        with torch.no_grad():
            for name, value in self.params_from_canonical(tensors).items():
                # copy in place: keeps the parameter objects (optimisers, cuDNN's flat buffer)
                self.get_parameter(name).copy_(value)
