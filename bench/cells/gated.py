"""NumPy references of the Dey & Salem GRU variants (gru0–gru3) and the MGU family.

Both families share one structure: gates g = σ([x W_g] + [h U_g] + [b_g]), where each
variant keeps a subset of the three terms; a reset gate scales h inside the candidate
and an update gate mixes old state and candidate, selecting the NEW candidate:

    h~ = tanh(x W_h + (reset ⊙ h) U_h + b_h)
    h' = (1 − update) ⊙ h + update ⊙ h~

A GRU has two gates (update z, reset r); an MGU has one gate f that plays both roles.
The canonical arrays stack the gate blocks first and the candidate block last, so one
implementation with a `GateTerms` switch covers all eight cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.cells.spec import CellSpec, Weights, register_cell


@dataclass(frozen=True)
class GateTerms:
    """Which terms enter the gates' pre-activation."""

    uses_input: bool  # x @ W_gate
    uses_state: bool  # h @ U_gate
    uses_bias: bool  # b_gate


@dataclass(frozen=True)
class GatedLayout:
    """How gates are named and which gate plays which role."""

    gates: tuple[str, ...]  # gate block names in canonical order, e.g. ("z", "r") or ("f",)
    update: str  # gate that selects the new candidate
    reset: str  # gate that scales h inside the candidate
    terms: GateTerms

    def shapes(self, input_size: int, hidden_size: int) -> dict[str, tuple[int, ...]]:
        blocks = len(self.gates) + 1  # gates, then the candidate
        return {
            "kernel": (input_size, (blocks if self.terms.uses_input else 1) * hidden_size),
            "recurrent_kernel": (hidden_size, (blocks if self.terms.uses_state else 1) * hidden_size),
            "bias": ((blocks if self.terms.uses_bias else 1) * hidden_size,),
        }


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


def _split(weights: Weights, layout: GatedLayout, hidden: int):
    """Gate parts (None where a term is absent) and candidate parts of the canonical arrays."""
    n = len(layout.gates)
    kernel, recurrent, bias = weights["kernel"], weights["recurrent_kernel"], weights["bias"]
    gate_w = kernel[:, : n * hidden] if layout.terms.uses_input else None
    gate_u = recurrent[:, : n * hidden] if layout.terms.uses_state else None
    gate_b = bias[: n * hidden] if layout.terms.uses_bias else None
    return gate_w, gate_u, gate_b, kernel[:, -hidden:], recurrent[:, -hidden:], bias[-hidden:]


def _gates_preact(layout, x_t, h, gate_w, gate_u, gate_b, batch, hidden):
    a = np.zeros((batch, len(layout.gates) * hidden))
    if gate_w is not None:
        a = a + x_t @ gate_w
    if gate_u is not None:
        a = a + h @ gate_u
    if gate_b is not None:
        a = a + gate_b
    return a


def _forward_cache(layout: GatedLayout, weights: Weights, x: np.ndarray, initial_state):
    batch, steps, _ = x.shape
    hidden = weights["recurrent_kernel"].shape[0]
    gate_w, gate_u, gate_b, w_h, u_h, b_h = _split(weights, layout, hidden)
    h = np.zeros((batch, hidden)) if initial_state is None else np.asarray(initial_state[0], np.float64)
    outputs, cache = [], []
    for t in range(steps):
        x_t = x[:, t]
        gates = _sigmoid(_gates_preact(layout, x_t, h, gate_w, gate_u, gate_b, batch, hidden))
        named = {g: gates[:, k * hidden:(k + 1) * hidden] for k, g in enumerate(layout.gates)}
        reset, update = named[layout.reset], named[layout.update]
        candidate = np.tanh(x_t @ w_h + (reset * h) @ u_h + b_h)
        cache.append((x_t, h, gates, candidate))
        h = (1.0 - update) * h + update * candidate
        outputs.append(h)
    return np.stack(outputs, axis=1), (h,), cache


