"""Batches: the same batches in the same order for both frameworks, from NumPy and the seed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.plan.jobs import Job
from bench.run.runners.metrics import Problem, step_weights


@dataclass
class Batch:
    """Host arrays of one batch; lengths None when every sequence is full length."""

    x: np.ndarray  # float32 (B, T, I), or int64 (B, T) token ids
    y: np.ndarray  # targets as the task gives them
    lengths: np.ndarray | None  # int64 (B,) valid steps, padding at the end
    weights: np.ndarray | None  # (B, T) step mask for per-step losses with lengths, else None


def batch_order(n: int, batch_size: int, seed: int, epoch: int,
                groups: np.ndarray | None = None) -> list[np.ndarray]:
    """Index batches of one epoch: a permutation from (seed, epoch), the last partial batch dropped.

    Both frameworks call this, so they see identical batches in identical order;
    dropping the remainder keeps every step the same shape (no recompilation). With
    `groups` (one int per row), each batch holds rows of one group only: every group is
    cut into batches (its remainder dropped) and the batches of all groups are shuffled.
    """
    if n < batch_size:
        raise ValueError(f"the training split has {n} sequences, fewer than one batch of {batch_size}; "
                         "use a smaller --batch-size")
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(n)
    if groups is None:
        return _cut(order, batch_size)
    by_group = [order[groups[order] == group] for group in np.unique(groups)]
    batches = [batch for rows in by_group for batch in _cut(rows, batch_size)]
    if not batches:
        raise ValueError(f"no group of training sequences fills one batch of {batch_size}; use a smaller --batch-size")
    return [batches[i] for i in rng.permutation(len(batches))]


def _cut(rows: np.ndarray, batch_size: int) -> list[np.ndarray]:
    usable = (len(rows) // batch_size) * batch_size
    return [rows[i:i + batch_size] for i in range(0, usable, batch_size)]


def make_batch(x: np.ndarray, y: np.ndarray, lengths: np.ndarray | None, rows: np.ndarray, kind: str) -> Batch:
    lb = None if lengths is None else lengths[rows]
    return Batch(x[rows], y[rows], lb, step_weights(lb, x.shape[1], kind))


def eval_batches(x: np.ndarray, y: np.ndarray, lengths: np.ndarray | None, batch_size: int, kind: str):
    """Batches covering every row once; the last is padded by repeating rows to a full batch.

    A full last batch keeps shapes fixed for compiled modes; yields (batch, rows that count).
    """
    n = len(x)
    for start in range(0, n, batch_size):
        rows = np.arange(start, min(start + batch_size, n))
        valid = len(rows)
        if valid < batch_size:
            rows = np.concatenate([rows, np.resize(np.arange(n), batch_size - valid)])
        yield make_batch(x, y, lengths, rows, kind), valid


def random_batch(job: Job, problem: Problem) -> Batch:
    """A batch of the job's shape with values from its seed (timing does not depend on values)."""
    rng = np.random.default_rng(job.seed)
    x = rng.random((job.batch_size, job.seq_len, job.input_size), dtype=np.float32)
    if problem.loss == "cross_entropy":
        y = rng.integers(0, problem.num_outputs, job.batch_size).astype(np.int64)
    else:
        y = rng.random((job.batch_size, problem.num_outputs), dtype=np.float32)
    return Batch(x, y, None, None)
