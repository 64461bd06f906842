"""torch mode compiled_step_graph: a whole training step captured as one CUDA graph (bench.run.runners.step_graph).

The capture needs CUDA; what it relies on, putting the model and Adam back after the
warm-up runs, is tested here on any machine. The CUDA tests compare the replayed steps
with eager steps from the same initial weights, for every registered cell, and run one
paired timing job end to end; they skip without a CUDA device.
"""

from __future__ import annotations

import contextlib
from types import SimpleNamespace

import pytest
import torch

from bench.cells import implemented_in, list_cells
from bench.plan.jobs import Axes, expand
from bench.run.runners.common import timing_problem
from bench.run.runners.batches import random_batch
from bench.run.runners.step_graph import training_state_restored
from bench.run.runners.torch_runner import TorchAdapter
from bench.records.typed import record_json
from bench.run.worker import run_in_process

GRAPH_VS_EAGER_RTOL = 1e-4  # compiled-and-replayed vs eager float32 after a few Adam steps (kernels round differently)
GRAPH_VS_EAGER_ATOL = 1e-5
STEPS_COMPARED = 4  # training steps replayed and compared with eager ones
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device")


@pytest.fixture(autouse=True)
def _keep_torch_threads_and_start_compiling_afresh():
    """Adapters' jobs set torch's thread count; give the test session its own back.

    And forget earlier tests' compiled graphs: after a few models of one class torch.compile
    stops compiling that class's forward and runs it eagerly, which would test nothing here.
    """
    before = torch.get_num_threads()
    torch.compiler.reset()
    yield
    torch.set_num_threads(before)


def _job(cell: str, mode: str, device: str):
    (job,) = expand(Axes(tasks=("mnist",), measure="timing", cells=(cell,), frameworks=("torch",), modes=(mode,),
                         device=device, hidden_sizes=(8,), batch_sizes=(4,), seq_len=5, input_size=3, seeds=(7,)))
    return job


def _adapter_and_batch(cell: str, mode: str, device: str):
    job = _job(cell, mode, device)
    problem = timing_problem(job)
    torch.manual_seed(job.seed)
    return TorchAdapter(job, problem), random_batch(job, problem)


def _stand_in_for_cuda_graphs(monkeypatch, graph_class, capture) -> None:
    """torch.cuda's streams and graph replaced by stand-ins that run the code as is (the real ones need CUDA)."""
    stream = SimpleNamespace(wait_stream=lambda other: None)
    for name, fake in {"Stream": lambda: stream, "current_stream": lambda: stream, "CUDAGraph": graph_class,
                       "stream": lambda s: contextlib.nullcontext(), "graph": capture}.items():
        monkeypatch.setattr(torch.cuda, name, fake)


def _snapshot(adapter: TorchAdapter) -> list[torch.Tensor]:
    return [p.detach().clone() for p in adapter.model.parameters()]


def test_warm_up_steps_leave_the_model_and_a_fresh_adam_as_they_were():
    adapter, batch = _adapter_and_batch("gru0", "eager", "cpu")
    before, storage = _snapshot(adapter), [p.data_ptr() for p in adapter.model.parameters()]
    step = adapter.timed_train_step(batch)
    with training_state_restored(adapter.model, adapter.optimizer):
        for _ in range(3):
            step()
        assert not all(torch.equal(a, b) for a, b in zip(before, _snapshot(adapter)))  # the steps did train
    assert all(torch.equal(a, b) for a, b in zip(before, _snapshot(adapter)))
    assert [p.data_ptr() for p in adapter.model.parameters()] == storage  # in place: a graph holds these addresses
    state = [v for s in adapter.optimizer.state.values() for v in s.values() if torch.is_tensor(v)]
    assert state and all(not v.any() for v in state)  # the step count and moments Adam made are zero again

    # and a zeroed Adam steps exactly as a new one does: the next step is a new model's first
    step()
    fresh, _ = _adapter_and_batch("gru0", "eager", "cpu")
    assert all(torch.equal(a, b) for a, b in zip(before, _snapshot(fresh)))  # same seed, same initial weights
    fresh.timed_train_step(batch)()
    assert all(torch.equal(a, b) for a, b in zip(_snapshot(adapter), _snapshot(fresh)))


def test_state_that_existed_before_is_put_back_not_zeroed():
    adapter, batch = _adapter_and_batch("lstm", "eager", "cpu")
    step = adapter.timed_train_step(batch)
    step()  # Adam has its state now

    def adam_state():  # every parameter's step count and moments, in order
        return [(name, value) for state in adapter.optimizer.state.values() for name, value in state.items()]

    state_before = [(name, value.clone()) for name, value in adam_state()]
    with training_state_restored(adapter.model, adapter.optimizer):
        step()
    state_after = adam_state()
    assert len(state_after) == len(state_before) == 3 * len(list(adapter.model.parameters()))
    assert all(value.item() == 1 for name, value in state_after if name == "step")
    assert all(a == c and torch.equal(b, d) for (a, b), (c, d) in zip(state_before, state_after))


