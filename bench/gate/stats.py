"""How much slower is head than base? A confidence interval for the quotient of two sides' paired ratios.

Each side of an A/B run times a custom cell paired with its native layer in several job
processes (*rounds*); each round records its per-pair ratios custom_i / native_i. The
estimate is the quotient of the two sides' geometric means of their rounds' median ratios.
Its interval comes from a two-level (hierarchical) bootstrap: draw the rounds of each side
with replacement, then within each drawn round its pairs with replacement, and take the
quotient of each draw. Both levels matter: pairs spread within a process, and a process
as a whole can sit a few percent off another (memory layout; measured in docs/regression_gate.md).

scipy.stats.bootstrap resamples one level only, so the draws are written here with NumPy,
from a fixed seed: the same records always give the same interval and verdict. With few
rounds the bootstrap's spread is too narrow by the factor sqrt((R-1)/R) of a mean over R
rounds; the interval is widened by its inverse around the estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from bench.records.schema import Record
from bench.records.ratios import paired_ratio

CONFIDENCE = 0.95  # two-sided level of the interval
RESAMPLES = 4000  # bootstrap draws: the interval's ends move by well under 0.1% between seeds at this count
BOOTSTRAP_SEED = 20261206  # fixed, so a verdict is reproducible from its records
FAIL, PASS, INCONCLUSIVE = "FAIL", "pass", "inconclusive"


@dataclass(frozen=True)
class Round:
    """One job process's paired timing of one step kind."""

    median: float  # the median of the per-pair ratios, as recorded
    ratios: tuple[float, ...] = ()  # every pair's ratio; empty for records from before they were kept


@dataclass(frozen=True)
class Interval:
    """head ÷ base of the paired ratio, with its bootstrap interval."""

    estimate: float  # quotient of the sides' geometric means over rounds; 1.10 = head 10% slower
    low: float  # lower end of the CONFIDENCE interval
    high: float  # upper end
    base_rounds: int  # rounds (job processes) on each side
    head_rounds: int

    def verdict(self, threshold: float) -> str:
        """FAIL when the whole interval lies above 1 + threshold, pass when below it, else inconclusive."""
        if self.low > 1 + threshold:
            return FAIL
        if self.high < 1 + threshold:
            return PASS
        return INCONCLUSIVE

    def smallest_detectable(self, threshold: float) -> float:
        """The slowdown this run's spread would have failed: its interval's lower end just above 1 + threshold."""
        return (1 + threshold) * self.estimate / self.low - 1


def rounds_of(records: Sequence[Record], kind: str) -> list[Round]:
    """The paired timings of `kind` in `records` (one job process each), as Rounds; unpaired records give none."""
    return [Round(stats.median, tuple(stats.ratios or ()))
            for stats in (paired_ratio(record, kind) for record in records) if stats is not None]


def _pair_medians(rounds: Sequence[Round], draws: int, rng: np.random.Generator) -> np.ndarray:
    """(rounds, draws) array: each round's median over a resample of its own pairs (its median where none)."""
    out = np.empty((len(rounds), draws))
    for i, one in enumerate(rounds):
        pairs = np.asarray(one.ratios, dtype=np.float64)
        if pairs.size == 0:
            out[i] = one.median
            continue
        picks = rng.integers(0, pairs.size, size=(draws, pairs.size))
        out[i] = np.median(pairs[picks], axis=1)
    return np.log(out)


def _side_draws(rounds: Sequence[Round], draws: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap draws of a side's mean log ratio: rounds drawn with replacement, then pairs within each."""
    logs = _pair_medians(rounds, draws, rng)
    chosen = rng.integers(0, len(rounds), size=(draws, len(rounds)))
    return logs[chosen, np.arange(draws)[:, None]].mean(axis=1)


def quotient_interval(base: Sequence[Round], head: Sequence[Round], confidence: float = CONFIDENCE,
                      resamples: int = RESAMPLES, seed: int = BOOTSTRAP_SEED) -> Interval:
    """head ÷ base with its hierarchical-bootstrap interval (module docstring)."""
    if not base or not head:
        raise ValueError(f"need rounds on both sides, got {len(base)} base and {len(head)} head")
    rng = np.random.default_rng(seed)
    estimate = _log_mean(head) - _log_mean(base)
    draws = _side_draws(head, resamples, rng) - _side_draws(base, resamples, rng)
    low, high = _ends(estimate, draws, confidence, min(len(base), len(head)))
    return Interval(math.exp(estimate), math.exp(low), math.exp(high), len(base), len(head))


def ratio_interval(rounds: Sequence[Round], confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
                   seed: int = BOOTSTRAP_SEED) -> tuple[float, float, float]:
    """One side's paired ratio (geometric mean over rounds) with its interval, drawn as quotient_interval draws."""
    if not rounds:
        raise ValueError("need at least one round")
    estimate = _log_mean(rounds)
    low, high = _ends(estimate, _side_draws(rounds, resamples, np.random.default_rng(seed)), confidence, len(rounds))
    return math.exp(estimate), math.exp(low), math.exp(high)


def _log_mean(rounds: Sequence[Round]) -> float:
    return float(np.mean(np.log([r.median for r in rounds])))


def geometric_mean(rounds: Sequence[Round]) -> float:
    """A side's paired ratio over its rounds: the geometric mean of the rounds' medians."""
    return math.exp(_log_mean(rounds))


def _ends(estimate: float, draws: np.ndarray, confidence: float, rounds: int) -> tuple[float, float]:
    """The draws' percentile interval (log scale), widened about the estimate by sqrt(R / (R - 1)): the variance
    of a bootstrapped mean over R rounds falls short by (R - 1) / R (two sides: R of the side with fewer)."""
    tail = (1 - confidence) / 2
    low, high = np.quantile(draws, [tail, 1 - tail])
    widen = math.sqrt(rounds / (rounds - 1)) if rounds > 1 else 1.0
    return estimate - (estimate - low) * widen, estimate + (high - estimate) * widen
