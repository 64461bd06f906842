"""minGRU (Feng et al. 2024, "Were RNNs All We Needed?"): a GRU whose gate reads the input only.

    z_t  = σ(x_t W_z + b_z)
    h~_t = x_t W_h + b_h
    h_t  = (1 − z_t) ⊙ h_{t−1} + z_t ⊙ h~_t

With no recurrent weight, h_t = a_t ⊙ h_{t−1} + b_t (a = 1 − z, b = z ⊙ h~) is a linear
recurrence, so the whole sequence can be computed by a parallel scan instead of a loop.
This file registers two cells with one spec each and the same math:

- `mingru`: the per-step loop, in torch and Keras;
- `mingru_scan`: a parallel prefix scan over time (log2(T) vectorised doubling steps),
  in torch and Keras.

Canonical weights: `kernel` (I, 2H) and `bias` (2H), blocks [z, h~]. Parameters: 2IH + 2H.
There is no NumPy backward: `bench check` takes the gradients from finite differences.

    python -m bench check examples/cells/mingru.py
    python -m bench run --plugin examples/cells/mingru.py --cells mingru mingru_scan gru4 --epochs 3
"""

import keras
import numpy as np
import torch
import torch.nn.functional as F
from keras import ops

from bench.cells import CellSpec, register_cell
from cells_tf import RecurrentCell, register_cell_class
from cells_torch import CustomRecurrent, register


def _shapes(input_size, hidden_size):
    return {"kernel": (input_size, 2 * hidden_size), "bias": (2 * hidden_size,)}  # [z, h~]


def _forward(weights, x, initial_state):
    hidden = weights["bias"].shape[0] // 2
    projected = x @ weights["kernel"] + weights["bias"]
    gate = 1.0 / (1.0 + np.exp(-projected[..., :hidden]))
    candidate = projected[..., hidden:]
    h = np.zeros((x.shape[0], hidden)) if initial_state is None else np.asarray(initial_state[0], np.float64)
    outputs = []
    for t in range(x.shape[1]):
        h = (1.0 - gate[:, t]) * h + gate[:, t] * candidate[:, t]
        outputs.append(h)
    return np.stack(outputs, axis=1), (h,)


for _name, _how in (("mingru", "step loop"), ("mingru_scan", "parallel scan over time")):
    register_cell(CellSpec(name=_name, family="gru", native=False, baseline="gru4",
                           description=f"minGRU (Feng et al. 2024), gate from x only; {_how}",
                           shapes=_shapes, forward=_forward))


# -- torch ----------------------------------------------------------------------------------------

@register("mingru")
class MinGRU(CustomRecurrent):
    """The default project_inputs gives x @ kernel + bias for every step; the loop does the rest."""

    def step(self, x_proj_t, state, consts):
        (h,) = state
        gate_pre, candidate = x_proj_t.chunk(2, dim=-1)
        h = torch.lerp(h, candidate, torch.sigmoid(gate_pre))  # (1 − z) h + z h~
        return h, (h,)


@register("mingru_scan")
class MinGRUScan(CustomRecurrent):
    """h_t = a_t h_{t−1} + b_t for every t at once: after the doubling step with shift s, each
    position holds the composition of the (up to) 2s steps ending there."""

    def sequence(self, x_proj, state, consts):
        (h0,) = state
        gate_pre, candidate = x_proj.chunk(2, dim=-1)
        gate = torch.sigmoid(gate_pre)
        a, b = 1.0 - gate, gate * candidate
        b = torch.cat([b[:, :1] + a[:, :1] * h0.unsqueeze(1), b[:, 1:]], dim=1)  # fold in the initial state
        steps, shift = x_proj.shape[1], 1
        while shift < steps:
            # combine each step with the one `shift` earlier; before the sequence: a = 1, b = 0
            b = b + a * F.pad(b, (0, 0, shift, 0))[:, :steps]
            a = a * F.pad(a, (0, 0, shift, 0), value=1.0)[:, :steps]
            shift *= 2
        return b, (b[:, -1],)


# -- Keras ----------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package="rnnbench_examples")
@register_cell_class("mingru")
class MinGRUCell(RecurrentCell):
    """The default project_inputs gives inputs @ kernel + bias; Keras's RNN loop runs the step."""

    def step(self, projected, states):
        gate_pre, candidate = ops.split(projected, 2, axis=-1)
        gate = ops.sigmoid(gate_pre)
        h = (1.0 - gate) * states[0] + gate * candidate
        return h, [h]


def _compose(earlier, later):
    """Two spans of h -> a h + b, earlier first, as one."""
    a1, b1 = earlier
    a2, b2 = later
    return a1 * a2, a2 * b1 + b2


@keras.saving.register_keras_serializable(package="rnnbench_examples")
@register_cell_class("mingru_scan")
class MinGRUScanCell(RecurrentCell):
    """The whole sequence through keras.ops.associative_scan (a parallel scan on TensorFlow and JAX)."""

    def sequence(self, projected, states):
        gate_pre, candidate = ops.split(projected, 2, axis=-1)
        gate = ops.sigmoid(gate_pre)
        a, b = 1.0 - gate, gate * candidate
        b = ops.concatenate([b[:, :1] + a[:, :1] * ops.expand_dims(states[0], 1), b[:, 1:]], axis=1)
        _, h = ops.associative_scan(_compose, (a, b), axis=1)
        h = ops.reshape(h, (-1, ops.shape(b)[1], b.shape[-1]))  # TensorFlow's scan loses the static shape
        return h, [h[:, -1]]
