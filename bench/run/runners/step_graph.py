"""A whole step captured once as one CUDA graph and replayed: torch mode "compiled_step_graph".

In `compiled_cudagraphs` mode only the model's forward and backward are graphs; the loss,
the backward call, Adam and the graphs' own bookkeeping still run in Python every step,
and on the H100 that host time, not the GPU's, set the step time (reports/gpu-h100). Here
the whole training step (forward, loss, backward and a capturable Adam) is one graph, as in
PyTorch's whole-network capture recipe, so a replay costs the host one launch and the step
time is the GPU's work: the cell's, next to cuDNN's.

The recipe: run the step a few times on a side stream (torch.compile compiles, cuDNN
picks its algorithms, Adam creates its state), then capture one step. Those warm-up steps
change the weights, so the model and the optimizer are put back as they were before the
first replay, in place, because the graph holds the tensors' addresses.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator

import torch

RUNS_BEFORE_CAPTURE = 3  # the recipe's warm-up runs on a side stream before capturing


def graphed(body: Callable[[], torch.Tensor], model: torch.nn.Module,
            optimizer: torch.optim.Optimizer) -> Callable[[], torch.Tensor]:
    """`body` captured as one CUDA graph; returns a function that replays it and returns body's output tensor.

    A training `body` must begin with zero_grad(set_to_none=True) (the adapter's step
    does): that launches no kernel, so backward allocates the gradients inside the graph
    and every replay writes them afresh instead of adding to the last ones. The tensors
    `body` reads are the graph's inputs: a replay reads whatever they hold then. On
    return the model and the optimizer hold what they held on entry.
    """
    with training_state_restored(model, optimizer):
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(RUNS_BEFORE_CAPTURE):
                body()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                output = body()
        except torch.OutOfMemoryError:
            raise  # recorded as out of memory, like any other
        except RuntimeError as err:
            raise RuntimeError(
                f"capturing the step as one CUDA graph failed (it ran fine before capture): {err}. Something in "
                "the step cannot live in a graph: a copy to the host, a CPU tensor, a shape that depends on the "
                "data. Time this cell in compiled_cudagraphs mode instead, which leaves such steps out of "
                "its graphs") from err

    def replay() -> torch.Tensor:
        graph.replay()
        return output
    return replay


def captured_on_first_call(make: Callable[[], Callable[[], torch.Tensor]]) -> Callable[[], torch.Tensor]:
    """A step that builds its graph (`make`) on its first call, so the harness times that as the compile cost."""
    replay: Callable[[], torch.Tensor] | None = None

    def step() -> torch.Tensor:
        nonlocal replay
        if replay is None:
            replay = make()
        return replay()
    return step


@contextlib.contextmanager
def training_state_restored(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> Iterator[None]:
    """On exit, every parameter, buffer and optimizer-state tensor holds its value from entry, in place.

    Optimizer state created inside (Adam's step count and moments, made by its first step)
    is zeroed, which is Adam's fresh state. Gradients are not state: a training step
    starts from none.
    """
    saved = [(tensor, tensor.detach().clone()) for tensor in _state_tensors(model, optimizer)]
    kept = {id(tensor) for tensor, _ in saved}
    try:
        yield
    finally:
        with torch.no_grad():
            for tensor, value in saved:
                tensor.copy_(value)
            for tensor in _state_tensors(model, optimizer):
                if id(tensor) not in kept:
                    tensor.zero_()


def _state_tensors(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    tensors = [*model.parameters(), *model.buffers()]
    for state in optimizer.state.values():
        tensors.extend(value for value in state.values() if torch.is_tensor(value))
    return tensors
