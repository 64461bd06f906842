"""`digits`: scikit-learn's bundled 8×8 handwritten digits, read as 8 steps of 8 pixels.

No download and about a second to train on: the default task for quick runs and CI.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_digits

from .registry import register
from .splits import check_fraction, three_way
from .task import Task

PIXEL_MAX = 16.0  # the bundled images hold integers 0..16


@dataclass(frozen=True)
class DigitsOptions:
    """Options of the `digits` task."""

    test_fraction: float = 0.2  # share of all 1,797 images held out for test (stratified)
    val_fraction: float = 0.1  # share of the remaining images held out for validation

    def __post_init__(self) -> None:
        check_fraction("test_fraction", self.test_fraction)
        check_fraction("val_fraction", self.val_fraction)


@register("digits", DigitsOptions, "scikit-learn 8x8 digits, 8 rows of 8 pixels, 10 classes (bundled, no download)")
def load_digits_task(options: DigitsOptions, source: None, seed: int) -> Task:
    """The digits task; rows in `indices` refer to `sklearn.datasets.load_digits()` order."""
    bunch = load_digits()
    images = (bunch.images / PIXEL_MAX).astype(np.float32)  # (1797, 8, 8) in [0, 1]
    labels = bunch.target.astype(np.int64)
    rows = three_way(np.arange(len(labels)), options.test_fraction, options.val_fraction, seed, labels)
    arrays = {f"{part}_{s}": data[rows[s]] for s in rows for part, data in (("x", images), ("y", labels))}
    return Task(
        name="digits", kind="classify", num_outputs=10, input_size=8, seq_len=8, **arrays,
        indices=rows,
        info={"source": "scikit-learn load_digits (UCI optdigits test set, 1,797 images)",
              "pixel_scale": f"divided by {PIXEL_MAX:g}"},
    )
