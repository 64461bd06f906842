"""`recall`: read a sequence of one-hot digits, then name the digit that was at `position`.

Sequences have 3–10 digits; they are padded with all-zero steps at the END up to the
longest length, and `lengths_*` give each sequence's true length, so the label is read
at step `lengths - 1`. Under the default protocol every sequence is distinct, hence no
sequence is in two splits; `protocol="sampled"` draws batches of one length with
replacement, as the source's generator did (see datasets.splits.PROTOCOLS).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import OptionError
from .registry import register
from .splits import check_sampled, sampled_split, share_seen
from .task import Task

PAD = -1  # marks padded steps in the digit matrix before one-hot encoding
_MAX_DRAWS = 1000  # rounds of drawing before giving up on finding enough distinct sequences


@dataclass(frozen=True)
class RecallOptions:
    """Options of the `recall` task."""

    n_train: int = 5000  # training sequences
    n_val: int = 500  # validation sequences
    n_test: int = 1000  # test sequences
    min_len: int = 3  # shortest sequence
    max_len: int = 10  # longest sequence; every x is padded to this many steps
    position: int = 1  # 0-based step whose digit is the target; must exist in the shortest sequence
    num_digits: int = 10  # symbols (one-hot width and number of classes)
    protocol: str = "held_out"  # "held_out": the n_* distinct sequences; "sampled": the batches below
    n_batches: int = 1000  # sampled: batches drawn, each of one length (n_train/n_val/n_test are then unused)
    batch_items: int = 50  # sampled: sequences per batch
    train_fraction: float = 0.8  # sampled: share of the batches that train; the rest test (and validate)

    def __post_init__(self) -> None:
        for name in ("n_train", "n_val", "n_test", "min_len"):
            if getattr(self, name) < 1:
                raise OptionError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_len < self.min_len:
            raise OptionError(f"max_len ({self.max_len}) must be at least min_len ({self.min_len})")
        if not 0 <= self.position < self.min_len:
            raise OptionError(f"position must lie in [0, min_len) = [0, {self.min_len}) so every sequence "
                              f"has it, got {self.position}")
        if self.num_digits < 2:
            raise OptionError(f"num_digits must be at least 2, got {self.num_digits}")
        check_sampled(self.protocol, self.n_batches, self.batch_items, self.train_fraction)
        if self.protocol == "sampled":
            return
        total = self.n_train + self.n_val + self.n_test
        possible = sum(self.num_digits ** length for length in range(self.min_len, self.max_len + 1))
        if total > possible:
            raise OptionError(f"{total} distinct sequences requested but only {possible} exist for lengths "
                              f"{self.min_len}..{self.max_len}; ask for fewer or allow longer sequences")


@register("recall", RecallOptions, "recall the digit at a position of a one-hot digit sequence (lengths 3-10)")
def load_recall(options: RecallOptions, source: None, seed: int) -> Task:
    """The recall task: distinct sequences cut into train, val, test, or sampled batches cut train/test."""
    rng = np.random.default_rng(seed)
    if options.protocol == "sampled":
        digits, lengths = draw_batches(options, rng)
        train, test, groups = sampled_split(options.n_batches, options.batch_items, options.train_fraction)
        parts = {"train": train, "val": test, "test": test}
        seen = {"test_seen_in_train": share_seen(digits[train], digits[test])}
    else:
        digits, lengths = draw_distinct(options, rng)
        ends = np.cumsum([options.n_train, options.n_val])
        parts = dict(zip(("train", "val", "test"), np.split(np.arange(len(lengths)), ends)))
        groups, seen = None, {}
    x = one_hot(digits, options.num_digits)
    y = digits[:, options.position].astype(np.int64)
    varying = options.min_len != options.max_len
    arrays = {}
    for name, rows in parts.items():
        arrays[f"x_{name}"], arrays[f"y_{name}"] = x[rows], y[rows]
        arrays[f"lengths_{name}"] = lengths[rows] if varying else None
    return Task(name="recall", kind="classify", num_outputs=options.num_digits, input_size=options.num_digits,
                seq_len=None if varying else options.max_len, groups_train=groups, **arrays,
                info={"source": "generated: uniform lengths and digits, numpy default_rng(seed)",
                      "padding": "zeros at the end; lengths give the valid steps", **seen})


def draw_batches(options: RecallOptions, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(digits, lengths) of n_batches × batch_items sequences, drawn with replacement, one length per batch."""
    lengths = np.repeat(rng.integers(options.min_len, options.max_len + 1, size=options.n_batches),
                        options.batch_items)
    digits = rng.integers(0, options.num_digits, size=(len(lengths), options.max_len))
    digits[np.arange(options.max_len) >= lengths[:, None]] = PAD
    return digits, lengths.astype(np.int64)


def draw_distinct(options: RecallOptions, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(digits (N, max_len) with PAD after each length, lengths (N,)) of N distinct random sequences."""
    total = options.n_train + options.n_val + options.n_test
    seen: set[bytes] = set()
    kept_digits, kept_lengths = [], []
    for _ in range(_MAX_DRAWS):
        need = total - len(kept_lengths)
        if need == 0:
            break
        # draw twice what is missing: duplicates are rare except among the shortest sequences
        lengths = rng.integers(options.min_len, options.max_len + 1, size=2 * need)
        digits = rng.integers(0, options.num_digits, size=(2 * need, options.max_len))
        digits[np.arange(options.max_len) >= lengths[:, None]] = PAD
        for row, length in zip(digits, lengths):
            key = row.tobytes()
            if key not in seen and len(kept_lengths) < total:
                seen.add(key)
                kept_digits.append(row)
                kept_lengths.append(length)
    if len(kept_lengths) < total:
        raise OptionError(f"could not draw {total} distinct sequences in {_MAX_DRAWS} rounds; ask for fewer")
    return np.stack(kept_digits), np.asarray(kept_lengths, np.int64)


def one_hot(digits: np.ndarray, num_digits: int) -> np.ndarray:
    """float32 (N, T, num_digits) one-hot of `digits`; PAD steps are all zeros."""
    x = np.zeros(digits.shape + (num_digits,), np.float32)
    n, t = np.nonzero(digits != PAD)
    x[n, t, digits[n, t]] = 1.0
    return x
