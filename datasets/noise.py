"""`noise`: uniform random inputs `rand(N, T, features)` with uniform random targets, fit by MSE.

The random-noise comparison of GRU0–GRU4: there is nothing to learn beyond memorising
the training set, so it isolates how fast each variant fits (and how fast it runs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import OptionError
from .registry import register
from .splits import check_fraction
from .task import Task

MAX_BYTES = 2 << 30  # refuse inputs over 2 GiB: almost surely a typo in N, T or features


@dataclass(frozen=True)
class NoiseOptions:
    """Options of the `noise` task."""

    n: int = 1000  # sequences in all (N), before the split
    seq_len: int = 20  # steps per sequence (T)
    features: int = 500  # values per step
    outputs: int = 10  # regression targets per sequence
    val_fraction: float = 0.1  # share of N for validation
    test_fraction: float = 0.1  # share of N for test
    # "dense": a dense head maps the last state to the targets; "state": the last state IS the prediction
    # (outputs must then equal the hidden size), as the source trained its cells
    readout: str = "dense"

    def __post_init__(self) -> None:
        for name in ("n", "seq_len", "features", "outputs"):
            if getattr(self, name) < 1:
                raise OptionError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.readout not in ("dense", "state"):
            raise OptionError(f"readout must be 'dense' or 'state', got {self.readout!r}")
        check_fraction("val_fraction", self.val_fraction)
        check_fraction("test_fraction", self.test_fraction)
        size = self.n * self.seq_len * self.features * 4
        if size > MAX_BYTES:
            raise OptionError(f"n*seq_len*features = {size // 4} float32 values ({size / 2**30:.1f} GiB) is over "
                              f"the {MAX_BYTES >> 30} GiB limit; lower n, seq_len or features")


@register("noise", NoiseOptions, "random-noise regression: rand(N, T, 500) inputs, random targets, MSE")
def load_noise(options: NoiseOptions, source: None, seed: int) -> Task:
    """The noise task: rows are independent draws, so consecutive blocks make disjoint splits."""
    rng = np.random.default_rng(seed)
    x = rng.random((options.n, options.seq_len, options.features), dtype=np.float32)
    y = rng.random((options.n, options.outputs), dtype=np.float32)
    n_val = round(options.val_fraction * options.n)
    n_test = round(options.test_fraction * options.n)
    n_train = options.n - n_val - n_test
    if min(n_train, n_val, n_test) < 1:
        raise OptionError(f"n={options.n} with val_fraction={options.val_fraction} and "
                          f"test_fraction={options.test_fraction} leaves a split empty; raise n")
    cuts = {"train": slice(0, n_train), "val": slice(n_train, n_train + n_val), "test": slice(n_train + n_val, None)}
    arrays = {f"{p}_{s}": a[c] for s, c in cuts.items() for p, a in (("x", x), ("y", y))}
    return Task(name="noise", kind="regress", num_outputs=options.outputs, input_size=options.features,
                seq_len=options.seq_len, readout=None if options.readout == "dense" else "state", **arrays,
                info={"source": "generated: numpy default_rng(seed).random, uniform in [0, 1)"})
