"""Validation of a record as read from JSONL, against the schema's classes: every problem named by its path."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from bench.records.schema import IDENTITY_OPTIONAL, IDENTITY_REQUIRED, OPEN, Record, _hints, _json_fields


def _type_ok(value: Any, expected: Any) -> bool:
    if expected is Any:
        return True
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    origin = typing.get_origin(expected)
    return isinstance(value, origin or expected)


def _check(value: Any, expected: Any, path: str, problems: list[str]) -> None:
    """Append to `problems` what is wrong with `value` at `path` for type `expected`."""
    args = typing.get_args(expected)
    if typing.get_origin(expected) in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return
        expected = next(a for a in args if a is not type(None))
        args = typing.get_args(expected)
    if dataclasses.is_dataclass(expected):
        if not isinstance(value, dict):
            problems.append(f"{path} must be an object, got {type(value).__name__}")
            return
        _check_section(value, expected, path, problems)
    elif typing.get_origin(expected) is list and args and dataclasses.is_dataclass(args[0]):
        if not isinstance(value, list):
            problems.append(f"{path} must be a list, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            _check(item, args[0], f"{path}[{i}]", problems)
    elif not _type_ok(value, expected):
        name = getattr(typing.get_origin(expected) or expected, "__name__", str(expected))
        problems.append(f"{path} must be {name}, got {type(value).__name__}")


def _check_section(value: dict, cls: type, path: str, problems: list[str]) -> None:
    hints = _hints(cls)
    declared = _json_fields(cls)
    for name, spec in declared.items():
        where = f"{path}.{name}" if path else name
        if name not in value:
            if spec.default is dataclasses.MISSING:
                problems.append(f"missing {where}")
            continue
        _check(value[name], hints[name], where, problems)
    if getattr(cls, "section", None) != OPEN:
        for name in sorted(set(value) - set(declared)):
            problems.append(f"{path + '.' if path else ''}{name} is not a field of {cls.__name__}")


def record_problems(record: dict[str, Any]) -> list[str]:
    """Every way `record` departs from the schema, nested sections and the identity included."""
    problems: list[str] = []
    _check_section(record, Record, "", problems)
    identity = record.get("identity")
    if isinstance(identity, dict):
        for name, expected in IDENTITY_REQUIRED.items():
            if name not in identity:
                problems.append(f"missing identity.{name}")
            else:
                _check(identity[name], expected, f"identity.{name}", problems)
        for name, expected in IDENTITY_OPTIONAL.items():
            if name in identity:
                _check(identity[name], expected, f"identity.{name}", problems)
        for name in sorted(set(identity) - set(IDENTITY_REQUIRED) - set(IDENTITY_OPTIONAL)):
            problems.append(f"identity.{name} is not a field of a job")
    return problems