def test_graphed_runs_the_recipe_warm_up_then_one_capture_and_replays_after(monkeypatch):
    """The control flow only, with stand-ins for torch.cuda's streams and graph (the real ones need CUDA)."""
    from bench.run.runners import step_graph

    captures: list[str] = []

    class FakeGraph:
        def replay(self):
            captures.append("replay")

    @contextlib.contextmanager
    def capture(graph):
        captures.append("capture")
        yield

    _stand_in_for_cuda_graphs(monkeypatch, FakeGraph, capture)
    adapter, batch = _adapter_and_batch("mgu", "eager", "cpu")
    before, step = _snapshot(adapter), adapter.timed_train_step(batch)
    calls = []
    replay = step_graph.graphed(lambda: calls.append(1) or step(), adapter.model, adapter.optimizer)
    assert len(calls) == step_graph.RUNS_BEFORE_CAPTURE + 1 and captures == ["capture"]
    assert all(torch.equal(a, b) for a, b in zip(before, _snapshot(adapter)))
    out = replay()
    assert captures == ["capture", "replay"] and replay() is out and len(calls) == step_graph.RUNS_BEFORE_CAPTURE + 1


def test_a_step_a_graph_cannot_hold_fails_with_what_to_do(monkeypatch):
    from bench.run.runners import step_graph

    @contextlib.contextmanager
    def refusing_capture(graph):
        yield
        raise RuntimeError("operation not permitted when stream is capturing")

    _stand_in_for_cuda_graphs(monkeypatch, object, refusing_capture)
    adapter, batch = _adapter_and_batch("rnn", "eager", "cpu")
    before = _snapshot(adapter)
    with pytest.raises(RuntimeError, match="not permitted when stream is capturing.*compiled_cudagraphs mode"):
        step_graph.graphed(adapter.timed_train_step(batch), adapter.model, adapter.optimizer)
    assert all(torch.equal(a, b) for a, b in zip(before, _snapshot(adapter)))  # the warm-up's changes undone


@needs_cuda
@pytest.mark.parametrize("cell", [cell for cell in list_cells() if "torch" in implemented_in(cell)])
def test_replayed_steps_train_as_eager_steps_do(cell):
    graphed, batch = _adapter_and_batch(cell, "compiled_step_graph", "cuda")
    eager, _ = _adapter_and_batch(cell, "eager", "cuda")
    assert all(torch.equal(a, b) for a, b in zip(_snapshot(graphed), _snapshot(eager)))  # same initial weights
    graph_step, eager_step = graphed.timed_train_step(batch), eager.timed_train_step(batch)
    graphs_before = graphed.compile_count()
    outputs = []
    for _ in range(STEPS_COMPARED):
        loss = graph_step()
        outputs.append(loss)
        torch.testing.assert_close(loss, eager_step(), rtol=GRAPH_VS_EAGER_RTOL, atol=GRAPH_VS_EAGER_ATOL)
    assert graphed.compile_count() > graphs_before  # torch.compile compiled it, rather than falling back to eager
    # a replay, not a new run: every step returns the same output tensor, overwritten in place
    assert all(out is outputs[0] for out in outputs)
    for mine, theirs in zip(_snapshot(graphed), _snapshot(eager)):
        torch.testing.assert_close(mine, theirs, rtol=GRAPH_VS_EAGER_RTOL, atol=GRAPH_VS_EAGER_ATOL)
    infer_step = graphed.timed_infer_step(batch)
    torch.testing.assert_close(infer_step(), eager.timed_infer_step(batch)(),
                               rtol=GRAPH_VS_EAGER_RTOL, atol=GRAPH_VS_EAGER_ATOL)
    compiled = graphed.compile_count()
    graph_step(), infer_step()
    assert graphed.compile_count() == compiled  # replays compile nothing


@needs_cuda
def test_a_paired_timing_job_runs_both_sides_as_graphs():
    record = record_json(run_in_process(_job("gru0", "compiled_step_graph", "cuda"), threads=2))
    assert record["status"] == "ok", record["error"]
    timing = record["timing"]
    assert timing["native"]["cell"] == "gru4" and timing["paired_ratio"]["train_step"]["n"] > 0
    assert timing["compiled_graphs"]["while_timed"] == 0
