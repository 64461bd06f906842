"""Run a registered cell's layer in one framework on NumPy inputs: outputs, final state, gradients, count.

Each framework is imported only when asked for, so a torch-only cell is checked where Keras
is not installed. What an implementation returns is checked here (shape, dtype, finiteness),
so a wrong result gets a message naming it rather than a broadcasting error further on.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass

import numpy as np

from bench.plan.modes import Mode

FRAMEWORK_PACKAGES = {"torch": "torch", "keras": "keras"}  # what must be installed for each framework


class ImplementationError(ValueError):
    """An implementation returned something of the wrong shape, dtype or rank."""


@dataclass(frozen=True)
class LayerRun:
    """What one layer computed for one set of canonical weights and inputs."""

    outputs: np.ndarray  # (B, T, H)
    final_state: tuple[np.ndarray, ...]  # each (B, H)
    d_x: np.ndarray | None  # gradient of sum(d_outputs * outputs) with respect to the inputs
    d_weights: dict[str, np.ndarray] | None  # ... and to each canonical weight
    param_count: int  # the framework's own count of the layer's parameters


def installed(framework: str) -> bool:
    return importlib.util.find_spec(FRAMEWORK_PACKAGES[framework]) is not None


def run_layer(framework: str, name: str, weights: dict[str, np.ndarray], x: np.ndarray,
              d_outputs: np.ndarray | None = None, initial_state: tuple[np.ndarray, ...] | None = None,
              compiled: Mode | None = None) -> LayerRun:
    """Build cell `name` in `framework`, load `weights`, run `x` (float32); gradients when d_outputs is given.

    `compiled` (a torch mode, hand-written cells): run the layer as that mode does, its time loop and
    torch.compile's arguments the mode's, so what is checked is what the mode times.
    """
    hidden = d_outputs.shape[2] if d_outputs is not None else None
    if compiled is not None:
        return _run_torch_compiled(name, weights, x.astype(np.float32), d_outputs, initial_state, hidden, compiled)
    runner = _run_torch if framework == "torch" else _run_keras
    return runner(name, weights, x.astype(np.float32), d_outputs, initial_state, hidden)


def run_torch_float64(name: str, weights: dict[str, np.ndarray], x: np.ndarray, d_outputs: np.ndarray) -> LayerRun:
    """The torch layer's eager loop in float64: what its float32 runs (loop and compiled scan) are measured from."""
    weights = {key: np.asarray(value, np.float64) for key, value in weights.items()}
    return _run_torch(name, weights, np.asarray(x, np.float64), np.asarray(d_outputs, np.float64), None,
                      d_outputs.shape[2], dtype=np.float64)


def _torch_layer(name, weights, x, initial_state, hidden, dtype=np.float32):
    """(layer of `name` in `dtype` loaded with `weights`, its hidden size, the initial state as tensors or None)."""
    import torch

    import cells_torch
    from bench.cells import get_spec

    hidden = hidden or get_spec(name).hidden_size_of(weights, x.shape[2])
    layer = cells_torch.make_layer(name, x.shape[2], hidden).to(getattr(torch, np.dtype(dtype).name))
    layer.set_canonical(weights)
    initial = None if initial_state is None else tuple(torch.from_numpy(np.asarray(s, dtype))
                                                       for s in initial_state)
    return layer, hidden, initial


def _run_torch(name, weights, x, d_outputs, initial_state, hidden, dtype=np.float32) -> LayerRun:
    import torch

    from cells_torch.gradients import canonical_gradients

    layer, hidden, initial = _torch_layer(name, weights, x, initial_state, hidden, dtype)
    with torch.no_grad():
        outputs, final = layer(torch.from_numpy(x), initial)
    final = (final,) if isinstance(final, torch.Tensor) else tuple(final)
    outputs, final = _checked("torch", name, outputs, final, x.shape, hidden, dtype)  # before gradients use them
    d_x = d_weights = None
    if d_outputs is not None:
        d_x, d_weights = canonical_gradients(layer, x, d_outputs.astype(dtype), weights)
    return LayerRun(outputs=outputs, final_state=final, d_x=d_x, d_weights=d_weights,
                    param_count=sum(p.numel() for p in layer.parameters()))


