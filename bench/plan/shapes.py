"""Named input shapes for step timing.

Timing jobs feed random batches of a fixed shape (timing does not depend on the
values), so they need no dataset files; the label says which real task the shape
comes from.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.plan.config import ConfigError


@dataclass(frozen=True)
class TimingShape:
    """The per-sequence shape and the loss of a timing job."""

    seq_len: int  # time steps
    input_size: int  # features per step
    loss: str  # "cross_entropy" (classify from the last step) or "mse" (regress)
    num_outputs: int  # classes or regression outputs of the head
    description: str  # where the shape comes from


TIMING_SHAPES: dict[str, TimingShape] = {
    "mnist": TimingShape(28, 28, "cross_entropy", 10, "MNIST read row by row: 28 steps of 28 pixels"),
    "noise": TimingShape(100, 500, "mse", 10,
                         "random-noise comparison of Dey & Salem: 100 steps of 500 random features"),
    "digits": TimingShape(8, 8, "cross_entropy", 10, "scikit-learn digits: 8 steps of 8 pixels"),
}


def get_shape(label: str) -> TimingShape:
    try:
        return TIMING_SHAPES[label]
    except KeyError:
        raise ConfigError(f"no timing shape named {label!r}; known shapes: {', '.join(sorted(TIMING_SHAPES))}. "
                          "Timing jobs use a named shape as their task.") from None
