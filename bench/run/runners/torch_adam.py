"""torch's Adam taking Keras's Adam step (`--adam-epsilon keras`).

The two libraries' Adams differ only in where epsilon goes. With m and v the moment
estimates after t steps and the bias corrections c1 = 1 - beta1^t, c2 = 1 - beta2^t:

    torch:  w -= lr / c1 * m / (sqrt(v / c2) + eps)                  eps = 1e-8
    Keras:  w -= lr * sqrt(c2) / c1 * m / (sqrt(v) + epsilon)         epsilon = 1e-7

Multiply torch's numerator and denominator by sqrt(c2) and the two are the same step
when eps = epsilon / sqrt(c2). Early in training c2 is small (0.001 after one step), so
Keras's epsilon weighs up to 1/sqrt(0.001), about 32 times, more against small gradients
than its face value. Setting the group's eps before every step, as a learning-rate
scheduler sets lr, makes torch's own Adam take Keras's step; no update rule is written here.
"""

from __future__ import annotations

import math

import torch

KERAS_ADAM_EPSILON = 1e-7  # keras.optimizers.Adam's default epsilon (a test checks it against Keras)


class KerasEpsilonAdam(torch.optim.Adam):
    """torch.optim.Adam whose epsilon is added where Keras adds it: to the root of the uncorrected v.

    Steps are counted per optimizer, as Keras counts its `iterations`; torch counts per
    parameter, which is the same count while every parameter gets a gradient every step
    (parameters left out of training, e.g. a frozen bias, have requires_grad=False and no step).
    """

    def __init__(self, params, lr: float, epsilon: float = KERAS_ADAM_EPSILON) -> None:
        super().__init__(params, lr=lr, eps=epsilon)
        self.keras_epsilon = epsilon
        self.steps_taken = 0

    def step(self, closure=None):
        self.steps_taken += 1
        for group in self.param_groups:
            beta2 = group["betas"][1]
            group["eps"] = self.keras_epsilon / math.sqrt(1.0 - beta2 ** self.steps_taken)
        return super().step(closure)
