"""The PyTorch runner: a `ModelAdapter` around cells_torch.make_model and torch.optim.Adam.

The job's mode (bench.plan.modes) says how the model runs: as written, or through torch.compile with the
mode's arguments and time loop. The loss and the optimizer step stay outside the compiled module, so
the modes differ only in how the model's forward and backward run, except a mode that captures the
whole step, loss and Adam included, as one CUDA graph (bench.run.runners.step_graph). Every compile is
static (`dynamic=False`): a job runs one shape, and torch 2.13's shape-generic scan lowering computes
wrong gradients (bench.correctness.frameworks).
"""

from __future__ import annotations

import time
import types
from typing import Any, Callable

import numpy as np
import torch
import torch._functorch.config
import torch.nn.functional as F

import cells_torch
from cells_torch import CustomRecurrent
from bench.cells import get_spec
from bench.records.environment import torch_environment
from bench.plan.jobs import Job
from bench.records.schema import Record
from bench.plan.modes import Mode
from bench.run.runners.batches import Batch
from bench.run.runners.common import EMBEDDING_DIM, peak_rss, run_job
from bench.run.runners.measure import PHASES
from bench.run.runners.metrics import Problem
from bench.run.runners.torch_profile import profile_steps
from bench.run.runners.step_graph import captured_on_first_call, graphed
from bench.run.runners.torch_adam import KerasEpsilonAdam


def setup(job: Job, threads: int) -> dict[str, Any]:
    """Threads and seeds, before anything runs; returns the environment facts to record."""
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(max(1, min(threads, 2)))
    except RuntimeError:  # already set once parallel work started; keep torch's value
        pass
    torch.manual_seed(job.seed)
    set_float32_precision(job.float32)
    if job.device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("the job asks for --device cuda but torch sees no CUDA device "
                           f"(torch {torch.__version__}, built for CUDA {torch.version.cuda})")
    return torch_environment(job.device)


def compiled_forward(model: torch.nn.Module, mode: Mode) -> Callable[..., Any]:
    """The model's forward as `mode` runs it: as written, or through torch.compile with the mode's arguments."""
    if mode.compiler == "none":
        return model
    # set for every compiled job, so a process that serves several jobs does not carry one mode's choice into
    # the next; AOT autograd reads it when the first call compiles
    torch._functorch.config.donated_buffer = mode.donated_buffers
    kwargs = mode.torch_compile_kwargs()
    if mode.time_loop != "python":
        layers = [layer for layer in model.recurrent_layers if isinstance(layer, CustomRecurrent)]
        for layer in layers:  # a cell with its own `sequence` keeps it
            layer.set_time_loop(mode.time_loop, mode.scan_unroll)
        # a scan compiles as one whole graph: compiled in pieces, torch 2.13's Inductor fails to lower it
        # (DataDependentOutputException in decompose_scan_to_while_loop); the native layers, which
        # Dynamo does not trace (nn.GRU/LSTM/RNN), compile as in `compiled`
        kwargs.setdefault("fullgraph", bool(layers))
    return torch.compile(own_forward(model), **kwargs)


def make_optimizer(parameters, job: Job, capturable: bool = False) -> torch.optim.Optimizer:
    """Adam at the job's learning rate: torch's own, or with job.adam_epsilon "keras" Keras's step
    (bench.run.runners.torch_adam); `capturable` for CUDA-graph capture (torch's own Adam only)."""
    if job.adam_epsilon == "keras":
        return KerasEpsilonAdam(parameters, lr=job.lr)
    return torch.optim.Adam(parameters, lr=job.lr, capturable=capturable)


def own_forward(model: torch.nn.Module) -> Callable[..., Any]:
    """`model.forward` bound to a code object of its own, for torch.compile.

    Dynamo keeps what it compiled, and its decision to run a frame eagerly, per code object. The
    paired native model shares the custom model's class: where Dynamo meets nn.GRU inside the time
    loop it gives up on that frame for good, and the custom model, called next, would run its forward
    eagerly with only its layer compiled, compiling that again (20 s at T 28 on two cores) and timing a
    graph other than the one primed. A copy of the code per model keeps the two apart.
    """
    function = type(model).forward
    copy = types.FunctionType(function.__code__.replace(), function.__globals__, function.__name__,
                              function.__defaults__, function.__closure__)
    copy.__kwdefaults__ = function.__kwdefaults__
    return types.MethodType(copy, model)


