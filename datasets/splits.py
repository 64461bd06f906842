"""Deterministic, disjoint splits of row indices, and the seeded subsets of `limit_*`.

Splits are drawn by scikit-learn's `train_test_split` (stratified by label where
labels are given) with `random_state=seed`, so one seed always gives the same rows
and the three parts partition the rows they were drawn from.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

from .errors import OptionError


def check_fraction(name: str, value: float) -> None:
    """Refuse a split fraction outside (0, 1)."""
    if not 0.0 < value < 1.0:
        raise OptionError(f"{name} must lie strictly between 0 and 1, got {value}")


def hold_out(rows: np.ndarray, size: float | int, seed: int,
             labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held) rows: `size` (a fraction, or a count when an int) held out.

    Stratified by `labels[rows]` when labels are given, so every class keeps its share.
    """
    rows = np.asarray(rows, np.int64)
    count = size if isinstance(size, int) else round(size * len(rows))
    if not 1 <= count < len(rows):
        raise OptionError(f"cannot hold out {size} of {len(rows)} rows: each part needs at least one row")
    stratify = None if labels is None else labels[rows]
    kept, held = train_test_split(rows, test_size=count, random_state=seed, shuffle=True, stratify=stratify)
    return kept, held


def three_way(rows: np.ndarray, test_fraction: float, val_fraction: float, seed: int,
              labels: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Split `rows`: `test_fraction` of them for test, then `val_fraction` of the rest for validation.

    `labels` is indexed by row (it covers every row `rows` may name).
    """
    check_fraction("test_fraction", test_fraction)
    check_fraction("val_fraction", val_fraction)
    rest, test = hold_out(rows, test_fraction, seed, labels)
    train, val = hold_out(rest, val_fraction, seed, labels)
    return {"train": train, "val": val, "test": test}


def limit_rows(n: int, limit: int | None, seed: int) -> np.ndarray | None:
    """Sorted positions of a seeded random subset of `limit` of `n` rows; None keeps all."""
    if limit is None or limit >= n:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))
