"""Dey & Salem's GRU0–GRU3 as a public TensorFlow repository computes them (the `noise` source).

Written from the description of that code, not copied from it. Per time step, with σ the
logistic function and gates built from the same terms as `gru0`–`gru3`:

    z  = σ([x W_z] + [h U_z] + [1 B_z])
    r  = σ([x W_r] + [x U_r] + [1 B_r])        bug 2: the reset gate reads x, not h, through U_r
    h~ = tanh(x W_h + (r ⊙ h) U_h + 1 B_h)
    output_t = (1 − z) ⊙ h + z ⊙ h~
    h        = h~                              bug 1: the candidate, not output_t, goes on to the next step

where each bias B is an I×I matrix applied as ones(batch, I) @ B (so it acts as the bias vector
of B's column sums), and x U_r needs the hidden size to equal the input size. GRU1 drops the
x W terms of the gates, GRU2 also their biases, GRU3 keeps only the biases (so bug 2 cannot
show there).

Canonical weights, laid out as `gru0`–`gru3` lay theirs out: `kernel` (I, 3H or H),
`recurrent_kernel` (H, 3H or H), `bias` (I, 3H or H) — blocks [z, r, h~]. `as_paper_weights`
maps them onto `gru0`–`gru3` (the same kernels, the biases summed over rows); with both bugs
switched off `published_forward` then equals the paper's equations exactly, which
tests/test_examples.py checks, and with them on it measures the gap. Measured there (batch 4,
20 steps, I = H = 8, weights U(−0.5, 0.5), inputs U(−1, 1)): the largest output difference
from the paper's cell is 0.56 (gru0), 0.59 (gru1), 0.47 (gru2) and 0.76 (gru3), on outputs
whose largest value is 0.90–0.99; with both bugs off it is exactly 0. The candidate bug
alone accounts for most of it (0.54–0.76); the reset bug alone for 0.10–0.14 (none on gru3).

Each bug is also registered alone, so that a run can tell which of them changes training:
`gru0_candidate_bug`–`gru3_candidate_bug` (the candidate goes on as the state, the reset gate reads
h) and `gru0_reset_bug`–`gru2_reset_bug` (the reset gate reads x, the output goes on as the state;
on gru3 that bug changes nothing, so it has no such cell).

    python -m bench check examples/cells/gru_variants_as_published.py
"""

import keras
import numpy as np
import torch
from keras import ops

from bench.cells import CellSpec, register_cell
from bench.cells.gated import gated_layout
from cells_tf import RecurrentCell, register_cell_class
from cells_torch import CustomRecurrent, register

VARIANTS = ("gru0", "gru1", "gru2", "gru3")  # the paper's cells these follow
# name suffix -> (candidate_as_state, reset_reads_input): both bugs as published, then each alone
BUGS = {"published": (True, True), "candidate_bug": (True, False), "reset_bug": (False, True)}


def _registered(paper_name: str):
    """(name, candidate_as_state, reset_reads_input) of each cell registered for this paper cell."""
    for suffix, (candidate_as_state, reset_reads_input) in BUGS.items():
        if reset_reads_input and not candidate_as_state and not gated_layout(paper_name).terms.uses_state:
            continue  # nothing reads U_r: the reset bug alone would be the paper's cell
        yield f"{paper_name}_{suffix}", candidate_as_state, reset_reads_input


def _shapes_of(paper_name: str):
    layout = gated_layout(paper_name)

    def shapes(input_size, hidden_size):
        if input_size != hidden_size:
            raise ValueError(f"as published, the hidden size equals the input size (the reset gate multiplies x by "
                             f"U_r); got input {input_size}, hidden {hidden_size}")
        paper = layout.shapes(input_size, hidden_size)
        return {"kernel": paper["kernel"], "recurrent_kernel": paper["recurrent_kernel"],
                "bias": (input_size, paper["bias"][0])}  # each bias block an I×I matrix

    return shapes


def as_paper_weights(weights):
    """These canonical weights as `gru0`–`gru3`'s: ones @ B is every row equal to B's column sums."""
    return {"kernel": weights["kernel"], "recurrent_kernel": weights["recurrent_kernel"],
            "bias": np.asarray(weights["bias"]).sum(axis=0)}


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def published_forward(weights, x, initial_state, paper_name, candidate_as_state=True, reset_reads_input=True):
    """The NumPy reference; switch either bug off to see what it costs."""
    terms = gated_layout(paper_name).terms
    batch, steps, input_size = x.shape
    hidden = weights["recurrent_kernel"].shape[0]
    kernel, recurrent = weights["kernel"], weights["recurrent_kernel"]
    biases = np.ones((batch, input_size)) @ weights["bias"]
    h = np.zeros((batch, hidden)) if initial_state is None else np.asarray(initial_state[0], np.float64)
    outputs = []
    for t in range(steps):
        x_t = x[:, t]
        gates = np.zeros((batch, 2 * hidden))
        if terms.uses_input:
            gates += x_t @ kernel[:, :2 * hidden]
        if terms.uses_state:
            u_z, u_r = recurrent[:, :hidden], recurrent[:, hidden:2 * hidden]
            gates += np.concatenate([h @ u_z, (x_t if reset_reads_input else h) @ u_r], axis=1)
        if terms.uses_bias:
            gates += biases[:, :2 * hidden]
        z, r = _sigmoid(gates[:, :hidden]), _sigmoid(gates[:, hidden:])
        candidate = np.tanh(x_t @ kernel[:, -hidden:] + (r * h) @ recurrent[:, -hidden:] + biases[:, -hidden:])
        output = (1.0 - z) * h + z * candidate
        h = candidate if candidate_as_state else output
        outputs.append(output)
    return np.stack(outputs, axis=1), (h,)


