"""What torch's profiler says a timed step ran (`bench run --profile`): kernels or operators, host calls.

The explanation behind a ratio: how many device kernels a step launches and where its device
time goes (on a CPU, the ATen operators and their CPU time instead), and which host calls hold it.
"""

from __future__ import annotations

import time
from typing import Any, Callable

PROFILE_TOP = 6  # kernels (or operators) listed per profiled step, by time


def profile_steps(step: Callable[[], Any], steps: int, sync: Callable[[Any], None], on_gpu: bool) -> dict[str, Any]:
    """What `steps` calls of `step` ran, per step: kernels (CUDA) or ATen ops (CPU), their time, the top ones."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if on_gpu else [])
    sync(None)
    with profile(activities=activities) as prof:
        start = time.perf_counter()
        for _ in range(steps):
            sync(step())
        wall_s = time.perf_counter() - start
    averages = prof.key_averages()
    if on_gpu:
        events = device_kernels(averages, DeviceType.CUDA)
        seconds = {e.key: e.self_device_time_total * 1e-6 for e in events}
    else:  # leaf operators only: a parent's self time is what its children did not take
        events = [e for e in averages if e.key.startswith("aten::") and e.self_cpu_time_total > 0]
        seconds = {e.key: e.self_cpu_time_total * 1e-6 for e in events}
    counts = {e.key: e.count for e in events}
    top = sorted(seconds, key=seconds.get, reverse=True)[:PROFILE_TOP]
    return {"steps": steps, "what": "CUDA kernels" if on_gpu else "ATen operators (CPU time)",
            "launches_per_step": sum(counts.values()) / steps,
            "time_per_step_s": sum(seconds.values()) / steps,
            "top": [{"name": name[:120], "calls_per_step": counts[name] / steps,
                     "time_per_step_s": seconds[name] / steps} for name in top],
            # the host's side of the same steps: where a step's wall time goes when the device is idle
            "wall_per_step_s": wall_s / steps,  # under the profiler, which adds its own overhead
            "host_top": host_calls(averages, DeviceType.CPU, steps)}


def host_calls(averages, cpu, steps: int) -> list[dict[str, Any]]:
    """The host-side calls that took the most CPU time per step, inclusive of what they called.

    Inclusive times nest (an optimizer step contains its foreach ops), so they do not add
    up; they say which part of a step (the loss, the backward call, the optimizer, a CUDA
    graph launch) holds the host.
    """
    calls = sorted((e for e in averages if e.device_type == cpu and not e.key.startswith("ProfilerStep")),
                   key=lambda e: e.cpu_time_total, reverse=True)
    return [{"name": e.key[:120], "calls_per_step": e.count / steps, "time_per_step_s": e.cpu_time_total * 1e-6 / steps}
            for e in calls[:PROFILE_TOP]]


def device_kernels(averages, device_type) -> list:
    """The profiler's rows for kernels on `device_type`.

    A user annotation (e.g. "Optimizer.step#Adam.step") is listed as a device row too; its
    span covers kernels that have rows of their own, so counting it would count them twice.
    """
    return [e for e in averages if e.device_type == device_type and not getattr(e, "is_user_annotation", False)]
