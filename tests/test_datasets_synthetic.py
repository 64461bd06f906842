"""The generated tasks: noise, recall and binary_addition; their targets are checked from the inputs."""

import numpy as np
import pytest

import datasets
from datasets import OptionError
from datasets.binary_addition import MAX_LENGTH
from datasets.splits import share_seen

SPLITS = ("train", "val", "test")


def _rows(task):
    """Every split's sequences as bytes (with lengths), to test that no sequence is in two splits."""
    out = {}
    for split in SPLITS:
        x, _, lengths = task.split(split)
        extra = lengths if lengths is not None else np.zeros(len(x), np.int64)
        out[split] = {row.tobytes() + int(n).to_bytes(2, "little") for row, n in zip(x, extra)}
    return out


def _disjoint(task):
    rows = _rows(task)
    return not (rows["train"] & rows["val"] or rows["train"] & rows["test"] or rows["val"] & rows["test"])


# ---- noise ---------------------------------------------------------------------------


def test_noise_shapes_values_and_objective():
    task = datasets.load("noise", n=50, seq_len=7, features=5, outputs=3, seed=2)
    assert (task.kind, task.loss, task.metric) == ("regress", "mse", "mse")
    assert task.sizes() == {"train": 40, "val": 5, "test": 5}
    assert (task.input_size, task.seq_len, task.num_outputs) == (5, 7, 3)
    for split in SPLITS:
        x, y, lengths = task.split(split)
        assert x.dtype == np.float32 and x.shape[1:] == (7, 5) and lengths is None
        assert y.dtype == np.float32 and y.shape[1:] == (3,)
        assert 0.0 <= x.min() and x.max() < 1.0 and 0.0 <= y.min() and y.max() < 1.0
    # uniform noise: the mean of 1,400 training values is 0.5 within a few standard errors
    assert abs(task.x_train.mean() - 0.5) < 5 * np.sqrt(1 / 12 / task.x_train.size)
    assert len(np.unique(task.y_train)) == task.y_train.size  # random targets, not a constant
    assert _disjoint(task)


def test_noise_default_is_500_features_and_seed_matters():
    a = datasets.load("noise", n=20, seq_len=2, seed=0)
    b = datasets.load("noise", n=20, seq_len=2, seed=0)
    c = datasets.load("noise", n=20, seq_len=2, seed=1)
    assert a.input_size == 500 and a.x_train.shape == (16, 2, 500)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.x_train, c.x_train)


def test_noise_refuses_a_huge_request():
    with pytest.raises(OptionError, match="GiB limit"):
        datasets.load("noise", n=1_000_000, seq_len=100)


# ---- recall --------------------------------------------------------------------------


@pytest.mark.parametrize("position", [0, 1, 2])
def test_recall_target_is_the_digit_at_the_position(position):
    task = datasets.load("recall", n_train=400, n_val=100, n_test=100, position=position, seed=position)
    assert task.seq_len is None and task.input_size == 10 and task.num_outputs == 10
    for split in SPLITS:
        x, y, lengths = task.split(split)
        assert x.shape[1:] == (10, 10) and lengths.dtype == np.int64
        assert lengths.min() >= 3 and lengths.max() <= 10
        for seq, label, length in zip(x, y, lengths):
            assert (seq[:length].sum(axis=1) == 1).all()  # one digit per valid step
            assert not seq[length:].any()  # padding at the end is all zeros
            assert seq[position].argmax() == label


def test_recall_covers_all_lengths_and_splits_are_disjoint():
    task = datasets.load("recall", seed=0)
    assert task.sizes() == {"train": 5000, "val": 500, "test": 1000}
    assert set(np.unique(task.lengths_train)) == set(range(3, 11))
    assert _disjoint(task)
    # labels use every digit, about equally often
    counts = np.bincount(task.y_train, minlength=10)
    assert counts.min() > 0.8 * counts.mean()


def test_recall_fixed_length_has_seq_len_and_no_lengths():
    task = datasets.load("recall", min_len=4, max_len=4, n_train=50, n_val=10, n_test=10)
    assert task.seq_len == 4 and task.lengths_train is None


def test_recall_refuses_more_sequences_than_exist():
    with pytest.raises(OptionError, match="only 1100 exist"):
        datasets.load("recall", min_len=2, max_len=3, n_train=1000, n_val=100, n_test=1)


def test_recall_sampled_protocol_draws_one_length_per_batch_with_replacement():
    task = datasets.load("recall", protocol="sampled", n_batches=40, batch_items=25, train_fraction=0.75, seed=2)
    assert task.sizes() == {"train": 750, "val": 250, "test": 250}
    np.testing.assert_array_equal(task.x_val, task.x_test)  # the source had no validation split
    groups = task.groups_train
    assert groups.shape == (750,) and len(np.unique(groups)) == 30
    for group in np.unique(groups):  # a generated batch is one length
        assert len(np.unique(task.lengths_train[groups == group])) == 1
    assert len(np.unique(task.lengths_test)) > 1
    # drawn with replacement: the short sequences repeat, and the share of test items seen in training is counted
    keys = {row.tobytes() for row in task.x_train}
    seen = np.mean([row.tobytes() in keys for row in task.x_test])
    assert task.info["test_seen_in_train"] == pytest.approx(seen)


