"""`bench list`: what can be run here (cells, tasks, suites, modes) and which devices are seen."""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys

from tabulate import tabulate

from bench.cells import cell_origin, get_spec, list_cells
from bench.plan.config import default_keras_backend
from bench.plan.modes import list_modes
from bench.plan.shapes import TIMING_SHAPES
from bench.plan.suites import SUITES

FRAMEWORK_PACKAGES = {"torch": "cells_torch", "keras": "cells_tf"}


def _implemented(package: str) -> set[str] | str:
    try:
        return set(importlib.import_module(package).list_cells())
    except Exception as err:  # noqa: BLE001 - `list` reports a broken package instead of dying
        return f"{package} failed to import: {type(err).__name__}: {err}"


def cells_table() -> str:
    implemented = {fw: _implemented(pkg) for fw, pkg in FRAMEWORK_PACKAGES.items()}
    rows = []
    for name in list_cells():
        spec = get_spec(name)
        have = [fw for fw, cells in implemented.items() if isinstance(cells, set) and name in cells]
        frameworks = ", ".join(have) if len(have) != 1 else f"{have[0]} only"
        origin = cell_origin(name)
        rows.append([name, spec.family, "yes" if spec.native else "", spec.baseline, frameworks,
                     spec.description + (f" [plugin {os.path.relpath(origin)}]" if origin and os.path.isfile(origin)
                                         else f" [{origin}]" if origin else "")])
    notes = [f"  ! {msg}" for msg in implemented.values() if isinstance(msg, str)]
    table = tabulate(rows, headers=["cell", "family", "native", "timed against", "frameworks", "description"])
    return "\n".join([table, *notes])


def tasks_table() -> str:
    try:
        import datasets
        names = datasets.list_tasks()
    except Exception as err:  # noqa: BLE001
        return f"  ! datasets failed to import: {type(err).__name__}: {err}"
    shapes = [[label, f"{s.seq_len} x {s.input_size}", s.loss, s.description] for label, s in TIMING_SHAPES.items()]
    return ("training tasks: " + ", ".join(names) + "\n\ntiming shapes (random data of a task's shape):\n"
            + tabulate(shapes, headers=["shape", "steps x features", "loss", "from"]))


def suites_table() -> str:
    rows = []
    for suite in SUITES.values():
        try:
            count = str(len(suite.jobs()))
        except Exception as err:  # noqa: BLE001 - e.g. no Keras backend installed
            count = f"? ({err})"
        rows.append([suite.name, suite.device, count, suite.description])
    return tabulate(rows, headers=["suite", "device", "jobs", "what"], maxcolwidths=[None, None, None, 80])


def modes_table() -> str:
    try:
        keras_backend = default_keras_backend()
    except ValueError as err:
        keras_backend = f"none ({err})"
    rows = [[mode.backend, mode.name, mode.meaning()] for mode in list_modes()]
    return (tabulate(rows, headers=["backend", "mode", "what it runs"], maxcolwidths=[None, None, 80])
            + f"\nKeras backend used by default here: {keras_backend}")


# Probing runs in a child so a CUDA or TensorFlow start-up problem cannot break `list`.
_PROBE = r"""
import importlib.util, json
seen = {}
try:
    import torch
    seen["torch"] = ["cpu"] + [f"cuda:{i} {torch.cuda.get_device_name(i)}" for i in range(torch.cuda.device_count())]
except Exception as e:
    seen["torch"] = [f"unavailable: {e}"]
if importlib.util.find_spec("tensorflow"):
    import tensorflow as tf
    seen["tensorflow"] = [d.name for d in tf.config.list_physical_devices()]
if importlib.util.find_spec("jax"):
    import jax
    seen["jax"] = [str(d) for d in jax.devices()]
print(json.dumps(seen))
"""


def devices_table() -> str:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, env=env, timeout=300)
    if out.returncode != 0:
        return f"  ! device probe failed: {out.stderr.strip()[-500:]}"
    import json
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    return tabulate([[k, ", ".join(v)] for k, v in seen.items()], headers=["framework", "devices"])


def render(probe_devices: bool = True) -> str:
    parts = [("Cells", cells_table()), ("Tasks", tasks_table()), ("Suites", suites_table()),
             ("Execution modes", modes_table())]
    if probe_devices:
        parts.append(("Devices seen", devices_table()))
    return "\n\n".join(f"{title}\n{'=' * len(title)}\n{body}" for title, body in parts)
