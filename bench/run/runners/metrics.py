"""Losses and metrics in NumPy, from the models' raw outputs: one scorer for both frameworks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HIGHER_IS_BETTER = {"accuracy": True, "bit_accuracy": True, "mse": False}


@dataclass(frozen=True)
class Problem:
    """What the model is trained for, the same in both frameworks."""

    kind: str  # "classify" | "per_step" | "regress"
    loss: str  # "cross_entropy" | "bce" | "mse" | "sigmoid_mse" (squared error of sigmoid(output))
    metric: str  # "accuracy" | "bit_accuracy" | "mse"
    num_outputs: int  # head units
    input_size: int | None  # features per step (None for token input)
    seq_len: int | None  # steps (None when lengths vary)
    vocab_size: int | None  # token tasks: embedding rows
    readout: str | None = None  # the task's readout (Task.readout); None: a dense head chosen by kind

    @property
    def head(self) -> str:
        return self.readout or ("per_step" if self.kind == "per_step" else "last")


def step_weights(lengths: np.ndarray | None, seq_len: int, kind: str) -> np.ndarray | None:
    """(B, T) float mask of valid steps for per-step targets with padding, else None."""
    if lengths is None or kind != "per_step":
        return None
    return (np.arange(seq_len)[None, :] < lengths[:, None]).astype(np.float32)


def score(outputs: np.ndarray, y: np.ndarray, lengths: np.ndarray | None, problem: Problem) -> tuple[float, float]:
    """(loss, metric) of raw outputs against targets, computed in float64 NumPy.

    Per-step losses with padding average over valid steps only, as the training
    losses do (Keras "mean_with_sample_weight", the masked mean in torch).
    """
    out = outputs.astype(np.float64)
    weights = step_weights(lengths, out.shape[1], problem.kind) if out.ndim == 3 else None
    if problem.loss == "cross_entropy":
        logz = _logsumexp(out)
        picked = np.take_along_axis(out, y.astype(np.int64)[..., None], axis=-1)[..., 0]
        per_item = logz - picked
    else:
        target = _target_like(out, y)
        if problem.loss == "bce":
            per_elem = np.maximum(out, 0) - out * target + np.log1p(np.exp(-np.abs(out)))
        elif problem.loss == "sigmoid_mse":
            per_elem = (0.5 * (1.0 + np.tanh(0.5 * out)) - target) ** 2  # sigmoid without overflow
        else:
            per_elem = (out - target) ** 2
        per_item = per_elem.mean(axis=-1)
    loss = _weighted_mean(per_item, weights)

    if problem.metric == "accuracy":
        if problem.loss == "cross_entropy":
            hits = (out.argmax(axis=-1) == y).astype(np.float64)
        else:
            hits = ((out > 0) == (_target_like(out, y) > 0.5)).mean(axis=-1)
        metric = _weighted_mean(hits, weights)
    elif problem.metric == "bit_accuracy":
        hits = ((out > 0) == (_target_like(out, y) > 0.5)).mean(axis=-1)
        metric = _weighted_mean(hits, weights)
    elif problem.metric == "mse":
        metric = _weighted_mean(((out - _target_like(out, y)) ** 2).mean(axis=-1), weights)
    else:
        raise ValueError(f"unknown metric {problem.metric!r}")
    return float(loss), float(metric)


def _logsumexp(a: np.ndarray) -> np.ndarray:
    top = a.max(axis=-1, keepdims=True)
    return (top + np.log(np.exp(a - top).sum(axis=-1, keepdims=True)))[..., 0]


def _target_like(out: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.asarray(y, np.float64).reshape(out.shape)


def _weighted_mean(values: np.ndarray, weights: np.ndarray | None) -> float:
    if weights is None:
        return float(values.mean())
    return float((values * weights).sum() / max(weights.sum(), 1.0))


def epochs_to_target(curve: list[float], target: float | None, metric: str) -> int | None:
    """First epoch (1-based) whose validation metric reaches `target`; None if never or no target."""
    if target is None:
        return None
    better = HIGHER_IS_BETTER[metric]
    for epoch, value in enumerate(curve, start=1):
        if value is not None and (value >= target if better else value <= target):
            return epoch
    return None