def _backward(layout: GatedLayout, weights: Weights, x: np.ndarray, d_outputs: np.ndarray):
    _, _, cache = _forward_cache(layout, weights, x, None)
    hidden = weights["recurrent_kernel"].shape[0]
    gate_w, gate_u, gate_b, w_h, u_h, b_h = _split(weights, layout, hidden)
    n = len(layout.gates)
    d_gate_w = np.zeros((x.shape[2], n * hidden))
    d_gate_u = np.zeros((hidden, n * hidden))
    d_gate_b = np.zeros(n * hidden)
    d_w_h, d_u_h, d_b_h = np.zeros_like(w_h), np.zeros_like(u_h), np.zeros_like(b_h)
    d_x = np.zeros_like(x)
    d_h_next = np.zeros((x.shape[0], hidden))
    for t in reversed(range(x.shape[1])):
        x_t, h, gates, candidate = cache[t]
        named = {g: gates[:, k * hidden:(k + 1) * hidden] for k, g in enumerate(layout.gates)}
        reset, update = named[layout.reset], named[layout.update]
        d_hnew = d_outputs[:, t] + d_h_next
        d_gate = {g: np.zeros_like(update) for g in layout.gates}
        d_gate[layout.update] += d_hnew * (candidate - h)
        d_cand_pre = d_hnew * update * (1.0 - candidate ** 2)
        d_h = d_hnew * (1.0 - update)
        d_w_h += x_t.T @ d_cand_pre
        d_b_h += d_cand_pre.sum(0)
        d_x[:, t] += d_cand_pre @ w_h.T
        d_reset_h = d_cand_pre @ u_h.T
        d_u_h += (reset * h).T @ d_cand_pre
        d_gate[layout.reset] += d_reset_h * h
        d_h += d_reset_h * reset
        d_pre = np.concatenate([d_gate[g] for g in layout.gates], axis=1) * gates * (1.0 - gates)
        if gate_w is not None:
            d_gate_w += x_t.T @ d_pre
            d_x[:, t] += d_pre @ gate_w.T
        if gate_u is not None:
            d_gate_u += h.T @ d_pre
            d_h += d_pre @ gate_u.T
        if gate_b is not None:
            d_gate_b += d_pre.sum(0)
        d_h_next = d_h
    terms = layout.terms
    d_weights = {
        "kernel": np.concatenate([d_gate_w, d_w_h], 1) if terms.uses_input else d_w_h,
        "recurrent_kernel": np.concatenate([d_gate_u, d_u_h], 1) if terms.uses_state else d_u_h,
        "bias": np.concatenate([d_gate_b, d_b_h]) if terms.uses_bias else d_b_h,
    }
    return d_x, d_weights


_LAYOUTS: dict[str, GatedLayout] = {}


def gated_layout(name: str) -> GatedLayout:
    """The gate layout of a gated cell, so the framework cells read it instead of restating it."""
    try:
        return _LAYOUTS[name]
    except KeyError:
        raise ValueError(f"{name!r} is not a gated cell; gated cells are: {', '.join(sorted(_LAYOUTS))}") from None


def _register(name: str, layout: GatedLayout, family: str, description: str) -> None:
    _LAYOUTS[name] = layout
    register_cell(CellSpec(
        name=name,
        family=family,
        native=False,
        baseline="gru4",
        description=description,
        shapes=layout.shapes,
        forward=lambda w, x, s: _forward_cache(layout, w, x, s)[:2],
        backward=lambda w, x, d: _backward(layout, w, x, d),
    ))


_GRU = dict(gates=("z", "r"), update="z", reset="r")
_MGU = dict(gates=("f",), update="f", reset="f")
_ALL = GateTerms(uses_input=True, uses_state=True, uses_bias=True)
_STATE_BIAS = GateTerms(uses_input=False, uses_state=True, uses_bias=True)
_STATE_ONLY = GateTerms(uses_input=False, uses_state=True, uses_bias=False)
_BIAS_ONLY = GateTerms(uses_input=False, uses_state=False, uses_bias=True)

_register("gru0", GatedLayout(**_GRU, terms=_ALL), "gru", "classical reset-before GRU (Dey & Salem GRU0)")
_register("gru1", GatedLayout(**_GRU, terms=_STATE_BIAS), "gru", "GRU, gates from state and bias (GRU1)")
_register("gru2", GatedLayout(**_GRU, terms=_STATE_ONLY), "gru", "GRU, gates from state only (GRU2)")
_register("gru3", GatedLayout(**_GRU, terms=_BIAS_ONLY), "gru", "GRU, gates from bias only (GRU3)")
_register("mgu", GatedLayout(**_MGU, terms=_ALL), "mgu", "minimal gated unit (Zhou et al. 2016)")
_register("mgu1", GatedLayout(**_MGU, terms=_STATE_BIAS), "mgu", "MGU, gate from state and bias (MGU1)")
_register("mgu2", GatedLayout(**_MGU, terms=_STATE_ONLY), "mgu", "MGU, gate from state only (MGU2)")
_register("mgu3", GatedLayout(**_MGU, terms=_BIAS_ONLY), "mgu", "MGU, gate from bias only (MGU3)")
