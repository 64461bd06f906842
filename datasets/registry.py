"""The task registry: `register` (used by each task module), `list_tasks` and `load`."""

from __future__ import annotations

import dataclasses
import difflib
import os
from dataclasses import dataclass
from typing import Any, Callable

from .errors import OptionError, UnknownTaskError
from .files import DataSource
from .options import CommonOptions, FileOptions, build_options, option_defaults, option_names
from .splits import limit_rows
from .task import SPLITS, Task

# loader(options, source, seed) -> Task; `source` is None for tasks that read no files
Loader = Callable[[Any, "DataSource | None", int], Task]


@dataclass(frozen=True)
class TaskEntry:
    """One registered task."""

    name: str  # registry key, as passed to `load`
    loader: Loader  # builds the Task from its options
    options: type  # the task's options dataclass (every field has a default)
    description: str  # one line for listings and the docs table
    needs_files: bool  # True when the task reads data files (accepts `mirrors` and `download`)


_REGISTRY: dict[str, TaskEntry] = {}


def register(name: str, options: type, description: str, needs_files: bool = False) -> Callable[[Loader], Loader]:
    """Decorator that registers `loader` under `name`."""
    def decorate(loader: Loader) -> Loader:
        if name in _REGISTRY:
            raise ValueError(f"task {name!r} is registered twice")
        _REGISTRY[name] = TaskEntry(name, loader, options, description, needs_files)
        return loader
    return decorate


def list_tasks() -> list[str]:
    """Names of all registered tasks, sorted."""
    return sorted(_REGISTRY)


def get_entry(name: str) -> TaskEntry:
    """The registry entry of `name`; UnknownTaskError lists the valid names."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        close = difflib.get_close_matches(str(name).lower(), list_tasks(), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownTaskError(f"unknown task {name!r}{hint}; valid tasks: {', '.join(list_tasks())}") from None


def task_options(name: str) -> dict[str, Any]:
    """Option name -> default for `name`, including the options every task accepts."""
    entry = get_entry(name)
    defaults = option_defaults(entry.options) | option_defaults(CommonOptions)
    if entry.needs_files:
        defaults |= option_defaults(FileOptions)
    return defaults


def load(name: str, *, data_dir: str | os.PathLike | None = None, seed: int = 0, **options: Any) -> Task:
    """Load task `name` with its splits drawn from `seed`.

    `data_dir` is searched first for data files (then $RNNBENCH_DATA_DIR, then the
    cache); `options` are the task's own options plus `limit_train`, `limit_val`,
    `limit_test` (and `mirrors`, `download` for tasks that read files).
    """
    entry = get_entry(name)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise OptionError(f"seed must be an int in [0, 2**32), got {seed!r}")
    groups = [CommonOptions] + ([FileOptions] if entry.needs_files else []) + [entry.options]
    valid = [n for cls in groups for n in option_names(cls)]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise OptionError(f"task {name!r} has no option(s) {', '.join(map(repr, unknown))}; "
                          f"valid options: {', '.join(sorted(valid))}")
    built = [build_options(cls, name, {k: v for k, v in options.items() if k in option_names(cls)})
             for cls in groups]
    common, own = built[0], built[-1]
    source = None
    if entry.needs_files:
        files = built[1]
        source = DataSource.from_env(data_dir, mirrors=files.mirrors, download=files.download)
    task = entry.loader(own, source, seed)
    task.info.setdefault("task", name)
    task.info["seed"] = seed
    # every option in effect, defaults included, so a record says exactly what was loaded
    task.info["options"] = _jsonable({k: v for b in built for k, v in dataclasses.asdict(b).items()})
    return _apply_limits(task, common, seed)


def _apply_limits(task: Task, common: CommonOptions, seed: int) -> Task:
    changes: dict[str, Any] = {}
    indices = dict(task.indices)
    applied = {}
    for split in SPLITS:
        x, y, lengths = task.split(split)
        keep = limit_rows(len(y), getattr(common, f"limit_{split}"), seed)
        if keep is None:
            continue
        applied[split] = len(keep)
        changes[f"x_{split}"] = x[keep]
        changes[f"y_{split}"] = y[keep]
        if lengths is not None:
            changes[f"lengths_{split}"] = lengths[keep]
        if split == "train" and task.groups_train is not None:
            changes["groups_train"] = task.groups_train[keep]
        if split in indices:
            indices[split] = indices[split][keep]
    if not changes:
        return task
    task.info["limits"] = applied
    return dataclasses.replace(task, indices=indices, **changes)


def _jsonable(value: Any) -> Any:
    """Tuples as lists so the options round-trip through JSON records unchanged."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    return value
