"""A Keras course lab's hand-written GRU (the `notmnist` source's form): Keras only, weights of its own.

Written from the description of that lab, not copied from it. One weight matrix per gate acts
on the concatenation [h, x]; the reset gate scales h before the candidate's product, and the
update gate selects the new candidate:

    z  = σ([h, x] W_z + b_z)
    r  = σ([h, x] W_r + b_r)
    h~ = tanh([r ⊙ h, x] W_h + b_h)
    h' = (1 − z) ⊙ h + z ⊙ h~

Its canonical weights keep the lab's own names and shapes — `W_z`, `W_r`, `W_h` (H + I, H) and
`b_z`, `b_r`, `b_h` (H) — which shows that the suite needs no particular weight name. The math
is `gru0`'s, so the spec declares the equivalence with the weight mapping below (the first H
rows of each W are the recurrent part, the rest the input part), and `bench check` holds the
two equal.

    python -m bench check examples/cells/keras_lab_gru.py
"""

import keras
import numpy as np
from keras import ops

from bench.cells import CellSpec, Equivalence, register_cell
from cells_tf import RecurrentCell, register_cell_class

GATES = ("z", "r", "h")  # gru0's block order: update, reset, candidate


def _shapes(input_size, hidden_size):
    shapes = {f"W_{g}": (hidden_size + input_size, hidden_size) for g in GATES}
    shapes.update({f"b_{g}": (hidden_size,) for g in GATES})
    return shapes


def as_gru0_weights(weights):
    """The lab's weights in gru0's canonical layout."""
    hidden = np.shape(weights["b_z"])[0]
    return {"kernel": np.concatenate([np.asarray(weights[f"W_{g}"])[hidden:] for g in GATES], axis=1),
            "recurrent_kernel": np.concatenate([np.asarray(weights[f"W_{g}"])[:hidden] for g in GATES], axis=1),
            "bias": np.concatenate([np.asarray(weights[f"b_{g}"]) for g in GATES])}


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _forward(weights, x, initial_state):
    hidden = weights["b_z"].shape[0]
    h = np.zeros((x.shape[0], hidden)) if initial_state is None else np.asarray(initial_state[0], np.float64)
    outputs = []
    for t in range(x.shape[1]):
        hx = np.concatenate([h, x[:, t]], axis=1)
        z = _sigmoid(hx @ weights["W_z"] + weights["b_z"])
        r = _sigmoid(hx @ weights["W_r"] + weights["b_r"])
        candidate = np.tanh(np.concatenate([r * h, x[:, t]], axis=1) @ weights["W_h"] + weights["b_h"])
        h = (1.0 - z) * h + z * candidate
        outputs.append(h)
    return np.stack(outputs, axis=1), (h,)


register_cell(CellSpec(
    name="keras_lab_gru", family="gru", native=False, baseline="gru4",
    description="a Keras lab's GRU: one weight per gate on [h, x], reset before the product (= gru0)",
    shapes=_shapes, forward=_forward, equivalent=Equivalence("gru0", as_gru0_weights)))


@keras.saving.register_keras_serializable(package="rnnbench_examples")
@register_cell_class("keras_lab_gru")
class KerasLabGRUCell(RecurrentCell):
    """Works on [h, x] per step as the lab did, so the input projection is x itself."""

    def project_inputs(self, inputs):
        return inputs

    def step(self, x_t, states):
        h = states[0]
        hx = ops.concatenate([h, x_t], axis=-1)
        z = ops.sigmoid(ops.matmul(hx, self.W_z) + self.b_z)
        r = ops.sigmoid(ops.matmul(hx, self.W_r) + self.b_r)
        candidate = ops.tanh(ops.matmul(ops.concatenate([r * h, x_t], axis=-1), self.W_h) + self.b_h)
        h = (1.0 - z) * h + z * candidate
        return h, [h]
