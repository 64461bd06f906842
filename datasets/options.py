"""Turn `load(name, **options)` keywords into a task's typed options dataclass.

Each task declares its options as a dataclass; this module rejects unknown names
(listing the valid ones) and values of the wrong type, and normalises the few
conveniences people expect (a list or range where a tuple is declared, an int where
a float is declared).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from typing import Any

from .errors import OptionError


@dataclass(frozen=True)
class CommonOptions:
    """Options every task accepts: cut splits down for quick runs."""

    limit_train: int | None = None  # keep at most this many training sequences (a seeded random subset)
    limit_val: int | None = None  # the same for the validation split
    limit_test: int | None = None  # the same for the test split

    def __post_init__(self) -> None:
        for name in ("limit_train", "limit_val", "limit_test"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise OptionError(f"{name} must be at least 1 (or None for the whole split), got {value}")


@dataclass(frozen=True)
class FileOptions:
    """Options of tasks that read data files: where downloads may come from."""

    # base URLs that hold this task's files (file name appended); replaces the built-in
    # mirrors and $RNNBENCH_MIRRORS; () means no download
    mirrors: tuple[str, ...] | None = None
    download: bool = True  # False: never touch the network, even if files are missing


def option_names(cls: type) -> list[str]:
    """Field names of an options dataclass."""
    return [f.name for f in dataclasses.fields(cls)]


def option_defaults(cls: type) -> dict[str, Any]:
    """Field name -> default of an options dataclass (every option has one)."""
    return {f.name: f.default for f in dataclasses.fields(cls)}


def build_options(cls: type, task: str, raw: dict[str, Any]) -> Any:
    """An instance of `cls` from keyword options, type-checked; raises OptionError."""
    hints = typing.get_type_hints(cls)
    values = {name: _coerce(task, name, value, hints[name]) for name, value in raw.items()}
    try:
        return cls(**values)
    except OptionError as err:
        raise OptionError(f"task {task!r}: {err}") from None


def _coerce(task: str, name: str, value: Any, hint: Any) -> Any:
    """`value` as the declared type `hint`, or OptionError saying what was expected."""
    options = typing.get_args(hint) if _is_union(hint) else (hint,)
    for option in options:
        ok, converted = _try(value, option)
        if ok:
            return converted
    expected = " or ".join(_type_name(o) for o in options)
    raise OptionError(f"task {task!r}: option {name!r} must be {expected}, got {value!r}")


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _try(value: Any, hint: Any) -> tuple[bool, Any]:
    if hint is type(None):
        return value is None, None
    if hint is bool:
        return isinstance(value, bool), value
    if hint is int:  # bool is an int in Python, but True is never a sensible count
        return isinstance(value, int) and not isinstance(value, bool), value
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok, float(value) if ok else None
    if hint is str:
        return isinstance(value, str), value
    if typing.get_origin(hint) is tuple:
        (item,) = typing.get_args(hint)[:1]
        if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list, range)):
            return False, None
        items = [_try(v, item) for v in value]
        return all(ok for ok, _ in items), tuple(v for _, v in items)
    raise TypeError(f"options of type {hint!r} are not supported by build_options")


def _type_name(hint: Any) -> str:
    if hint is type(None):
        return "None"
    if typing.get_origin(hint) is tuple:
        return f"a list or tuple of {_type_name(typing.get_args(hint)[0])}"
    return getattr(hint, "__name__", str(hint))
