"""The task registry, option checking, limits, the Task contract, and every task's basic promises."""

import json

import numpy as np
import pytest

import datasets
from datasets import OptionError, Task, TaskContractError, UnknownTaskError
from datasets_fixtures import isolated_env, require_data  # noqa: F401

EXPECTED_TASKS = ["binary_addition", "digits", "mnist", "noise", "notmnist", "recall", "sentiment"]
# Small, fast options per task, and the data files each one needs.
QUICK = {
    "binary_addition": ({"n_train": 60, "n_val": 20, "n_test": 20}, []),
    "digits": ({}, []),
    "mnist": ({"limit_train": 300, "limit_val": 100, "limit_test": 100}, ["mnist/" + f for f in (
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")]),
    "noise": ({"n": 60, "seq_len": 4, "features": 6, "outputs": 3}, []),
    "notmnist": ({"limit_train": 300}, ["notmnist_small_10k/t10k-images-idx3-ubyte.gz",
                                        "notmnist_small_10k/t10k-labels-idx1-ubyte.gz"]),
    "recall": ({"n_train": 80, "n_val": 20, "n_test": 20}, []),
    "sentiment": ({"source": "uci", "vocab_size": 500}, ["sentiment/amazon_cells_labelled.txt",
                                                          "sentiment/imdb_labelled.txt",
                                                          "sentiment/yelp_labelled.txt"]),
}


def test_list_tasks_is_sorted_and_complete():
    assert datasets.list_tasks() == EXPECTED_TASKS


def test_unknown_task_lists_valid_names():
    with pytest.raises(UnknownTaskError) as err:
        datasets.load("nope")
    assert isinstance(err.value, KeyError)
    for name in EXPECTED_TASKS:
        assert name in str(err.value)


def test_a_near_miss_task_is_pointed_at_the_task_it_resembles():
    with pytest.raises(UnknownTaskError, match=r"unknown task 'MNIST' \(did you mean 'mnist'\?\); valid tasks"):
        datasets.load("MNIST")


def test_unknown_option_lists_valid_options():
    with pytest.raises(OptionError, match="no option.*'hidden'.*valid options:.*test_fraction"):
        datasets.load("digits", hidden=3)


def test_file_options_only_for_file_tasks():
    with pytest.raises(OptionError, match="no option.*'mirrors'"):
        datasets.load("digits", mirrors=["http://127.0.0.1:1/"])


@pytest.mark.parametrize("options, message", [
    ({"n_train": 10.5}, "'n_train' must be int"),
    ({"n_train": True}, "'n_train' must be int"),
    ({"position": "1"}, "'position' must be int"),
    ({"position": 3}, r"position must lie in \[0, min_len\)"),
    ({"limit_train": 0}, "limit_train must be at least 1"),
])
def test_bad_option_values_are_refused_with_the_reason(options, message):
    with pytest.raises(OptionError, match=message):
        datasets.load("recall", **options)


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True, 2**32])
def test_bad_seed_is_refused(seed):
    with pytest.raises(OptionError, match="seed must be an int"):
        datasets.load("digits", seed=seed)


def test_task_options_lists_defaults():
    options = datasets.task_options("mnist")
    assert options["val_size"] == 5000
    assert options["download"] is True and options["limit_train"] is None
    assert "mirrors" not in datasets.task_options("recall")


def test_limits_take_a_seeded_subset_of_each_split():
    full = datasets.load("digits", seed=3)
    cut = datasets.load("digits", seed=3, limit_train=100, limit_test=50)
    assert cut.sizes() == {"train": 100, "val": full.sizes()["val"], "test": 50}
    assert set(cut.indices["train"]) <= set(full.indices["train"])
    # the kept rows are the same rows of the source, with their own labels
    position = {row: i for i, row in enumerate(full.indices["train"])}
    picked = [position[row] for row in cut.indices["train"]]
    np.testing.assert_array_equal(cut.x_train, full.x_train[picked])
    np.testing.assert_array_equal(cut.y_train, full.y_train[picked])
    assert cut.info["limits"] == {"train": 100, "test": 50}
    again = datasets.load("digits", seed=3, limit_train=100, limit_test=50)
    np.testing.assert_array_equal(again.indices["train"], cut.indices["train"])


def _tiny_task(**changes):
    rng = np.random.default_rng(7)
    arrays = {}
    for split, n in (("train", 5), ("val", 3), ("test", 4)):
        arrays[f"x_{split}"] = rng.random((n, 6, 2), dtype=np.float32)
        arrays[f"y_{split}"] = rng.integers(0, 3, n)
    arrays.update(changes)
    return Task(name="tiny", kind="classify", num_outputs=3, input_size=2, seq_len=6, **arrays)


def test_task_contract_accepts_a_valid_task_and_fills_loss_and_metric():
    task = _tiny_task()
    assert (task.loss, task.metric) == ("cross_entropy", "accuracy")
    x, y, lengths = task.split("val")
    assert x.shape == (3, 6, 2) and y.shape == (3,) and lengths is None


@pytest.mark.parametrize("changes, message", [
    ({"x_train": np.zeros((5, 6, 2))}, "x must be float32"),
    ({"y_val": np.array([0, 1, 3])}, r"labels must lie in \[0, 3\)"),
    ({"y_test": np.zeros(4, np.int32)}, "classify targets must be int64"),
    ({"x_test": np.zeros((4, 5, 2), np.float32)}, "seq_len is 6 but x has 5 steps"),
    ({"lengths_train": np.full(5, 6, np.int64)}, "lengths given although seq_len is fixed"),
])
def test_task_contract_rejects_a_broken_task(changes, message):
    with pytest.raises(TaskContractError, match=message):
        _tiny_task(**changes)


def test_require_data_fails_under_ci_and_skips_elsewhere(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="absent"):
        require_data("no/such/file.gz")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="absent"):
        require_data("no/such/file.gz")


@pytest.mark.parametrize("name", EXPECTED_TASKS)
def test_every_task_keeps_its_promises(name, isolated_env):  # noqa: F811 - the fixture
    options, files = QUICK[name]
    data_dir = require_data(*files) if files else None
    task = datasets.load(name, data_dir=data_dir, seed=5, **options)
    assert task.name == name
    assert task.info["seed"] == 5 and task.info["task"] == name
    json.dumps(task.info)  # provenance goes into JSON result records as is
    for split in ("train", "val", "test"):
        x, y, lengths = task.split(split)
        assert len(x) == len(y) > 0
        assert (lengths is None) == (task.seq_len is not None)
        assert np.isfinite(x).all()
    if task.indices:
        train, val, test = (set(task.indices[s].tolist()) for s in ("train", "val", "test"))
        assert not (train & val or train & test or val & test)
    again = datasets.load(name, data_dir=data_dir, seed=5, **options)
    for split in ("train", "val", "test"):
        for a, b in zip(task.split(split), again.split(split)):
            if a is not None:
                np.testing.assert_array_equal(a, b)
