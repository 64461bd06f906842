"""NumPy reference of the reset-after GRU that `keras.layers.GRU` and `torch.nn.GRU` compute.

`gru_reset_after` is the hand-written twin of the native layers and `gru4` is the native
layer itself; both share this reference so that custom vs native can be checked with the
same weights. Here z KEEPS the old state (native convention), unlike gru0–gru3.
"""

from __future__ import annotations

import numpy as np

from bench.cells.spec import CellSpec, Equivalence, Weights, register_cell


def _shapes(input_size: int, hidden_size: int) -> dict[str, tuple[int, ...]]:
    return {
        "kernel": (input_size, 3 * hidden_size),  # [z, r, n]
        "recurrent_kernel": (hidden_size, 3 * hidden_size),
        "bias": (3 * hidden_size,),  # input side
        "recurrent_bias": (3 * hidden_size,),  # recurrent side, inside r ⊙ (...) for n
    }


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _forward_cache(weights: Weights, x: np.ndarray, initial_state):
    batch, steps, _ = x.shape
    hidden = weights["recurrent_kernel"].shape[0]
    h = np.zeros((batch, hidden)) if initial_state is None else np.asarray(initial_state[0], np.float64)
    x_proj = x @ weights["kernel"] + weights["bias"]
    outputs, cache = [], []
    for t in range(steps):
        h_proj = h @ weights["recurrent_kernel"] + weights["recurrent_bias"]
        xz, xr, xn = np.split(x_proj[:, t], 3, axis=1)
        hz, hr, hn = np.split(h_proj, 3, axis=1)
        z, r = _sigmoid(xz + hz), _sigmoid(xr + hr)
        n = np.tanh(xn + r * hn)
        cache.append((h, z, r, n, hn))
        h = z * h + (1.0 - z) * n
        outputs.append(h)
    return np.stack(outputs, axis=1), (h,), cache


def _backward(weights: Weights, x: np.ndarray, d_outputs: np.ndarray):
    _, _, cache = _forward_cache(weights, x, None)
    d_weights = {k: np.zeros_like(v) for k, v in weights.items()}
    d_x = np.zeros_like(x)
    d_h_next = np.zeros_like(cache[0][0])
    for t in reversed(range(x.shape[1])):
        h, z, r, n, hn = cache[t]
        d_hnew = d_outputs[:, t] + d_h_next
        d_z = d_hnew * (h - n)
        d_n_pre = d_hnew * (1.0 - z) * (1.0 - n ** 2)
        d_r = d_n_pre * hn
        d_z_pre, d_r_pre = d_z * z * (1.0 - z), d_r * r * (1.0 - r)
        d_x_proj = np.concatenate([d_z_pre, d_r_pre, d_n_pre], axis=1)
        d_h_proj = np.concatenate([d_z_pre, d_r_pre, d_n_pre * r], axis=1)
        d_weights["kernel"] += x[:, t].T @ d_x_proj
        d_weights["bias"] += d_x_proj.sum(0)
        d_weights["recurrent_kernel"] += h.T @ d_h_proj
        d_weights["recurrent_bias"] += d_h_proj.sum(0)
        d_x[:, t] = d_x_proj @ weights["kernel"].T
        d_h_next = d_hnew * z + d_h_proj @ weights["recurrent_kernel"].T
    return d_x, d_weights


for _name, _native, _description in (
    ("gru_reset_after", False, "hand-written GRU with the native layers' reset-after math"),
    ("gru4", True, "the framework's native GRU layer (keras.layers.GRU, torch.nn.GRU)"),
):
    register_cell(CellSpec(
        name=_name,
        family="gru",
        native=_native,
        baseline="gru4",
        description=_description,
        shapes=_shapes,
        forward=lambda w, x, s: _forward_cache(w, x, s)[:2],
        backward=_backward,
        equivalent=None if _native else Equivalence("gru4"),  # same math, same layout
    ))
