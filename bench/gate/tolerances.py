"""Tolerances of the regression gate, written `field:threshold` as in pytest-benchmark.

`accuracy:0.02` allows the test accuracy to fall by 0.02 (two points) below the
baseline; `ratio:15%` allows the step time relative to the native layer to rise by 15 %
of its baseline value. A bare number is absolute, in the field's own units; `N%` is
relative to the baseline value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bench.plan.config import ConfigError

# field -> (what it judges, True when a higher value is better)
FIELDS: dict[str, tuple[str, bool]] = {
    "accuracy": ("test accuracy of train jobs whose metric is accuracy", True),
    "bit_accuracy": ("test bit accuracy (binary addition and other bitwise tasks)", True),
    "mse": ("test mean squared error of regression tasks", False),
    "train_ratio": ("training-step time divided by the native layer's, same run", False),
    "infer_ratio": ("inference-step time divided by the native layer's, same run", False),
}
# shorthand fields that set several at once
ALIASES: dict[str, tuple[str, ...]] = {"ratio": ("train_ratio", "infer_ratio")}

# Defaults, from the runs of the regress suite against the committed baseline on the
# project's shared 2-core CI box (docs/regression_gate.md): accuracy of an unchanged cell
# reproduced exactly, so two points only leave room for another CPU's rounding. Step-time
# ratios are timed paired (custom and native interleaved in one process): with no code
# change they drifted by at most +5 % in seven runs (five with the machine to ourselves,
# two beside another engineer's training jobs) and +10 % between two busy runs. 25 % is
# chosen from those runs (after seeing them): 2.5x the worst drift seen, and a 2x slowdown
# (+100 %) or anything above +25 % still fails. Before pairing, ratios timed in separate
# processes drifted by up to +78 % and even 60 % raised false alarms.
DEFAULT_TOLERANCES: tuple[str, ...] = ("accuracy:0.02", "bit_accuracy:0.02", "mse:10%", "ratio:25%")

_THRESHOLD = re.compile(r"^\s*(?P<value>[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(?P<percent>%?)\s*$")


@dataclass(frozen=True)
class Tolerance:
    """How far one field may move in the bad direction before the gate fails."""

    field: str  # one of FIELDS
    value: float  # the allowed change: absolute units, or a fraction of the baseline when relative
    relative: bool  # True for "N%" thresholds (value is then N / 100)

    def allowed(self, baseline: float) -> float:
        """The largest change in the bad direction that still passes, in the field's units."""
        return abs(baseline) * self.value if self.relative else self.value

    def exceeded(self, baseline: float, current: float) -> bool:
        """True when `current` is worse than `baseline` by more than the tolerance."""
        worse_by = (baseline - current) if FIELDS[self.field][1] else (current - baseline)
        return worse_by > self.allowed(baseline)

    def spelled(self) -> str:
        """The `field:threshold` text a user would type for this tolerance."""
        return f"{self.field}:{self.value * 100:g}%" if self.relative else f"{self.field}:{self.value:g}"


def parse_tolerance(text: str) -> list[Tolerance]:
    """Parse one `field:threshold`; an alias such as `ratio` yields one Tolerance per field it covers."""
    name, sep, threshold = text.partition(":")
    name = name.strip()
    if not sep or not name:
        raise ConfigError(f"tolerance {text!r} is not FIELD:THRESHOLD; write e.g. accuracy:0.02 or ratio:15%")
    fields = ALIASES.get(name, (name,))
    for field_name in fields:
        if field_name not in FIELDS:
            known = ", ".join([*FIELDS, *ALIASES])
            raise ConfigError(f"unknown tolerance field {name!r} in {text!r}; choose from {known}")
    match = _THRESHOLD.match(threshold)
    if not match:
        raise ConfigError(f"threshold {threshold!r} in {text!r} is not a number or a percentage; "
                          "write e.g. 0.02 (absolute, in the field's units) or 15% (relative to the baseline)")
    relative = bool(match["percent"])
    value = float(match["value"]) / (100.0 if relative else 1.0)
    return [Tolerance(field_name, value, relative) for field_name in fields]


def resolve_tolerances(overrides: list[str] | tuple[str, ...] = ()) -> dict[str, Tolerance]:
    """The defaults, with each `field:threshold` of `overrides` replacing its field's default."""
    resolved: dict[str, Tolerance] = {}
    for text in (*DEFAULT_TOLERANCES, *overrides):
        for tolerance in parse_tolerance(text):
            resolved[tolerance.field] = tolerance
    return resolved
