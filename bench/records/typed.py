"""The typed record: a valid record's JSON as the schema's dataclasses, and back, each key's presence kept.

Readers get attributes (record.train.test_metric, record.job.cell) instead of string paths; a field renamed in
bench.records.schema is then an AttributeError where it is read, or an error of field_path at import.
"""

from __future__ import annotations

import dataclasses
import typing
import types
from typing import Any

from bench.plan.jobs import Job
from bench.records.schema import ABSENT, OPEN, Environment, Record, _hints, _json_fields

_ABSENT_KEYS = "_absent_keys"  # instance attribute: the fields that may be absent and were, in the JSON read


def _section_type(expected: Any) -> Any:
    """The dataclass (or list of dataclasses) a field holds, Optional removed; None for a plain value."""
    if typing.get_origin(expected) in (typing.Union, types.UnionType):
        expected = next(a for a in typing.get_args(expected) if a is not type(None))
    if dataclasses.is_dataclass(expected):
        return expected
    args = typing.get_args(expected)
    if typing.get_origin(expected) is list and args and dataclasses.is_dataclass(args[0]):
        return expected
    return None


def section_of(expected: Any, value: Any) -> Any:
    """`value` (JSON) as the section type `expected` (Train, list[Epoch] …); a plain value unchanged."""
    section = _section_type(expected)
    if value is None or section is None:
        return value
    if typing.get_origin(section) is list:
        return [section_of(typing.get_args(section)[0], item) for item in value]
    hints = _hints(section)
    declared = _json_fields(section)
    made = section(**{name: section_of(hints[name], value[name]) for name in declared if name in value})
    if getattr(section, "section", None) == OPEN:
        made.extras = {k: v for k, v in value.items() if k not in declared}
    object.__setattr__(made, _ABSENT_KEYS, frozenset(n for n, f in declared.items()
                                                      if n not in value and f.default is not dataclasses.MISSING))
    return made


def _json(value: Any) -> Any:
    if isinstance(value, list):
        return [_json(item) for item in value]
    if not dataclasses.is_dataclass(value):
        return value
    absent = getattr(value, _ABSENT_KEYS, None)
    data = {}
    for name, spec in _json_fields(type(value)).items():
        item = getattr(value, name)
        # a key read as absent stays absent; one set in code is left out while it holds its may-be-absent default
        left_out = name in absent if absent is not None else spec.default is ABSENT
        if item is None and left_out:
            continue
        data[name] = _json(item)
    data.update(getattr(value, "extras", None) or {})
    return dict(sorted(data.items()))  # the key order of a line on disk (store.dumps sorts): frames keep their columns


def build_record(data: dict[str, Any]) -> Record:
    """The typed record of a JSON object that passed `record_problems` (bench.records.store validates first)."""
    record = section_of(Record, data)
    record.job = Job.from_identity(record.identity)
    return record


def record_json(record: Record) -> dict[str, Any]:
    """The JSON object of a typed record: the inverse of build_record, keys present exactly as read."""
    return _json(record)


def field_path(*names: str) -> str:
    """The dotted path of a record field ("train", "test_metric" → "train.test_metric"), checked against the schema.

    The flat frame's columns are named by these paths; naming a field that does not exist fails at import, where a
    string typed by hand would fail at report time.
    """
    cls: Any = Record
    for i, name in enumerate(names):
        if cls is None:  # an open map (versions, threads, shape …): its keys are the writer's, not the schema's
            return ".".join(names)
        fields_ = _json_fields(cls)
        if name not in fields_:
            if getattr(cls, "section", None) == OPEN:
                return ".".join(names)
            raise KeyError(f"{'.'.join(names[:i + 1])} is not a record field; {cls.__name__} has "
                           f"{', '.join(fields_)}")
        cls = _section_type(_hints(cls)[name])
        if cls is not None and typing.get_origin(cls) is list:
            cls = typing.get_args(cls)[0]
    return ".".join(names)


def update_environment(environment: Environment, values: dict[str, Any]) -> None:
    """Set what a runner or executor found: declared keys as fields, the others into `extras`."""
    declared = _json_fields(Environment)
    for name, value in values.items():
        if name in declared:
            setattr(environment, name, section_of(_hints(Environment)[name], value))
        else:
            environment.extras[name] = value
