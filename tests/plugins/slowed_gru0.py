"""`gru0_slowed`: gru0 with needless, value-neutral work in its forward pass, for the A/B gate's power runs.

With RNNBENCH_EXTRA_WORK=N (read when the layer is built, in the job's process) the layer's
outputs go N times through `outputs + 0 * tanh(outputs)` whenever gradients are being recorded:
the training step does the work, forward and backward, and the inference step (under no_grad)
does not. One unit is a few small operations, so N sets the slowdown in steps of a few percent
at the regress suite's shape. The values, and so the accuracy
and every correctness check, are exactly gru0's. An A/B run whose head alone has
`--head-env RNNBENCH_EXTRA_WORK=N` is therefore a branch that makes one custom cell slower and
nothing else; how much slower each N makes the training step is measured in
reports/gate-quality/. Torch only.

    python -m bench compare --against HEAD --plugin tests/plugins/slowed_gru0.py --cells gru0_slowed \\
        --frameworks torch --head-env RNNBENCH_EXTRA_WORK=3
"""

import dataclasses
import os

import torch

from bench.cells import get_spec, register_cell
from bench.cells.gated import gated_layout
from cells_torch import register
from cells_torch.base import CustomRecurrent
from cells_torch.gated import GRU0

EXTRA_WORK_ENV = "RNNBENCH_EXTRA_WORK"

register_cell(dataclasses.replace(get_spec("gru0"), name="gru0_slowed", equivalent=None,
                                  description=f"gru0 plus ${EXTRA_WORK_ENV} needless tanh's of its outputs, multiplied "
                                              "by zero, in training (the A/B gate's power runs)"))


@register("gru0_slowed")
class SlowedGRU0(GRU0):
    def __init__(self, *args, **kwargs) -> None:
        CustomRecurrent.__init__(self, *args, **kwargs)
        layout = gated_layout("gru0")  # gru0's gates; this name has no layout of its own
        self.n_gates = len(layout.gates)
        self.uses_input, self.uses_state, self.uses_bias = (layout.terms.uses_input, layout.terms.uses_state,
                                                            layout.terms.uses_bias)
        self.extra_work = int(os.environ.get(EXTRA_WORK_ENV, "0"))

    def sequence(self, x_proj, state, consts):
        outputs, state = super().sequence(x_proj, state, consts)
        for _ in range(self.extra_work if torch.is_grad_enabled() else 0):
            outputs = outputs + 0.0 * torch.tanh(outputs)
        return outputs, state