def _run_torch_compiled(name, weights, x, d_outputs, initial_state, hidden, mode: Mode) -> LayerRun:
    """The layer as torch's `mode` runs it (compiled_scan: its loop as the scan operator), static and from a clean slate.

    Dynamo remembers each shape a function was compiled for: the next compile turns shape-generic, whose scan
    lowering in torch 2.13 computes wrong gradients (garbage input gradients at T 1024 after a compile at the
    checker's small shapes), and after eight shapes it quietly runs eager. Inductor keeps what it compiled, on
    disk and in memory, and a job's timed compile would find the gate's kernels there. So each check compiles
    after a reset, in a cache of its own, and clears both after: the job's own compile is as cold as in a
    process that checked nothing.
    """
    import torch
    import torch._functorch.config
    from torch._inductor.utils import clear_caches, fresh_cache

    torch._dynamo.reset()
    try:
        # buffer donation as the mode's job sets it (bench.plan.modes.Mode.donated_buffers)
        with fresh_cache(), torch._functorch.config.patch(donated_buffer=mode.donated_buffers):
            return _compiled_run(name, weights, x, d_outputs, initial_state, hidden, mode)
    finally:
        torch._dynamo.reset()
        clear_caches()


def _compiled_run(name, weights, x, d_outputs, initial_state, hidden, mode: Mode) -> LayerRun:
    import torch

    layer, hidden, initial = _torch_layer(name, weights, x, initial_state, hidden)
    layer.set_time_loop(mode.time_loop, mode.scan_unroll)  # parameters = canonical weights
    compiled = torch.compile(layer, **{"fullgraph": True, **mode.torch_compile_kwargs()})
    x_t = torch.from_numpy(x).requires_grad_(d_outputs is not None)
    outputs, final = compiled(x_t, initial)
    final = (final,) if isinstance(final, torch.Tensor) else tuple(final)
    checked, checked_final = _checked("torch", name, outputs, final, x.shape, hidden)
    d_x = d_weights = None
    if d_outputs is not None:
        (outputs * torch.from_numpy(d_outputs.astype(np.float32))).sum().backward()
        d_x = x_t.grad.numpy()
        d_weights = {key: param.grad.numpy() for key, param in layer.named_parameters()}
    return LayerRun(outputs=checked, final_state=checked_final, d_x=d_x, d_weights=d_weights,
                    param_count=sum(p.numel() for p in layer.parameters()))


def _run_keras(name, weights, x, d_outputs, initial_state, hidden) -> LayerRun:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow" if importlib.util.find_spec("tensorflow") else "jax")
    import keras

    import cells_tf
    from bench.cells import get_spec
    from cells_tf.gradients import canonical_gradients

    spec = get_spec(name)
    hidden = hidden or spec.hidden_size_of(weights, x.shape[2])
    layer = cells_tf.make_layer(name, x.shape[2], hidden, return_state=True)
    layer.set_canonical(weights)
    initial = None if initial_state is None else [np.asarray(s, np.float32) for s in initial_state]
    outputs, *final = layer(x, initial_state=initial)
    as_numpy = keras.ops.convert_to_numpy
    outputs, final = _checked("keras", name, as_numpy(outputs), [as_numpy(s) for s in final], x.shape, hidden)
    d_x = d_weights = None
    if d_outputs is not None:
        d_x, d_weights = canonical_gradients(layer, x, d_outputs.astype(np.float32))
    return LayerRun(outputs=outputs, final_state=final, d_x=d_x, d_weights=d_weights,
                    param_count=int(layer.count_params()))


def _numpy(value, framework: str, name: str, dtype=np.float32) -> np.ndarray:
    if hasattr(value, "detach"):  # torch (a compiled layer's outputs may still require grad)
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype != dtype:
        wanted = np.dtype(dtype).name
        raise ImplementationError(f"{framework} {name} returned {array.dtype} values from {wanted} inputs and "
                                  f"weights; return {wanted} (the dtype of the inputs)")
    return array


def _checked(framework: str, name: str, outputs, final, x_shape, hidden: int, dtype=np.float32):
    """Outputs and final state as NumPy arrays of the inputs' dtype and the expected shapes, or an ImplementationError."""
    outputs = _numpy(outputs, framework, name, dtype)
    final = tuple(_numpy(state, framework, name, dtype) for state in final)
    expected = (x_shape[0], x_shape[1], hidden)
    if outputs.shape != expected:
        raise ImplementationError(f"{framework} {name} returned outputs of shape {outputs.shape} for inputs "
                                  f"(batch {expected[0]}, time {expected[1]}); expected (batch, time, hidden) = "
                                  f"{expected}")
    for state in final:
        if state.shape != (expected[0], hidden):
            raise ImplementationError(f"{framework} {name} returned a final state of shape {state.shape}; expected "
                                      f"(batch, hidden) = {(expected[0], hidden)}")
    return outputs, final
