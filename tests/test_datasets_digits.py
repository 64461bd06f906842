"""The bundled digits task: shapes, values, classes, stratified and deterministic splits."""

import numpy as np
from sklearn.datasets import load_digits

import datasets

TOTAL = 1797
# Stratified splits keep each class's share to within one image per class.
STRATIFY_TOLERANCE = 1


def test_shapes_values_and_kind():
    task = datasets.load("digits")
    assert (task.kind, task.num_outputs, task.input_size, task.seq_len) == ("classify", 10, 8, 8)
    sizes = task.sizes()
    assert sum(sizes.values()) == TOTAL
    assert sizes["test"] == round(0.2 * TOTAL)
    for split in ("train", "val", "test"):
        x, y, lengths = task.split(split)
        assert x.dtype == np.float32 and x.shape[1:] == (8, 8) and lengths is None
        assert x.min() == 0.0 and x.max() == 1.0


def test_rows_are_the_bundled_images_scaled():
    bunch = load_digits()
    task = datasets.load("digits", seed=11)
    for split in ("train", "val", "test"):
        x, y, _ = task.split(split)
        rows = task.indices[split]
        np.testing.assert_allclose(x * 16, bunch.images[rows], atol=1e-5)  # rows are image rows, not columns
        np.testing.assert_array_equal(y, bunch.target[rows])


def test_splits_partition_the_images_and_are_stratified():
    task = datasets.load("digits", seed=2)
    all_rows = np.concatenate([task.indices[s] for s in ("train", "val", "test")])
    np.testing.assert_array_equal(np.sort(all_rows), np.arange(TOTAL))
    full = np.bincount(load_digits().target)
    expected_test = full * len(task.y_test) / TOTAL
    assert np.abs(np.bincount(task.y_test, minlength=10) - expected_test).max() <= STRATIFY_TOLERANCE + 0.5
    # the bundled images are all distinct, so contents are disjoint too
    train = {r.tobytes() for r in task.x_train}
    assert not any(r.tobytes() in train for r in task.x_test)


def test_same_seed_same_split_other_seed_other_split():
    a, b, c = datasets.load("digits", seed=5), datasets.load("digits", seed=5), datasets.load("digits", seed=6)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.indices["val"], b.indices["val"])
    assert not np.array_equal(np.sort(a.indices["test"]), np.sort(c.indices["test"]))


def test_fraction_options():
    task = datasets.load("digits", test_fraction=0.5, val_fraction=0.5)
    assert task.sizes()["test"] == round(0.5 * TOTAL)
