"""How far an array is from what it should be, and where the worst of it is."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    """|got − want| ≤ atol + rtol·|want|, elementwise (numpy.isclose's rule)."""

    atol: float  # absolute part
    rtol: float  # relative part, for cells whose values are not bounded (no tanh on the output)

    def __str__(self) -> str:
        return f"{self.atol:g} + {self.rtol:g}·|ref|"


# float32 implementations against the float64 reference, here and in the per-cell tests (which take the atol
# alone): a few steps of bounded activations stay near 1e-7; backpropagation through time accumulates more
# rounding over every step and batch row (seen near 2e-6)
FORWARD_TOLERANCE = Tolerance(atol=1e-5, rtol=1e-5)
GRADIENT_TOLERANCE = Tolerance(atol=1e-4, rtol=1e-4)
# the NumPy backward against finite differences of the forward, both float64
REFERENCE_GRADIENT_TOLERANCE = Tolerance(atol=1e-6, rtol=1e-6)
# two float32 implementations of the same math (Keras against torch, a cell against its declared twin)
PAIR_TOLERANCE = Tolerance(atol=1e-5, rtol=1e-5)
# a reference against its twin's reference with mapped weights, both float64
REFERENCE_PAIR_TOLERANCE = Tolerance(atol=1e-10, rtol=1e-10)


@dataclass(frozen=True)
class Deviation:
    """The worst element of got − want, measured against a tolerance."""

    max_abs: float  # largest |got − want|
    excess: float  # largest |got − want| / (atol + rtol·|want|): above 1 fails
    index: tuple[int, ...]  # where `excess` is largest
    tolerance: Tolerance

    @property
    def ok(self) -> bool:
        return self.excess <= 1.0

    def figure(self) -> str:
        return f"max |Δ| {self.max_abs:.2g} (allowed {self.tolerance})"


def deviation(got: np.ndarray, want: np.ndarray, tolerance: Tolerance) -> Deviation:
    """Compare two arrays of one shape; a NaN or infinity anywhere is an infinite deviation there."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    diff = np.abs(got - want)
    excess = diff / (tolerance.atol + tolerance.rtol * np.abs(want))
    excess = np.where(np.isfinite(excess), excess, np.inf)
    index = np.unravel_index(int(np.argmax(excess)), excess.shape) if excess.size else ()
    return Deviation(max_abs=float(np.nanmax(np.where(np.isfinite(diff), diff, np.inf))) if diff.size else 0.0,
                     excess=float(excess[index]) if excess.size else 0.0, index=tuple(int(i) for i in index),
                     tolerance=tolerance)


def where_in_sequence(index: tuple[int, ...]) -> str:
    """A (batch, time, unit) index in words."""
    batch, step, unit = index
    return f"time step {step}, output unit {unit} (batch row {batch})"


def where_in_input(index: tuple[int, ...]) -> str:
    batch, step, feature = index
    return f"d input: time step {step}, feature {feature} (batch row {batch})"
