"""Cells from outside the project: plugin files, $RNNBENCH_PLUGINS and installed entry points.

A plugin is a Python file that registers one or more cells with the public API
(`bench.cells.register_cell`, `cells_torch.register`, `cells_tf.register_cell_class`);
docs/adding_a_cell.md walks through one. `load_plugins` imports each file once, tells
the registry which file registered which cell (`bench.cells.cell_origin`), and turns
every way a plugin can fail to load into a `PluginError` naming the file and what to fix.
Job processes load the same files: `plugin_env_value()` is what the executors pass on
in $RNNBENCH_PLUGINS, and each record names the files with their SHA-256.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from bench.cells import get_spec, list_cells
from bench.cells.spec import registering_from
from bench.plan.config import ConfigError

PLUGINS_ENV = "RNNBENCH_PLUGINS"  # plugin files separated by os.pathsep, loaded by every command and job
ENTRY_POINT_GROUP = "rnnbench.cells"  # installed packages register cells through this entry-point group
FRAMEWORK_MODULES = {"torch": "torch", "keras": "Keras", "tensorflow": "TensorFlow", "jax": "JAX", "jaxlib": "JAX"}
PROBE_SIZES = (4, 4)  # (input, hidden) at which a plugin's spec must give its weight shapes when it loads


class PluginError(ConfigError):
    """A plugin that cannot be used; the message names the file and what to fix."""


@dataclass(frozen=True)
class Plugin:
    """One loaded plugin, as records and reports name it."""

    source: str  # absolute path of the file, or "entry point NAME (module)" for an installed package
    sha256: str | None  # digest of the file's bytes; None where an entry point's module has no file
    cells: tuple[str, ...]  # the cell names it registered, sorted

    def describe_cells(self) -> dict[str, dict[str, Any]]:
        """What a report needs of each cell without loading the plugin: baseline, native, family."""
        out = {}
        for name in self.cells:
            spec = get_spec(name)
            out[name] = {"baseline": spec.baseline, "native": spec.native, "family": spec.family}
        return out

    def as_record(self) -> dict[str, Any]:
        return {"source": self.source, "sha256": self.sha256, "cells": self.describe_cells()}


_LOADED: dict[str, Plugin] = {}  # key: resolved file path or entry-point name


def load_plugins(paths: Iterable[str | os.PathLike] = (), *, from_env: bool = True,
                 entry_points: bool = True) -> list[Plugin]:
    """Load the given files, then $RNNBENCH_PLUGINS and the `rnnbench.cells` entry points; each once."""
    wanted = [Path(p) for p in paths]
    if from_env:
        wanted += [Path(p) for p in os.environ.get(PLUGINS_ENV, "").split(os.pathsep) if p.strip()]
    for path in wanted:
        load_file(path)
    if entry_points:
        for point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            _load_entry_point(point)
    return loaded_plugins()


def loaded_plugins() -> list[Plugin]:
    """Every plugin loaded in this process, in load order."""
    return list(_LOADED.values())


def plugin_env_value() -> str:
    """$RNNBENCH_PLUGINS for job processes: every plugin file loaded here (entry points load themselves)."""
    return os.pathsep.join(p.source for p in _LOADED.values() if p.sha256 is not None and Path(p.source).is_file())


def load_file(path: str | os.PathLike) -> Plugin:
    """Import one plugin file (once per resolved path) and check what it registered."""
    path = Path(path).expanduser()
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise PluginError(f"plugin {path} {what}; give the path of a Python file that registers cells "
                          "(docs/adding_a_cell.md)")
    resolved = str(path.resolve())
    if resolved in _LOADED:
        return _LOADED[resolved]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    module_name = f"rnnbench_plugin_{path.stem}_{hashlib.sha256(resolved.encode()).hexdigest()[:8]}"
    spec = importlib.util.spec_from_file_location(module_name, resolved)
    if spec is None or spec.loader is None:
        raise PluginError(f"plugin {path} cannot be imported as a Python module; give a .py file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # before running it: dataclasses and Keras serialization look it up
    before = set(list_cells())
    try:
        with registering_from(resolved):
            spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - any failure inside a user's file becomes one clear error
        sys.modules.pop(module_name, None)
        raise PluginError(_import_failure(str(path), resolved, exc)) from exc
    plugin = Plugin(source=resolved, sha256=digest, cells=tuple(sorted(set(list_cells()) - before)))
    _check_registered(str(path), plugin)
    _LOADED[resolved] = plugin
    return plugin


def _load_entry_point(point: importlib.metadata.EntryPoint) -> Plugin:
    key = f"entry point {point.name} ({point.value})"
    if key in _LOADED:
        return _LOADED[key]
    before = set(list_cells())
    try:
        with registering_from(key):
            loaded = point.load()
    except Exception as exc:  # noqa: BLE001
        raise PluginError(_import_failure(key, None, exc)) from exc
    file = getattr(sys.modules.get(getattr(loaded, "__module__", None) or getattr(loaded, "__name__", "")),
                   "__file__", None)
    digest = hashlib.sha256(Path(file).read_bytes()).hexdigest() if file else None
    plugin = Plugin(source=key, sha256=digest, cells=tuple(sorted(set(list_cells()) - before)))
    _check_registered(key, plugin)
    _LOADED[key] = plugin
    return plugin


def _import_failure(label: str, resolved: str | None, exc: BaseException) -> str:
    missing = getattr(exc, "name", None) if isinstance(exc, ModuleNotFoundError) else None
    root = (missing or "").split(".")[0]
    if root in FRAMEWORK_MODULES:
        return (f"plugin {label} imports {missing}, and {FRAMEWORK_MODULES[root]} is not installed here; install "
                f"it (pip install -e '.[test]' brings torch, TensorFlow and Keras), or register the cell only in "
                "the framework that is installed")
    where = ""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if resolved and f.filename == resolved]
    if frames:
        where = f" at line {frames[-1].lineno} ({frames[-1].line})"
    return f"plugin {label} raised {type(exc).__name__} on import{where}: {exc}"


def _check_registered(label: str, plugin: Plugin) -> None:
    """What a plugin registered must be usable: shapes that work, a native baseline, a known twin."""
    if not plugin.cells:
        raise PluginError(f"plugin {label} registered no cell; call bench.cells.register_cell(CellSpec(...)) in it "
                          "(docs/adding_a_cell.md)")
    for name in plugin.cells:
        spec = get_spec(name)
        try:
            shapes = spec.weight_shapes(*PROBE_SIZES)
        except Exception as exc:  # noqa: BLE001
            raise PluginError(f"plugin {label}: cell {name!r}: its spec's shapes({PROBE_SIZES[0]}, {PROBE_SIZES[1]}) "
                              f"raised {type(exc).__name__}: {exc}; shapes(input_size, hidden_size) must return "
                              "{weight name: shape tuple}") from exc
        if not isinstance(shapes, dict) or not shapes or not all(
                isinstance(s, tuple) and all(isinstance(d, int) and d > 0 for d in s) for s in shapes.values()):
            raise PluginError(f"plugin {label}: cell {name!r}: shapes({PROBE_SIZES[0]}, {PROBE_SIZES[1]}) returned "
                              f"{shapes!r}; it must return a non-empty {{weight name: tuple of positive ints}}")
        try:
            baseline = get_spec(spec.baseline)
        except KeyError:
            baseline = None
        if baseline is None or not baseline.native:
            natives = ", ".join(list_cells(native=True))
            raise PluginError(f"plugin {label}: cell {name!r} names baseline {spec.baseline!r}, which is not a "
                              f"registered native cell; choose one of {natives}")
        if spec.equivalent is not None and spec.equivalent.cell not in list_cells():
            raise PluginError(f"plugin {label}: cell {name!r} declares it equals {spec.equivalent.cell!r}, which is "
                              f"not registered; registered cells are: {', '.join(list_cells())}")
