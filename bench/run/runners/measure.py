"""Step timing inside a job: prime, take the device lock, time (paired with the native layer), profile.

`measure_steps` is what a timing job does once its model exists; bench.run.runners.common
calls it after any training. The statistics come from bench.run.timing; the lock that keeps
jobs run side by side (`bench run --parallel`) from timing at once is
bench.run.device_lock.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable

from bench.cells import get_spec
from bench.run.device_lock import LOCK_DIR_ENV, PARALLEL_ENV, device_lock, timing_cores
from bench.plan.jobs import Job
from bench.plan.modes import usual_mode
from bench.run.runners.adapter import ModelAdapter
from bench.run.runners.batches import Batch
from bench.run.timing import StepStats, time_pair, time_steps, timed_call

STEP_KINDS = ("train_step", "inference_step")  # what is timed, in this order
PROFILE_ENV = "RNNBENCH_PROFILE"  # set (by `bench run --profile`): profile each timed step after timing it
PROFILE_STEPS = 5  # steps under the profiler per kind of step
# the phases of a training step as an adapter's phase_times clocks them on the host, in order
PHASES = ("zero_grad", "forward", "loss", "backward", "optimizer", "device_wait")
PHASE_STEPS = 20  # training steps whose phases are clocked on the host (--profile), outside the profiler


def native_job(job: Job) -> Job:
    """The job of `job`'s native baseline: same framework, mode, shape, batch, seed and init."""
    return dataclasses.replace(job, cell=get_spec(job.cell).baseline, paired=False)


def usual_native_job(job: Job) -> Job | None:
    """`job`'s native baseline as users run it (its backend's usual mode); None where that is native_job's mode."""
    usual = usual_mode(job.backend).name
    return None if job.mode == usual else dataclasses.replace(native_job(job), mode=usual)


