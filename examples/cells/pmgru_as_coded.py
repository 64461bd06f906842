"""The minimal gated unit as a PyTorch course homework coded it (the `sentiment` source): torch only.

Written from the description of that code, not copied from it. Its "pmGRU" concatenates x and
h and applies plain linear layers, with no squashing anywhere:

    f  = [x, h] W_f + b_f                 the forget gate, with no sigmoid
    c  = [x, f ⊙ h] W_c + b_c             the candidate, with no tanh
    h' = (1 − f) ⊙ h + f ⊙ c

It is `mgu` with both nonlinearities removed (the homework's own equations have them), so
nothing keeps f in (0, 1) or h bounded. Canonical weights use `mgu`'s layout — `kernel` (I, 2H),
`recurrent_kernel` (H, 2H), `bias` (2H), blocks [f, c] — so one set of weights loads into both.
Registered in torch only, as the homework was: `bench check` and the reports say "torch only".

    python -m bench check examples/cells/pmgru_as_coded.py
"""

import numpy as np
import torch

from bench.cells import CellSpec, get_spec, register_cell
from cells_torch import CustomRecurrent, register


def _forward(weights, x, initial_state):
    hidden = weights["recurrent_kernel"].shape[0]
    kernel, recurrent, bias = weights["kernel"], weights["recurrent_kernel"], weights["bias"]
    h = np.zeros((x.shape[0], hidden)) if initial_state is None else np.asarray(initial_state[0], np.float64)
    outputs = []
    for t in range(x.shape[1]):
        x_t = x[:, t]
        forget = x_t @ kernel[:, :hidden] + h @ recurrent[:, :hidden] + bias[:hidden]
        candidate = x_t @ kernel[:, hidden:] + (forget * h) @ recurrent[:, hidden:] + bias[hidden:]
        h = (1.0 - forget) * h + forget * candidate
        outputs.append(h)
    return np.stack(outputs, axis=1), (h,)


register_cell(CellSpec(
    name="pmgru_as_coded", family="mgu", native=False, baseline="gru4",
    description="a homework's minimal gated unit as coded: linear gate and candidate, no sigmoid, no tanh",
    shapes=get_spec("mgu").shapes, forward=_forward))


@register("pmgru_as_coded")
class PMGRUAsCoded(CustomRecurrent):
    """The default project_inputs gives x @ kernel + bias for the gate and the candidate at once."""

    def step(self, x_proj_t, state, consts):
        (h,) = state
        (recurrent_kernel,) = consts
        hidden = self.hidden_size
        forget = torch.addmm(x_proj_t[:, :hidden], h, recurrent_kernel[:, :hidden])
        candidate = torch.addmm(x_proj_t[:, hidden:], forget * h, recurrent_kernel[:, hidden:])
        h = (1.0 - forget) * h + forget * candidate
        return h, (h,)
