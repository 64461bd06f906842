"""NumPy reference of the LSTM (gate blocks i, f, g, o), shared by `lstm` and `lstm_native`."""

from __future__ import annotations

import numpy as np

from bench.cells.spec import CellSpec, Equivalence, Weights, register_cell


def _shapes(input_size: int, hidden_size: int) -> dict[str, tuple[int, ...]]:
    return {
        "kernel": (input_size, 4 * hidden_size),  # [i, f, g, o]
        "recurrent_kernel": (hidden_size, 4 * hidden_size),
        "bias": (4 * hidden_size,),
    }


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _forward_cache(weights: Weights, x: np.ndarray, initial_state):
    batch, steps, _ = x.shape
    hidden = weights["recurrent_kernel"].shape[0]
    if initial_state is None:
        h, c = np.zeros((batch, hidden)), np.zeros((batch, hidden))
    else:
        h, c = (np.asarray(s, np.float64) for s in initial_state)
    x_proj = x @ weights["kernel"] + weights["bias"]
    outputs, cache = [], []
    for t in range(steps):
        a_i, a_f, a_g, a_o = np.split(x_proj[:, t] + h @ weights["recurrent_kernel"], 4, axis=1)
        i, f, g, o = _sigmoid(a_i), _sigmoid(a_f), np.tanh(a_g), _sigmoid(a_o)
        c_new = f * c + i * g
        cache.append((h, c, i, f, g, o, np.tanh(c_new)))
        c, h = c_new, o * np.tanh(c_new)
        outputs.append(h)
    return np.stack(outputs, axis=1), (h, c), cache


def _backward(weights: Weights, x: np.ndarray, d_outputs: np.ndarray):
    _, _, cache = _forward_cache(weights, x, None)
    d_weights = {k: np.zeros_like(v) for k, v in weights.items()}
    d_x = np.zeros_like(x)
    d_h_next = np.zeros_like(cache[0][0])
    d_c_next = np.zeros_like(cache[0][0])
    for t in reversed(range(x.shape[1])):
        h, c, i, f, g, o, tanh_c = cache[t]
        d_h = d_outputs[:, t] + d_h_next
        d_c = d_c_next + d_h * o * (1.0 - tanh_c ** 2)
        d_pre = np.concatenate([
            d_c * g * i * (1.0 - i),
            d_c * c * f * (1.0 - f),
            d_c * i * (1.0 - g ** 2),
            d_h * tanh_c * o * (1.0 - o),
        ], axis=1)
        d_weights["kernel"] += x[:, t].T @ d_pre
        d_weights["recurrent_kernel"] += h.T @ d_pre
        d_weights["bias"] += d_pre.sum(0)
        d_x[:, t] = d_pre @ weights["kernel"].T
        d_h_next = d_pre @ weights["recurrent_kernel"].T
        d_c_next = d_c * f
    return d_x, d_weights


for _name, _native, _extra, _description in (
    ("lstm", False, {}, "hand-written LSTM, one bias per gate"),
    # torch.nn.LSTM keeps a second bias vector (bias_hh): 4H more parameters
    ("lstm_native", True, {"torch": 4}, "the framework's native LSTM (keras.layers.LSTM, torch.nn.LSTM)"),
):
    register_cell(CellSpec(
        name=_name,
        family="lstm",
        native=_native,
        baseline="lstm_native",
        description=_description,
        shapes=_shapes,
        forward=lambda w, x, s: _forward_cache(w, x, s)[:2],
        backward=_backward,
        state_size=2,
        native_extra_bias=_extra,
        forget_bias_block=1,
        equivalent=None if _native else Equivalence("lstm_native"),  # same math, same layout
    ))
