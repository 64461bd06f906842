"""`CustomRecurrent`: the shared body of every hand-written torch cell.

A subclass supplies only the per-step recurrent update (`step`), or the whole sequence
(`sequence`: a parallel scan, a fused kernel, a library call). The base owns the
parameters (named exactly as the canonical weights, whatever those names are),
validation, the input projection for all time steps in one matrix product before the
loop, and the time loop itself. The loop body has no data-dependent Python branching and
no host syncs, so `torch.compile` (including CUDA graphs) can trace it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cells_torch.canonical import CanonicalWeights
from cells_torch.validation import State, check_input, initial_state, public_state, zero_state

# the time loops the default `sequence` can run (see `time_loop` below); bench.plan.modes names the same ones
TIME_LOOPS = ("python", "scan", "while_loop")


class CustomRecurrent(CanonicalWeights, nn.Module):
    """Batch-first layer: `layer(x, initial_state=None) -> (outputs (B, T, H), final_state)`."""

    def __init__(self, input_size: int, hidden_size: int, *,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        spec = self.spec
        shapes = spec.weight_shapes(input_size, hidden_size)  # also rejects bad sizes
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.state_size = spec.state_size
        for name, shape in shapes.items():
            self.register_parameter(name, nn.Parameter(torch.empty(shape, device=device, dtype=dtype)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's recurrent-layer default, U(-1/sqrt(H), 1/sqrt(H)), as nn.GRU/LSTM/RNN use."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for param in self.parameters():
            nn.init.uniform_(param, -bound, bound)

    # -- what a subclass provides -------------------------------------------------
    def project_inputs(self, x: Tensor) -> Tensor:
        """The input part of every step at once: x @ kernel + bias, (B, T, k*H).

        The default reads weights named `kernel` and `bias`; a cell with other names overrides it.
        """
        if "kernel" not in self._parameters:
            raise NotImplementedError(f"{type(self).__name__} ({self.cell_name}) has no weight named 'kernel', so "
                                      "the default project_inputs (x @ kernel + bias) cannot run; override "
                                      "project_inputs(x) to return the input part of every step (or x itself)")
        return F.linear(x, self.kernel.t(), self._parameters.get("bias"))

    def step_constants(self) -> tuple:
        """Weight slices and other per-call constants the step needs, built once per call.

        The default passes `recurrent_kernel` where the cell has one, else nothing.
        """
        return (self.recurrent_kernel,) if "recurrent_kernel" in self._parameters else ()

    def step(self, x_proj_t: Tensor, state: State, consts: tuple) -> tuple[Tensor, State]:
        """One recurrent update: (projected input (B, k*H), state) -> (output h, new state)."""
        raise NotImplementedError

    # how the default `sequence` runs `step` over time: "python" (a loop, which torch.compile unrolls), "scan"
    # (torch's scan operator, compiled once whatever the length; bench's compiled_scan modes set it) or
    # "while_loop" (torch's while_loop operator, the outputs written into a buffer it carries)
    time_loop: str = "python"
    # steps per scan iteration, unrolled inside its body: the host drives T / scan_unroll loop trips, not T
    scan_unroll: int = 1

    def set_time_loop(self, time_loop: str, scan_unroll: int = 1) -> None:
        """Run the default `sequence` as a Python loop, a scan of `scan_unroll` unrolled steps per iteration, or a
        while_loop."""
        if time_loop not in TIME_LOOPS:
            raise ValueError(f"time_loop must be one of {', '.join(map(repr, TIME_LOOPS))}, got {time_loop!r}")
        if not isinstance(scan_unroll, int) or scan_unroll < 1:
            raise ValueError(f"scan_unroll must be a positive int (steps per scan iteration), got {scan_unroll!r}")
        self.time_loop, self.scan_unroll = time_loop, scan_unroll

    def sequence(self, x_proj: Tensor, state: State, consts: tuple) -> tuple[Tensor, State]:
        """All time steps: (projected inputs (B, T, k*H), initial state) -> (outputs (B, T, H), final state).

        The default runs `step` over time, in a Python loop or with the scan operator (`time_loop`);
        a cell overrides this to bring its own whole-sequence implementation, held to the same reference.
        """
        if self.time_loop == "scan":
            return self._scan(x_proj, state)
        if self.time_loop == "while_loop":
            return self._while_loop(x_proj, state)
        return self._loop(x_proj, state, consts)

    def _loop(self, x_proj: Tensor, state: State, consts: tuple) -> tuple[Tensor, State]:
        """`step` over the time axis of `x_proj` in a Python loop."""
        outputs = []
        for x_proj_t in x_proj.unbind(1):
            h, state = self.step(x_proj_t, state, consts)
            outputs.append(h)
        return torch.stack(outputs, 1), state

    def _scan(self, x_proj: Tensor, state: State) -> tuple[Tensor, State]:
        """`step` over time with torch._higher_order_ops.scan (a prototype in torch 2.13; needs torch.compile).

        Each scan iteration runs `scan_unroll` steps; the steps left over when T is not a multiple of it run
        after the scan as a loop the compiler unrolls. A sequence of fewer than two chunks is that loop alone: a
        scan of one iteration saves nothing, and torch 2.13's Inductor C++ wrapper fails to compile one
        (conflicting buffer declarations). The step's constants are built inside the combine function and the
        carried state cloned: the operator refuses outputs that alias its inputs or each other.
        """
        from torch._higher_order_ops.scan import scan

        batch, steps, width = x_proj.shape
        unroll = self.scan_unroll
        chunks = steps // unroll
        if chunks < 2:
            return self._loop(x_proj, state, self.step_constants())

        if unroll == 1:  # one step per iteration, no chunk axis: the graph compiled_scan has always timed
            def combine(carry: State, x_proj_t: Tensor):
                h, new_state = self.step(x_proj_t, carry, self.step_constants())
                return tuple(part.clone() for part in new_state), h.clone()

            final, outputs = scan(combine, tuple(state), x_proj.transpose(0, 1).contiguous())
            return outputs.transpose(0, 1), tuple(final)

        def combine_chunk(carry: State, x_chunk: Tensor):
            consts, outputs = self.step_constants(), []
            for x_proj_t in x_chunk.unbind(0):
                h, carry = self.step(x_proj_t, carry, consts)
                outputs.append(h)
            return tuple(part.clone() for part in carry), torch.stack(outputs, 0)

        scanned = x_proj[:, : chunks * unroll].transpose(0, 1).reshape(chunks, unroll, batch, width)
        final, outputs = scan(combine_chunk, tuple(state), scanned)
        outputs = outputs.reshape(chunks * unroll, batch, -1).transpose(0, 1)
        if chunks * unroll == steps:
            return outputs, tuple(final)
        tail, final = self._loop(x_proj[:, chunks * unroll:], tuple(final), self.step_constants())
        return torch.cat([outputs, tail], 1), final

    def _while_loop(self, x_proj: Tensor, state: State) -> tuple[Tensor, State]:
        """`step` over time with torch._higher_order_ops.while_loop (a prototype; needs torch.compile).

        The loop carries the step index, a (T, B, H) buffer each step writes its output into, and the state; the
        step reads its input with index_select, since a tensor index is data-dependent to the compiler. torch
        2.13's while_loop gets the gradients wrong (its docstring: no training support yet), so bench's
        correctness gate refuses every compiled_while_loop job; the forward is right.
        """
        from torch._higher_order_ops.while_loop import while_loop

        batch, steps, _ = x_proj.shape
        inputs = x_proj.transpose(0, 1).contiguous()

        def more(index: Tensor, outputs: Tensor, *carry: Tensor) -> Tensor:
            return index < steps

        def advance(index: Tensor, outputs: Tensor, *carry: Tensor):
            at = index.reshape(1)
            h, new_state = self.step(inputs.index_select(0, at).squeeze(0), tuple(carry), self.step_constants())
            return (index + 1, outputs.index_copy(0, at, h.unsqueeze(0)), *(part.clone() for part in new_state))

        start = torch.zeros((), dtype=torch.int64, device=x_proj.device)
        buffer = x_proj.new_zeros(steps, batch, self.hidden_size)
        _, outputs, *final = while_loop(more, advance, (start, buffer, *state))
        return outputs.transpose(0, 1), tuple(final)

    @classmethod
    def implements_recurrence(cls) -> bool:
        """Whether the class overrides `step` or `sequence` (the registry refuses one that does neither)."""
        return cls.step is not CustomRecurrent.step or cls.sequence is not CustomRecurrent.sequence

    # -- shared machinery -----------------------------------------------------------
    def forward(self, x: Tensor, initial_state: Tensor | tuple[Tensor, ...] | None = None):
        check_input(self.cell_name, x, self.input_size, next(iter(self._parameters.values())))
        state = _initial(self, x, initial_state)
        outputs, state = self.sequence(self.project_inputs(x), state, self.step_constants())
        return outputs, public_state(state)

    def params_from_canonical(self, weights: Mapping[str, Tensor]) -> dict[str, Tensor]:
        return dict(weights)  # the parameters ARE the canonical weights

    def canonical_from_params(self) -> dict[str, Tensor]:
        return dict(self.named_parameters())

    def extra_repr(self) -> str:
        return f"{self.cell_name}, input_size={self.input_size}, hidden_size={self.hidden_size}"


def _initial(layer: CustomRecurrent, x: Tensor, given) -> State:
    state = initial_state(layer.cell_name, x, layer.hidden_size, layer.state_size, given)
    return zero_state(x, layer.hidden_size, layer.state_size) if state is None else state
