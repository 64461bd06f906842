"""Step-time micro-benchmarks for pytest-benchmark: every cell, framework and mode, forward and train.

They time the very step functions the harness times (the runners' adapters), at a small
shape, in this process. pyproject's `--benchmark-disable` makes a normal test run call
each step once, as a smoke test; to measure, save and compare:

    pytest tests/test_benchmarks.py --benchmark-enable --benchmark-autosave
    pytest tests/test_benchmarks.py --benchmark-enable --benchmark-compare --benchmark-compare-fail=median:15%

Compiled modes (torch.compile, Keras XLA) compile for seconds to tens of seconds per
cell, so they only run with --benchmark-enable.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import keras
import numpy as np
import pytest
import torch

from bench.cells import implemented_in, get_spec, list_cells
from bench.plan.jobs import Job, freeze_options
from bench.run.runners.common import random_batch, timing_problem
from bench.plan.shapes import get_shape

SHAPE = "digits"  # B32 x T8 x I8, H32: small enough that a disabled run stays fast
HIDDEN, BATCH = 32, 32
WARMUP_CALLS = 3  # untimed calls before pytest-benchmark's rounds: compilation and caches settle here
THREADS = 1  # one intra-op thread, as the regress suite times: steadier on a shared machine
KERAS_BACKEND = keras.backend.backend()
MODES = {"torch": ("eager", "compiled"), "keras": ("graph", "xla", "eager") if KERAS_BACKEND == "tensorflow"
         else ("xla", "eager")}
COMPILED = {"compiled", "xla"}  # modes whose first call compiles: skipped when benchmarks are disabled
CASES = [(framework, mode, cell) for framework, modes in MODES.items() for mode in modes for cell in list_cells()
         if framework in implemented_in(cell)]  # a plugin cell may be in one framework only


@functools.lru_cache(maxsize=None)
def _adapter(framework: str, mode: str, cell: str) -> tuple[Any, Any]:
    """(adapter, batch) of one job, built once and shared by its forward and train benchmarks."""
    shape = get_shape(SHAPE)
    job = Job(cell=cell, framework=framework, backend="torch" if framework == "torch" else KERAS_BACKEND, mode=mode,
              device="cpu", task=SHAPE, measure="timing", hidden_size=HIDDEN, batch_size=BATCH,
              seq_len=shape.seq_len, input_size=shape.input_size, warmup_steps=WARMUP_CALLS, timed_steps=1,
              task_options=freeze_options({"loss": shape.loss, "num_outputs": shape.num_outputs}))
    problem = timing_problem(job)
    if framework == "torch":
        from bench.run.runners.torch_runner import TorchAdapter
        torch.manual_seed(job.seed)
        adapter = TorchAdapter(job, problem)
    else:
        from bench.run.runners.keras_runner import KerasAdapter
        keras.utils.set_random_seed(job.seed)
        adapter = KerasAdapter(job, problem)
    return adapter, random_batch(job, problem)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    yield
    torch.set_num_threads(before)


def _run(benchmark, framework: str, mode: str, cell: str, kind: str) -> None:
    if mode in COMPILED and benchmark.disabled:
        pytest.skip(f"{mode} compiles for seconds per cell; runs with --benchmark-enable")
    adapter, batch = _adapter(framework, mode, cell)
    make: Callable[[Any], Callable[[], Any]] = adapter.timed_train_step if kind == "train" else adapter.timed_infer_step
    raw = make(batch)

    def step() -> Any:
        result = raw()
        adapter.sync(result)  # the device has finished this step before the clock stops
        return result

    if not benchmark.disabled:
        for _ in range(WARMUP_CALLS):
            step()
    spec = get_spec(cell)
    benchmark.group = f"{framework}-{mode}-{kind}"
    benchmark.extra_info.update({"cell": cell, "native": spec.native, "native_baseline": spec.baseline,
                                 "shape": f"B{BATCH} T{batch.x.shape[1]} I{batch.x.shape[2]} H{HIDDEN}",
                                 "threads": THREADS, "backend": KERAS_BACKEND if framework == "keras" else "torch"})
    result = benchmark(step)
    if kind == "train":  # a training step returns its loss: it must be a finite number
        value = float(result.item() if isinstance(result, torch.Tensor) else np.asarray(result).ravel()[0])
        assert np.isfinite(value), f"{cell} {framework}-{mode}: training loss {value}"
    else:
        assert tuple(result.shape) == (BATCH, get_shape(SHAPE).num_outputs)


@pytest.mark.parametrize("framework, mode, cell", CASES, ids=[f"{f}-{m}-{c}" for f, m, c in CASES])
def test_forward(benchmark, framework, mode, cell):
    _run(benchmark, framework, mode, cell, "forward")


@pytest.mark.parametrize("framework, mode, cell", CASES, ids=[f"{f}-{m}-{c}" for f, m, c in CASES])
def test_train_step(benchmark, framework, mode, cell):
    _run(benchmark, framework, mode, cell, "train")
