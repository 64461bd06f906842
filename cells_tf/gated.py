"""Keras cells of the Dey & Salem GRU variants (gru0-gru3) and the MGU family.

All eight share one structure (see bench/cells/gated.py and docs/cells.md): gates
g = sigmoid([x W_g] + [h U_g] + [b_g]) with a variant-specific subset of the three
terms, a candidate h~ = tanh(x W_h + (reset * h) U_h + b_h), and h' = (1 - update) * h +
update * h~ (the gate selects the NEW candidate).  A GRU has gate blocks [z, r], an MGU
one gate f that is both reset and update; canonical arrays put the gate blocks first and
the candidate block last.  Each cell is one subclass naming its gate count and terms.
"""

from __future__ import annotations

from typing import ClassVar

import keras
from keras import ops

from bench.cells.gated import GateTerms, gated_layout
from cells_tf.cell_base import RecurrentCell, dense_over_time
from cells_tf.registry import register_cell_class


class GatedCell(RecurrentCell):
    """Shared math of gru0-gru3 and mgu-mgu3."""

    num_gates: ClassVar[int]  # 2 for a GRU (update z, reset r), 1 for an MGU (f)
    terms: ClassVar[GateTerms]  # which of x W, h U, b enter the gates

    def project_inputs(self, inputs):
        # add the bias blocks that line up with the kernel's columns: all of them when the
        # gates read x (gru0, mgu), else only the candidate's; gate biases then join per step
        bias = self.bias
        if self.terms.uses_bias and not self.terms.uses_input:
            bias = bias[self.num_gates * self.units:]
        return dense_over_time(inputs, self.kernel, bias)

    def step(self, projected, states):
        h = states[0]
        hidden, gate_width = self.units, self.num_gates * self.units
        candidate_x = projected[:, gate_width:] if self.terms.uses_input else projected
        pre_gates = projected[:, :gate_width] if self.terms.uses_input else 0.0
        if self.terms.uses_state:
            pre_gates = pre_gates + ops.matmul(h, self.recurrent_kernel[:, :gate_width])
        if self.terms.uses_bias and not self.terms.uses_input:
            pre_gates = pre_gates + self.bias[:gate_width]  # constant in time for gru3/mgu3
        gates = ops.sigmoid(pre_gates)
        if self.num_gates == 2:
            update, reset = gates[..., :hidden], gates[..., hidden:]  # blocks [z, r]
        else:
            update = reset = gates
        candidate = ops.tanh(candidate_x + ops.matmul(reset * h, self.recurrent_kernel[:, -hidden:]))
        h_new = h + update * (candidate - h)  # (1 - update) * h + update * candidate
        return h_new, [h_new]


def _gated(name: str):
    """Register one variant: a subclass of GatedCell with the gate count and terms of its layout."""

    def decorate(cls):
        layout = gated_layout(name)
        cls.num_gates = len(layout.gates)
        cls.terms = layout.terms
        return keras.saving.register_keras_serializable(package="rnnbench")(register_cell_class(name)(cls))

    return decorate


@_gated("gru0")
class GRU0Cell(GatedCell):
    """Classical reset-before GRU: z, r = sigmoid(x W + h U + b)."""


@_gated("gru1")
class GRU1Cell(GatedCell):
    """GRU1: z, r = sigmoid(h U + b)."""


@_gated("gru2")
class GRU2Cell(GatedCell):
    """GRU2: z, r = sigmoid(h U)."""


@_gated("gru3")
class GRU3Cell(GatedCell):
    """GRU3: z, r = sigmoid(b), constant in time."""


@_gated("mgu")
class MGUCell(GatedCell):
    """Minimal gated unit: f = sigmoid(x W + h U + b)."""


@_gated("mgu1")
class MGU1Cell(GatedCell):
    """MGU1: f = sigmoid(h U + b)."""


@_gated("mgu2")
class MGU2Cell(GatedCell):
    """MGU2: f = sigmoid(h U)."""


@_gated("mgu3")
class MGU3Cell(GatedCell):
    """MGU3: f = sigmoid(b), constant in time."""