def measure_steps(adapter: ModelAdapter, job: Job, batch: Batch,
                  make_native: Callable[[], ModelAdapter] | None = None,
                  make_usual_native: Callable[[], ModelAdapter] | None = None) -> dict[str, Any]:
    """Training-step and inference-step statistics on one batch, after warm-up.

    Kind by kind (training step, then inference step), each step is first primed:
    `job.warmup_steps` untimed calls, the first one timed as the compile/trace cost
    (`first_s`, `compile_s`). Priming happens outside the device lock
    (bench.run.device_lock), so jobs run side by side with `--parallel` compile at
    the same time; the warm-up and timed steps then run holding the lock, so no other
    job's timed steps overlap them; where the executor set cores aside for timing, the
    process moves onto them for that section, away from the other jobs' compiling. The
    memory peak is read after the custom model's training step was primed and before the
    native model exists, so it is this model's alone. Where the framework can tell, the record counts the graphs compiled, and
    those compiled while the lock was held (a recompile inside the timed section).

    With `make_native` (builds the baseline's adapter in this process), each kind of
    step is timed interleaved with the native one (bench.run.timing.time_pair); the record
    then holds the native's statistics under "native" and the median of the per-pair
    ratios under "paired_ratio", which the report and the gate prefer to a ratio
    across jobs. With `make_usual_native` too (the baseline in its backend's usual mode, where
    the job's mode is another), the custom step is then timed interleaved with that one as well:
    "native_usual" and "paired_ratio_usual", the figure against the native layer as users run it.
    """
    result: dict[str, Any] = {"paired": make_native is not None}
    native: ModelAdapter | None = None
    usual: ModelAdapter | None = None
    waited, compiles = 0.0, _compile_count(adapter)
    timing_cpus: list[int] | None = None
    recompiled_while_timed = recompiled_after_priming = 0
    for name in STEP_KINDS:
        step = _step_maker(adapter, name)(batch)
        first = _prime(step, adapter.sync, job.warmup_steps)
        if "memory_alone" not in result:
            result["memory_alone"] = adapter.peak_memory()  # before the native model exists
        if make_native is not None and native is None:
            native = make_native()
            result["native"] = {"cell": get_spec(job.cell).baseline}
            result["paired_ratio"] = {"order": None}
        primed = _compile_count(adapter)
        if native is not None:
            native_step = _step_maker(native, name)(batch)
            native_first = _prime(native_step, native.sync, job.warmup_steps)
            primed = _compile_count(adapter)
            # alternate once outside the lock too: on CUDA, running the other compiled model in
            # between made torch.compile compile the first one again (20-40 s, seen on the H100)
            for _ in range(job.warmup_steps):
                adapter.sync(step())
                native.sync(native_step())
        if make_usual_native is not None and native is not None:
            if usual is None:
                usual = make_usual_native()
                result["native_usual"] = {"cell": get_spec(job.cell).baseline, "mode": usual_mode(job.backend).name}
                result["paired_ratio_usual"] = {"order": None}
            usual_step = _step_maker(usual, name)(batch)
            usual_first = _prime(usual_step, usual.sync, job.warmup_steps)
            primed = _compile_count(adapter)
        before = _compile_count(adapter)
        with device_lock(job.device) as lock, timing_cores() as cpus:
            if native is None:
                stats = time_steps(step, warmup=job.warmup_steps, repeats=job.timed_steps,
                                   batch_size=job.batch_size, sync=adapter.sync)
                result[name] = _with_first_call(stats, first).to_dict()
            else:
                pair = time_pair(step, native_step, warmup=job.warmup_steps, repeats=job.timed_steps,
                                 batch_size=job.batch_size, sync_a=adapter.sync, sync_b=native.sync)
                result[name] = _with_first_call(pair.a, first).to_dict()
                result["native"][name] = _with_first_call(pair.b, native_first).to_dict()
                result["paired_ratio"][name] = pair.ratio.to_dict() if pair.ratio else None
                result["paired_ratio"]["order"] = pair.order
            if usual is not None:
                pair = time_pair(step, usual_step, warmup=job.warmup_steps, repeats=job.timed_steps,
                                 batch_size=job.batch_size, sync_a=adapter.sync, sync_b=usual.sync)
                result["native_usual"][name] = _with_first_call(pair.b, usual_first).to_dict()
                result["paired_ratio_usual"][name] = pair.ratio.to_dict() if pair.ratio else None
                result["paired_ratio_usual"]["order"] = pair.order
            if os.environ.get(PROFILE_ENV) and hasattr(adapter, "profile_step"):
                # after the timed steps, still alone on the device; never part of the statistics
                profiles = result.setdefault("profile", {})
                profiles[name] = adapter.profile_step(step, PROFILE_STEPS)
                if native is not None:
                    profiles[f"native_{name}"] = native.profile_step(native_step, PROFILE_STEPS)
                if name == "train_step" and hasattr(adapter, "phase_times"):
                    # where the host's time goes within a training step, clocked without the profiler
                    sides = [(name, adapter)] + ([(f"native_{name}", native)] if native is not None else [])
                    for side, side_adapter in sides:
                        phases = side_adapter.phase_times(batch, PHASE_STEPS)
                        if phases is not None:  # None: a step with no phases on the host (one graph replay)
                            profiles[side]["host_phases"] = phases
        waited += lock["wait_s"]
        timing_cpus = cpus
        if before is not None:
            recompiled_while_timed += _compile_count(adapter) - before
            recompiled_after_priming += _compile_count(adapter) - primed
    if compiles is not None:
        # graphs compiled by this job; how many came after both models' steps were primed (0 unless running
        # one model's step made the other compile again), and of those while holding the lock
        result["compiled_graphs"] = {"total": _compile_count(adapter) - compiles,
                                     "after_priming": recompiled_after_priming,
                                     "while_timed": recompiled_while_timed}
    result["device_lock"] = {"used": bool(os.environ.get(LOCK_DIR_ENV)), "wait_s": waited,
                             "parallel_jobs": int(os.environ.get(PARALLEL_ENV, "1"))}
    if timing_cpus:  # the cores the timed section ran on, kept free of the other jobs (bench.run.device_lock)
        result["device_lock"]["timing_cpus"] = timing_cpus
    result["data"] = "random" if job.measure == "timing" else "first training batch"
    result["shape"] = {"batch_size": job.batch_size, "seq_len": int(batch.x.shape[1]),
                       "input_size": int(batch.x.shape[2]) if batch.x.ndim == 3 else None}
    return result


def _compile_count(adapter: ModelAdapter) -> int | None:
    """Graphs the adapter's framework has compiled so far, where it can tell (torch.compile)."""
    count = getattr(adapter, "compile_count", None)
    return count() if count is not None else None


def _prime(step: Callable[[], Any], sync: Callable[[Any], None], calls: int) -> float:
    """Run `step` `calls` times untimed except the first (compilation, tracing, CUDA-graph capture); its seconds."""
    first = timed_call(step, sync=sync)
    for _ in range(max(0, calls - 1)):
        sync(step())
    return first


def _with_first_call(stats: StepStats, first_s: float) -> StepStats:
    """`stats` with the priming call as its first call (the compile cost), not its first warm-up step."""
    return dataclasses.replace(stats, first_s=first_s, compile_s=max(0.0, first_s - stats.median_s))


def _step_maker(adapter: ModelAdapter, kind: str) -> Callable[[Batch], Callable[[], Any]]:
    return adapter.timed_train_step if kind == "train_step" else adapter.timed_infer_step