class TorchAdapter:
    """One model, its optimizer and its compiled form, on the job's device."""

    def __init__(self, job: Job, problem: Problem) -> None:
        self.job, self.problem = job, problem
        self.device = torch.device(job.device)
        self.model = cells_torch.make_model(
            job.cell, problem.input_size if problem.vocab_size is None else None, job.hidden_size,
            num_layers=job.num_layers, bidirectional=job.bidirectional, head=problem.head,
            num_outputs=problem.num_outputs, vocab_size=problem.vocab_size, embedding_dim=EMBEDDING_DIM,
            init=job.init, seed=job.seed, native_bias=job.native_bias).to(self.device)
        self.mode = job.execution
        self.step_graph = self.mode.captures_step
        # a captured Adam step keeps its step count on the device and never reads it back to the host
        self.optimizer = make_optimizer(self.model.parameters(), job, capturable=self.step_graph)
        self.forward = compiled_forward(self.model, self.mode)
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)

    # -- data --------------------------------------------------------------------------------
    def _to_device(self, batch: Batch):
        x = torch.from_numpy(np.ascontiguousarray(batch.x)).to(self.device)
        y = torch.from_numpy(np.ascontiguousarray(batch.y)).to(self.device)
        lengths = None if batch.lengths is None else torch.from_numpy(batch.lengths).to(self.device)
        weights = None if batch.weights is None else torch.from_numpy(batch.weights).to(self.device)
        return x, y, lengths, weights

    def _loss(self, out: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
        data_loss = self._data_loss(out, y, weights)
        if not self.job.weight_decay:
            return data_loss
        # as Keras's L2 regularizer: λ·Σw² per weight matrix, in the loss (not Adam's or AdamW's decay)
        return data_loss + self.job.weight_decay * sum(p.pow(2).sum() for p in self.model.parameters() if p.ndim >= 2)

    def _data_loss(self, out: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
        loss = self.problem.loss
        if loss == "cross_entropy":
            return F.cross_entropy(out, y)
        target = y.to(out.dtype).reshape(out.shape)
        if loss == "bce":
            per_elem = F.binary_cross_entropy_with_logits(out, target, reduction="none")
        elif loss == "sigmoid_mse":
            per_elem = (torch.sigmoid(out) - target) ** 2
        else:
            per_elem = (out - target) ** 2
        per_item = per_elem.mean(dim=-1)
        if weights is None:
            return per_item.mean()
        return (per_item * weights).sum() / weights.sum().clamp(min=1.0)  # masked mean, as in Keras

    def _step_fn(self, x, y, lengths, weights, marks: list[float] | None = None) -> Callable[[], torch.Tensor]:
        """The training step; with `marks`, it appends the host clock after each phase but the last (phase_times)."""
        mark = self.mode.marks_cudagraph_steps
        tick = (lambda: marks.append(time.perf_counter())) if marks is not None else _no_tick

        def step() -> torch.Tensor:
            if mark:  # a new CUDA-graph step: outputs of the previous replay may be overwritten
                torch.compiler.cudagraph_mark_step_begin()
            self.optimizer.zero_grad(set_to_none=True)
            tick()
            out = self.forward(x, lengths)
            tick()
            loss = self._loss(out, y, weights)
            tick()
            loss.backward()
            tick()
            self.optimizer.step()
            return loss.detach()
        return step

    def _infer_fn(self, x, lengths) -> Callable[[], torch.Tensor]:
        mark = self.mode.marks_cudagraph_steps

        def infer() -> torch.Tensor:
            # the module stays in training mode: the models have no dropout or batch norm, so both
            # modes compute the same, and flipping the flag makes torch.compile compile again
            if mark:
                torch.compiler.cudagraph_mark_step_begin()
            with torch.no_grad():
                return self.forward(x, lengths)
        return infer

    # -- ModelAdapter ------------------------------------------------------------------------
    def train_step(self, batch: Batch) -> float:
        return float(self._step_fn(*self._to_device(batch))())

    def predict(self, batch: Batch) -> np.ndarray:
        x, _, lengths, _ = self._to_device(batch)
        return self._infer_fn(x, lengths)().float().cpu().numpy()

    def timed_train_step(self, batch: Batch) -> Callable[[], Any]:
        return self._as_timed(self._step_fn(*self._to_device(batch)))

    def timed_infer_step(self, batch: Batch) -> Callable[[], Any]:
        x, _, lengths, _ = self._to_device(batch)
        return self._as_timed(self._infer_fn(x, lengths))

    def _as_timed(self, step: Callable[[], torch.Tensor]) -> Callable[[], torch.Tensor]:
        """`step` as the mode times it: in compiled_step_graph mode, captured whole as one CUDA graph on first call."""
        if not self.step_graph:
            return step
        return captured_on_first_call(lambda: graphed(step, self.model, self.optimizer))

    def profile_step(self, step: Callable[[], Any], steps: int) -> dict[str, Any]:
        """What `steps` calls of `step` ran, per step (bench.run.runners.torch_profile.profile_steps)."""
        return profile_steps(step, steps, self.sync, self.device.type == "cuda")

    def phase_times(self, batch: Batch, steps: int) -> dict[str, float] | None:
        """Seconds per training step the host spent in each phase of it, in order, and then waiting.

        The timed step itself (`_step_fn`) with the host clock read between its phases; no device
        sync inside the step, as when timed, and one after it: each phase's time is how
        long the host took to issue it (on a GPU, launching kernels or a CUDA graph; on a CPU,
        doing the work), and "device_wait" is how long the host then waited for the device to
        finish. They add up to the step's wall time. A GPU step that is short on device work is
        held by the host, and this says by which phase: the forward, the loss, the backward
        call, the optimizer. Run outside the profiler, whose overhead would skew it. None in
        compiled_step_graph mode: its step is one graph replay, with no phases on the host.
        """
        if self.step_graph:
            return None
        marks: list[float] = []
        step = self._step_fn(*self._to_device(batch), marks=marks)
        totals = dict.fromkeys(PHASES, 0.0)
        for _ in range(steps):
            marks[:] = [time.perf_counter()]
            loss = step()
            marks.append(time.perf_counter())  # the optimizer's end
            self.sync(loss)
            marks.append(time.perf_counter())
            for name, begin, end in zip(PHASES, marks, marks[1:]):
                totals[name] += end - begin
        return {name: total / steps for name, total in totals.items()}

    def compile_count(self) -> int:
        """Graphs torch.compile has compiled in this process so far (a recompile while timing shows here)."""
        from torch._dynamo.utils import counters

        return int(counters["stats"]["unique_graphs"])

    def sync(self, result: Any) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def param_counts(self) -> dict[str, Any]:
        per_layer = [sum(p.numel() for p in layer.parameters()) for layer in self.model.recurrent_layers]
        return {"framework": sum(p.numel() for p in self.model.parameters()),
                "trainable": sum(p.numel() for p in self.model.parameters() if p.requires_grad),
                "recurrent": sum(per_layer), "per_layer": per_layer}

    def optimizer_facts(self) -> dict[str, Any]:
        group = self.optimizer.param_groups[0]
        keras_step = isinstance(self.optimizer, KerasEpsilonAdam)
        return {"class": type(self.optimizer).__name__, "lr": float(group["lr"]), "betas": list(group["betas"]),
                "epsilon": self.optimizer.keras_epsilon if keras_step else float(group["eps"]),
                "epsilon_added_to": "uncorrected root of v" if keras_step else "bias-corrected root of v"}

    def native_path(self, batch: Batch) -> str | None:
        if not get_spec(self.job.cell).native:
            return None
        layer = self.model.recurrent_layers[0]
        x = torch.zeros((2, batch.x.shape[1], layer.input_size), device=self.device)
        return cells_torch.native_kernel(layer, x) or "none (no fused kernel observed)"

    def peak_memory(self) -> dict[str, Any]:
        if self.device.type == "cuda":
            return {"peak_bytes": int(torch.cuda.max_memory_allocated(self.device)),
                    "kind": "torch.cuda.max_memory_allocated"}
        return peak_rss()


def _no_tick() -> None:
    """The timed step's phase clock: none."""


def set_float32_precision(precision: str) -> None:
    """torch's TF32 switches as the job's `float32` asks; "default" leaves torch's own (cuDNN TF32, matmul FP32).

    The record's environment.tf32 reads them back after this ran.
    """
    if precision != "default":
        allow = precision == "tf32"
        torch.backends.cuda.matmul.allow_tf32 = allow  # the custom cells' matrix products
        torch.backends.cudnn.allow_tf32 = allow  # the native layers (cuDNN RNN kernels)


def run(job: Job, out: Record) -> None:
    """Run `job` in this process, filling `out` (see bench.run.runners.common.run_job)."""
    run_job(job, TorchAdapter, out)
