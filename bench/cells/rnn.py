"""NumPy reference of the Elman RNN, shared by `rnn` and `rnn_native`."""

from __future__ import annotations

import numpy as np

from bench.cells.spec import CellSpec, Equivalence, Weights, register_cell


def _shapes(input_size: int, hidden_size: int) -> dict[str, tuple[int, ...]]:
    return {
        "kernel": (input_size, hidden_size),
        "recurrent_kernel": (hidden_size, hidden_size),
        "bias": (hidden_size,),
    }


def _forward(weights: Weights, x: np.ndarray, initial_state):
    batch, steps, _ = x.shape
    hidden = weights["recurrent_kernel"].shape[0]
    h = np.zeros((batch, hidden)) if initial_state is None else np.asarray(initial_state[0], np.float64)
    x_proj = x @ weights["kernel"] + weights["bias"]
    outputs = []
    for t in range(steps):
        h = np.tanh(x_proj[:, t] + h @ weights["recurrent_kernel"])
        outputs.append(h)
    return np.stack(outputs, axis=1), (h,)


def _backward(weights: Weights, x: np.ndarray, d_outputs: np.ndarray):
    outputs, _ = _forward(weights, x, None)
    d_weights = {k: np.zeros_like(v) for k, v in weights.items()}
    d_x = np.zeros_like(x)
    d_h_next = np.zeros_like(outputs[:, 0])
    for t in reversed(range(x.shape[1])):
        h_prev = outputs[:, t - 1] if t > 0 else np.zeros_like(d_h_next)
        d_pre = (d_outputs[:, t] + d_h_next) * (1.0 - outputs[:, t] ** 2)
        d_weights["kernel"] += x[:, t].T @ d_pre
        d_weights["recurrent_kernel"] += h_prev.T @ d_pre
        d_weights["bias"] += d_pre.sum(0)
        d_x[:, t] = d_pre @ weights["kernel"].T
        d_h_next = d_pre @ weights["recurrent_kernel"].T
    return d_x, d_weights


for _name, _native, _extra, _description in (
    ("rnn", False, {}, "hand-written Elman RNN (tanh)"),
    # torch.nn.RNN keeps a second bias vector (bias_hh): H more parameters
    ("rnn_native", True, {"torch": 1}, "the framework's native Elman RNN (keras.layers.SimpleRNN, torch.nn.RNN)"),
):
    register_cell(CellSpec(
        name=_name,
        family="rnn",
        native=_native,
        baseline="rnn_native",
        description=_description,
        shapes=_shapes,
        forward=_forward,
        backward=_backward,
        native_extra_bias=_extra,
        equivalent=None if _native else Equivalence("rnn_native"),  # same math, same layout
    ))
