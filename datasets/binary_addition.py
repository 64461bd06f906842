"""`binary_addition`: add two binary numbers fed least significant bit first.

Step t carries bit t of both operands (2 inputs) and asks for bit t of the sum (1
output, BCE per step). Operands of `length` bits get one extra step with zero inputs
for the final carry, so sequences have `length + 1` steps. Training uses length 5;
`make_split` builds a split at any length (1 to MAX_LENGTH) for the
bit-accuracy-versus-length curve, and the `eval_lengths` option puts such splits in
`task.extra_tests` as "length=L". Under the default protocol train, val and test are
disjoint sets of distinct pairs; `protocol="sampled"` draws batches of pairs with
replacement, as the source's generator did (see datasets.splits.PROTOCOLS).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import OptionError
from .registry import register
from .splits import check_sampled, sampled_split, share_seen
from .task import Task

MAX_LENGTH = 30  # operands of up to 30 bits: pair codes (2**60) and sums stay inside int64
CARRY_STEPS = 1  # extra step for the final carry
BIT_LOSSES = ("bce", "sigmoid_mse")  # losses for 0/1 bit targets


@dataclass(frozen=True)
class BinaryAdditionOptions:
    """Options of the `binary_addition` task."""

    length: int = 5  # bits per operand in train/val/test; sequences have length + 1 steps
    n_train: int = 700  # training pairs (all splits together must fit in the 4**length distinct pairs)
    n_val: int = 100  # validation pairs
    n_test: int = 200  # test pairs
    eval_lengths: tuple[int, ...] = ()  # operand lengths of the extra test sets, e.g. range(1, 21)
    n_eval: int = 1000  # pairs per extra test set (all pairs when fewer exist)
    # "bce" (from logits) or "sigmoid_mse" (squared error of the sigmoid output); either way a bit is
    # predicted 1 when the output logit is above 0
    loss: str = "bce"
    protocol: str = "held_out"  # "held_out": the n_* distinct pairs; "sampled": the batches below
    n_batches: int = 500  # sampled: batches of pairs drawn (n_train/n_val/n_test are then unused)
    batch_items: int = 100  # sampled: pairs per batch
    train_fraction: float = 0.8  # sampled: share of the batches that train; the rest test (and validate)

    def __post_init__(self) -> None:
        _check_length("length", self.length)
        for name in ("n_train", "n_val", "n_test", "n_eval"):
            if getattr(self, name) < 1:
                raise OptionError(f"{name} must be at least 1, got {getattr(self, name)}")
        check_sampled(self.protocol, self.n_batches, self.batch_items, self.train_fraction)
        total = self.n_train + self.n_val + self.n_test
        if self.protocol == "held_out" and total > 4 ** self.length:
            raise OptionError(f"{total} distinct pairs requested but only 4**{self.length} = {4 ** self.length} "
                              f"exist at length {self.length}; lower n_train/n_val/n_test or raise length")
        for value in self.eval_lengths:
            _check_length("each of eval_lengths", value)
        if self.loss not in BIT_LOSSES:
            raise OptionError(f"loss must be one of {', '.join(BIT_LOSSES)}, got {self.loss!r}")


def _check_length(name: str, value: int) -> None:
    if not 1 <= value <= MAX_LENGTH:
        raise OptionError(f"{name} must be between 1 and {MAX_LENGTH} bits, got {value}")


def encode(a: np.ndarray, b: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs float32 (N, length + 1, 2) and targets float32 (N, length + 1, 1) for operands a, b < 2**length."""
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    if a.min(initial=0) < 0 or b.min(initial=0) < 0 or max(a.max(initial=0), b.max(initial=0)) >= 2 ** length:
        raise ValueError(f"operands must lie in [0, 2**{length})")
    steps = np.arange(length + CARRY_STEPS)
    x = np.stack([_bits(a, steps), _bits(b, steps)], axis=-1).astype(np.float32)
    y = _bits(a + b, steps)[..., None].astype(np.float32)
    return x, y


def _bits(values: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """(N, T) bits of `values`, least significant first; operands are zero at the carry step."""
    return (values[:, None] >> steps) & 1


def decode(bits: np.ndarray) -> np.ndarray:
    """Integers (N,) from bit sequences (N, T) or (N, T, 1), least significant bit first."""
    bits = np.asarray(bits).reshape(len(bits), -1).astype(np.int64)
    return (bits << np.arange(bits.shape[1])).sum(axis=1)


def draw_pairs(n: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """min(n, 4**length) distinct operand pairs (a, b), each below 2**length."""
    codes = rng.choice(4 ** length, size=min(n, 4 ** length), replace=False)
    return codes >> length, codes & ((1 << length) - 1)


def make_split(n: int, length: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, None]:
    """(x, y, None) of min(n, 4**length) distinct pairs at operand `length` (1..MAX_LENGTH)."""
    _check_length("length", length)
    a, b = draw_pairs(n, length, np.random.default_rng(seed))
    x, y = encode(a, b, length)
    return x, y, None


@register("binary_addition", BinaryAdditionOptions,
          "add two binary numbers LSB first, 2 bits in and 1 sum bit out per step (length 5 + carry)")
def load_binary_addition(options: BinaryAdditionOptions, source: None, seed: int) -> Task:
    """The binary-addition task: disjoint sets of distinct pairs, or sampled batches cut train/test."""
    rng = np.random.default_rng(seed)
    if options.protocol == "sampled":
        codes = rng.integers(0, 4 ** options.length, size=options.n_batches * options.batch_items)
        train, test, _ = sampled_split(options.n_batches, options.batch_items, options.train_fraction)
        parts = {"train": train, "val": test, "test": test}
        seen = {"test_seen_in_train": share_seen(codes[train], codes[test])}
        a, b = codes >> options.length, codes & ((1 << options.length) - 1)
    else:
        total = options.n_train + options.n_val + options.n_test
        a, b = draw_pairs(total, options.length, rng)
        ends = np.cumsum([options.n_train, options.n_val])
        parts = dict(zip(("train", "val", "test"), np.split(np.arange(total), ends)))
        seen = {}
    x, y = encode(a, b, options.length)
    arrays = {f"{p}_{s}": arr[rows] for s, rows in parts.items() for p, arr in (("x", x), ("y", y))}
    extra = {}
    for length in options.eval_lengths:
        if length == options.length:  # the test split already is a set at this length
            extra[f"length={length}"] = (arrays["x_test"], arrays["y_test"], None)
        else:
            extra[f"length={length}"] = make_split(options.n_eval, length, seed + length)
    return Task(name="binary_addition", kind="per_step", num_outputs=1, input_size=2,
                seq_len=options.length + CARRY_STEPS, loss=options.loss, metric="bit_accuracy",
                extra_tests=extra, **arrays,
                info={"source": "generated: " + ("sampled" if seen else "distinct") + " operand pairs, numpy default_rng(seed)",
                      "bit_order": "least significant bit first; last step has zero inputs and the carry", **seen})