def _description(paper_name: str, candidate_as_state: bool, reset_reads_input: bool) -> str:
    bugs = [bug for bug, on in (("candidate carried as state", candidate_as_state),
                                ("reset gate from x", reset_reads_input)) if on]
    alone = "" if len(bugs) == 2 else ", that bug alone"
    return f"{paper_name.upper()} as a public TensorFlow repository codes it ({', '.join(bugs)}{alone}; I×I biases)"


for _paper in VARIANTS:
    for _name, _candidate_as_state, _reset_reads_input in _registered(_paper):
        register_cell(CellSpec(
            name=_name, family="gru", native=False, baseline="gru4",
            description=_description(_paper, _candidate_as_state, _reset_reads_input),
            shapes=_shapes_of(_paper),
            forward=lambda w, x, s, paper=_paper, bugs=(_candidate_as_state, _reset_reads_input): published_forward(
                w, x, s, paper, *bugs)))


# -- torch ----------------------------------------------------------------------------------------

class PublishedGRU(CustomRecurrent):
    """The per-step math above; the step reads x itself because the reset gate may multiply it by U_r."""

    paper_name = ""
    candidate_as_state = True
    reset_reads_input = True

    def project_inputs(self, x):
        return x

    def step_constants(self):
        ones = self.bias.new_ones(1, self.input_size)
        return (ones @ self.bias,)  # (1, k·H): ones @ B, the same for every row of the batch

    def step(self, x_t, state, consts):
        (h,) = state
        (biases,) = consts
        terms, hidden = gated_layout(self.paper_name).terms, self.hidden_size
        gates = biases[:, :2 * hidden] if terms.uses_bias else h.new_zeros(1, 2 * hidden)
        if terms.uses_input:
            gates = gates + x_t @ self.kernel[:, :2 * hidden]
        if terms.uses_state:
            u = self.recurrent_kernel
            reset_source = x_t if self.reset_reads_input else h
            gates = gates + torch.cat([h @ u[:, :hidden], reset_source @ u[:, hidden:2 * hidden]], dim=1)
        z, r = torch.sigmoid(gates).chunk(2, dim=1)
        candidate = torch.tanh(x_t @ self.kernel[:, -hidden:] + (r * h) @ self.recurrent_kernel[:, -hidden:]
                               + biases[:, -hidden:])
        output = torch.lerp(h, candidate, z)  # (1 − z) h + z h~
        return output, (candidate if self.candidate_as_state else output,)


def _class_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


for _paper in VARIANTS:
    for _name, _candidate_as_state, _reset_reads_input in _registered(_paper):
        register(_name)(type(_class_name(_name), (PublishedGRU,), {
            "paper_name": _paper, "candidate_as_state": _candidate_as_state, "reset_reads_input": _reset_reads_input}))


# -- Keras ----------------------------------------------------------------------------------------

class PublishedGRUCell(RecurrentCell):
    paper_name = ""
    candidate_as_state = True
    reset_reads_input = True

    def project_inputs(self, inputs):
        return inputs

    def step(self, x_t, states):
        h = states[0]
        terms, hidden = gated_layout(self.paper_name).terms, self.units
        biases = ops.matmul(ops.ones((1, x_t.shape[-1]), dtype=x_t.dtype), self.bias)
        gates = biases[:, :2 * hidden] if terms.uses_bias else ops.zeros((1, 2 * hidden), dtype=x_t.dtype)
        if terms.uses_input:
            gates = gates + ops.matmul(x_t, self.kernel[:, :2 * hidden])
        if terms.uses_state:
            u = self.recurrent_kernel
            reset_source = x_t if self.reset_reads_input else h
            gates = gates + ops.concatenate([ops.matmul(h, u[:, :hidden]),
                                             ops.matmul(reset_source, u[:, hidden:2 * hidden])], axis=1)
        z, r = ops.split(ops.sigmoid(gates), 2, axis=1)
        candidate = ops.tanh(ops.matmul(x_t, self.kernel[:, -hidden:])
                             + ops.matmul(r * h, self.recurrent_kernel[:, -hidden:]) + biases[:, -hidden:])
        output = (1.0 - z) * h + z * candidate
        return output, [candidate if self.candidate_as_state else output]


for _paper in VARIANTS:
    for _name, _candidate_as_state, _reset_reads_input in _registered(_paper):
        _cls = type(_class_name(_name) + "Cell", (PublishedGRUCell,), {
            "paper_name": _paper, "candidate_as_state": _candidate_as_state, "reset_reads_input": _reset_reads_input})
        register_cell_class(_name)(keras.saving.register_keras_serializable(package="rnnbench_examples")(_cls))
