"""What tells two training runs of one task and model apart: the settings tables and plots name.

A report can hold runs of one cell and size that differ only in learning rate, epochs,
initialiser or a task option (recall at 5,000 and 50,000 sequences, binary addition
under two losses). Such runs must be separate rows and lines, labelled by the settings
that differ, never averaged together as if they were seeds.
"""

from __future__ import annotations

from typing import Any

from bench.plan.jobs import identity_value
from bench.plan.knobs import KNOBS

# identity fields besides the model, in label order: the batch, the epochs and every knob (bench.plan.knobs)
SETTINGS = ("batch_size", "epochs", *(knob.name for knob in KNOBS))
OPTION_PREFIX = "option:"  # a task option's key in a settings dict, e.g. "option:loss"


def of(identity: dict[str, Any]) -> dict[str, Any]:
    """A job's SETTINGS and task options (each under OPTION_PREFIX + its name) from its identity."""
    settings = {field: identity_value(identity, field) for field in SETTINGS}
    settings.update({OPTION_PREFIX + key: value for key, value in (identity.get("task_options") or {}).items()})
    return settings


def options_key(identity: dict[str, Any]) -> str:
    """A job's task options as one string to group runs by ("limit_train=50000, loss=sigmoid_mse"); "" for none."""
    options = identity.get("task_options") or {}
    return ", ".join(f"{key}={value}" for key, value in sorted(options.items()))


def varying(settings: list[dict[str, Any]]) -> list[str]:
    """The keys whose values differ among `settings` (a task option some runs lack counts as differing)."""
    keys = [*SETTINGS, *sorted({key for s in settings for key in s if key.startswith(OPTION_PREFIX)})]
    return [key for key in keys if len({repr(s.get(key)) for s in settings}) > 1]


def label(settings: dict[str, Any], keys: list[str]) -> str:
    """`keys` of `settings` as "lr=0.0001, loss=sigmoid_mse"; an option a run was not given shows as "default"."""
    parts = []
    for key in keys:
        value = settings.get(key)
        shown = "default" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
        parts.append(f"{key.removeprefix(OPTION_PREFIX)}={shown}")
    return ", ".join(parts)
