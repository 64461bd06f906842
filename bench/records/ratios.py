"""A custom cell's step time relative to its native layer's: the one rule the report and the gate both use.

Records of one configuration that differ only in their seed are *rounds* of it. The ratio is:

- **paired** when every round of the custom cell was timed paired (its job timed the native
  layer in the same process, step pair by step pair, and recorded the median of the per-pair
  ratios): the median of the rounds' paired ratios. Its spread is the median of the rounds'
  pair IQRs. Load from other processes hits both halves of a pair alike.
- **cross-job** otherwise (records from before pairing, or run without it): the custom cell's
  fastest round over its native layer's fastest round of the same configuration in the same
  records, since load from other processes only ever adds time.

Ratios measured the two ways are never compared with each other.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from typing import Any, Iterable

from bench.records.schema import PairedRatio, Record, StepStats

PAIRED, CROSS_JOB = "paired", "cross-job"  # how a ratio was measured
TIMING_KINDS = ("train_step", "inference_step")  # the two timed steps of a record
# identity keys that say how a timing was measured, not what was measured: two rounds of a configuration may differ
TIMING_METHOD_KEYS = ("paired",)


@dataclass(frozen=True)
class Ratio:
    """A custom cell's step time over its native layer's, for one kind of step."""

    value: float  # custom / native; below 1 is faster than the native layer
    method: str  # PAIRED or CROSS_JOB
    iqr: float | None = None  # paired: median over rounds of the per-pair interquartile range; None cross-job


def identity_key(identity: dict[str, Any], drop: Iterable[str] = (), **replace: Any) -> str:
    """Canonical JSON of an identity without `drop` (and without how it was timed), with fields replaced."""
    drop = (*drop, *TIMING_METHOD_KEYS)
    data = {k: v for k, v in identity.items() if k not in drop}
    data.update(replace)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def rounds_key(identity: dict[str, Any], **replace: Any) -> str:
    """The configuration a record is a round of: its identity without the seed."""
    return identity_key(identity, drop=("seed",), **replace)


def timed_rounds(records: Iterable[Record]) -> dict[str, list[Record]]:
    """Ok records with timing, grouped into rounds of one configuration (rounds_key)."""
    groups: dict[str, list[Record]] = {}
    for record in records:
        if record.status == "ok" and record.timing:
            groups.setdefault(rounds_key(record.identity), []).append(record)
    return groups


def paired_ratio(record: Record, kind: str, to_usual: bool = False) -> PairedRatio | None:
    """The record's in-process ratio statistics for `kind` (train_step or inference_step), if it was timed paired;
    with `to_usual`, against the native layer in its backend's usual mode (Timing.paired_ratio_usual)."""
    timing = record.timing
    ratios = timing and (timing.paired_ratio_usual if to_usual else timing.paired_ratio)
    if not timing or not timing.paired or not ratios:
        return None
    stats = getattr(ratios, kind)
    return stats if stats is not None and (stats.median or 0) > 0 else None


def step_stats(record: Record, kind: str, native: bool = False) -> StepStats | None:
    """A timed record's statistics of step `kind`; with `native`, its paired native layer's (None where absent)."""
    timing = record.timing
    if timing is None:
        return None
    side = timing.native if native else timing
    return getattr(side, kind) if side is not None else None


def fastest(rounds: list[Record], kind: str) -> float | None:
    """The smallest median step time over the rounds, in seconds."""
    medians = [stats.median_s for stats in (step_stats(r, kind) for r in rounds) if stats is not None]
    medians = [m for m in medians if m is not None and m > 0]
    return min(medians) if medians else None


def ratio(custom: list[Record], native: list[Record] | None, kind: str) -> Ratio | None:
    """The ratio of the custom cell's rounds to its native layer's rounds (module docstring); None when there is
    nothing to divide by."""
    return _over_rounds(custom, kind, to_usual=False) or cross_job(custom, native or [], kind)


def _over_rounds(custom: list[Record], kind: str, to_usual: bool) -> Ratio | None:
    """The paired ratio over the rounds (module docstring); None unless every round was timed paired so."""
    paired = [paired_ratio(record, kind, to_usual) for record in custom]
    if not custom or any(stats is None for stats in paired):
        return None
    iqrs = [stats.iqr for stats in paired if stats.iqr is not None]
    return Ratio(float(statistics.median(s.median for s in paired)), PAIRED,
                 float(statistics.median(iqrs)) if len(iqrs) == len(paired) else None)


def cross_job(custom: list[Record], native: list[Record], kind: str) -> Ratio | None:
    """The custom rounds' fastest over the native rounds' fastest; None when either has no time."""
    mine, theirs = fastest(custom, kind), fastest(native, kind)
    return Ratio(mine / theirs, CROSS_JOB) if mine is not None and theirs is not None else None


def ratio_to_usual(groups: dict[str, list[Record]], key: str, baseline: str | None, usual_mode: str,
                   kind: str) -> Ratio | None:
    """Configuration `key` over cell `baseline` in `usual_mode`, the mode users run the native layer in.

    Paired where every round also timed that native layer in its process (Timing.paired_ratio_usual), else
    cross-job against the records of `baseline` in `usual_mode`. None when `key` already runs in `usual_mode`
    (its ratio_in is that figure) or there is nothing to divide by.
    """
    custom = groups.get(key, [])
    if not custom or baseline is None or custom[0].job.mode == usual_mode:
        return None
    return _over_rounds(custom, kind, to_usual=True) or cross_job(
        custom, groups.get(rounds_key(custom[0].identity, cell=baseline, mode=usual_mode), []), kind)


def ratio_in(groups: dict[str, list[Record]], key: str, baseline: str | None, kind: str) -> Ratio | None:
    """The ratio of configuration `key` in `groups` (timed_rounds) to the same configuration of cell `baseline`."""
    custom = groups.get(key, [])
    if not custom or baseline is None:
        return None
    native = groups.get(rounds_key(custom[0].identity, cell=baseline))
    return ratio(custom, native, kind)
