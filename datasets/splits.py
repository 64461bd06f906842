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


# how a generated task makes its splits (its `protocol` option): "held_out" draws distinct items into disjoint
# train/val/test; "sampled" draws whole batches with replacement and cuts them train/test as the sources did, so
# test items may also be training items, and the test split doubles as validation (the sources had none)
PROTOCOLS = ("held_out", "sampled")


def check_sampled(protocol: str, n_batches: int, batch_items: int, train_fraction: float) -> None:
    """Refuse an unknown protocol, or sampled batches that leave a split empty."""
    if protocol not in PROTOCOLS:
        raise OptionError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    if n_batches < 2 or batch_items < 1:
        raise OptionError(f"n_batches must be at least 2 and batch_items at least 1, got {n_batches} and {batch_items}")
    check_fraction("train_fraction", train_fraction)
    if not 1 <= round(train_fraction * n_batches) < n_batches:
        raise OptionError(f"train_fraction {train_fraction} of {n_batches} batches leaves a split without a batch")


def sampled_split(n_batches: int, batch_items: int, train_fraction: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train rows, test rows, batch of each train row) of `n_batches` consecutive batches: the first
    `train_fraction` of the batches train, the rest test (the batches were drawn at random, so order is chance)."""
    batch = np.arange(n_batches * batch_items) // batch_items
    first_test = round(train_fraction * n_batches)
    train, test = np.flatnonzero(batch < first_test), np.flatnonzero(batch >= first_test)
    return train, test, batch[train].astype(np.int64)


def share_seen(train_items: np.ndarray, test_items: np.ndarray) -> float:
    """Share of the test items (rows) that also occur among the training items: how much a sampled test split
    scores recall of seen items rather than generalisation."""
    seen = {row.tobytes() for row in train_items.reshape(len(train_items), -1)}
    return float(np.mean([row.tobytes() in seen for row in test_items.reshape(len(test_items), -1)]))