def test_sampled_test_items_are_counted_as_seen_when_they_repeat():
    train = np.array([[1, 2], [3, 4], [1, 2]])
    assert share_seen(train, np.array([[1, 2], [5, 6], [3, 4], [4, 3]])) == 0.5


@pytest.mark.parametrize("task", ["recall", "binary_addition"])
@pytest.mark.parametrize("options, message", [
    ({"protocol": "bootstrap"}, "protocol must be one of held_out, sampled"),
    ({"protocol": "sampled", "n_batches": 1}, "n_batches must be at least 2"),
    ({"protocol": "sampled", "n_batches": 4, "train_fraction": 0.9}, "leaves a split without a batch"),
])
def test_sampled_protocol_bad_options(task, options, message):
    with pytest.raises(OptionError, match=message):
        datasets.load(task, **options)


# ---- binary addition -----------------------------------------------------------------


def _value(bits):
    """Integer of LSB-first bits (N, T): written out here, independent of the package's decode."""
    return (bits.astype(np.int64) * (2 ** np.arange(bits.shape[1], dtype=np.int64))).sum(axis=1)


def _check_sums(x, y, length):
    assert x.shape[1:] == (length + 1, 2) and y.shape[1:] == (length + 1, 1)
    assert set(np.unique(x)) <= {0.0, 1.0} and set(np.unique(y)) <= {0.0, 1.0}
    assert not x[:, -1].any()  # the carry step has no input bits
    np.testing.assert_array_equal(_value(y[..., 0]), _value(x[..., 0]) + _value(x[..., 1]))


def test_binary_addition_sum_bits_are_the_sum():
    task = datasets.load("binary_addition", seed=3)
    assert (task.kind, task.loss, task.metric) == ("per_step", "bce", "bit_accuracy")
    assert (task.seq_len, task.input_size, task.num_outputs) == (6, 2, 1)
    for split in SPLITS:
        x, y, lengths = task.split(split)
        assert lengths is None and x.dtype == np.float32 and y.dtype == np.float32
        _check_sums(x, y, 5)
    # some sums need the carry step, and the top bit is not always zero
    assert task.y_train[:, -1].any() and not task.y_train[:, -1].all()
    assert _disjoint(task)


def test_binary_addition_sampled_protocol_reuses_pairs_across_splits():
    task = datasets.load("binary_addition", protocol="sampled", n_batches=50, batch_items=100, seed=4)
    assert task.sizes() == {"train": 4000, "val": 1000, "test": 1000}
    _check_sums(task.x_train, task.y_train, 5)
    # 4,000 draws of 1,024 pairs: pairs repeat inside training, and most test pairs were trained on
    assert len({row.tobytes() for row in task.x_train}) < 1024
    assert task.info["test_seen_in_train"] > 0.9
    assert task.groups_train is None  # every pair has the same length: batches need not be kept whole
    # more pairs than exist at length 3 is fine when sampling, refused when holding out distinct ones
    assert datasets.load("binary_addition", protocol="sampled", length=3, n_train=60).sizes()["train"] == 40_000
    with pytest.raises(OptionError, match="only 4\\*\\*3 = 64 exist"):
        datasets.load("binary_addition", length=3, n_train=60)


def test_binary_addition_extra_tests_at_requested_lengths():
    task = datasets.load("binary_addition", eval_lengths=[1, 5, 7, 20], n_eval=300, seed=1)
    assert sorted(task.extra_tests) == ["length=1", "length=20", "length=5", "length=7"]
    x1, y1, l1 = task.extra_tests["length=1"]
    assert len(x1) == 4 and l1 is None  # all four pairs of one-bit numbers
    _check_sums(x1, y1, 1)
    for length in (7, 20):
        x, y, lengths = task.extra_tests[f"length={length}"]
        assert len(x) == 300 and lengths is None
        _check_sums(x, y, length)
        assert len({row.tobytes() for row in x}) == 300  # distinct pairs
    np.testing.assert_array_equal(task.extra_tests["length=5"][0], task.x_test)


def test_make_split_builds_any_length():
    x, y, lengths = datasets.make_binary_addition_split(50, 12, seed=9)
    _check_sums(x, y, 12)
    again, _, _ = datasets.make_binary_addition_split(50, 12, seed=9)
    np.testing.assert_array_equal(x, again)
    with pytest.raises(OptionError, match=f"between 1 and {MAX_LENGTH}"):
        datasets.make_binary_addition_split(5, MAX_LENGTH + 1)


@pytest.mark.parametrize("options, message", [
    ({"length": 3, "n_train": 60}, "only 4\\*\\*3 = 64 exist"),
    ({"eval_lengths": [0, 4]}, "each of eval_lengths must be between 1"),
    ({"eval_lengths": 7}, "'eval_lengths' must be a list or tuple of int"),
])
def test_binary_addition_bad_options(options, message):
    with pytest.raises(OptionError, match=message):
        datasets.load("binary_addition", **options)
