"""The NumPy scorer and the batch order both frameworks share."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bench.plan.jobs import Job, freeze_options
from bench.run.runners.batches import batch_order, eval_batches
from bench.run.runners.common import first_train_batch, load_problem_and_task
from bench.run.runners.metrics import Problem, epochs_to_target, score

LOSS_TOL = 1e-6  # float64 NumPy against float64 torch


def _problem(kind, loss, metric, outputs):
    return Problem(kind=kind, loss=loss, metric=metric, num_outputs=outputs, input_size=3, seq_len=None,
                   vocab_size=None)


def test_cross_entropy_and_accuracy_match_torch():
    rng = np.random.default_rng(7)
    logits, y = rng.normal(size=(50, 10)), rng.integers(0, 10, 50)
    loss, accuracy = score(logits, y, None, _problem("classify", "cross_entropy", "accuracy", 10))
    assert loss == pytest.approx(F.cross_entropy(torch.tensor(logits), torch.tensor(y)).item(), abs=LOSS_TOL)
    assert accuracy == pytest.approx(np.mean(logits.argmax(1) == y))


def test_per_step_bce_and_bit_accuracy_count_only_valid_steps():
    rng = np.random.default_rng(8)
    out, y = rng.normal(size=(4, 6, 1)), rng.integers(0, 2, (4, 6, 1)).astype(np.float32)
    lengths = np.array([6, 3, 1, 5])
    loss, bits = score(out, y, lengths, _problem("per_step", "bce", "bit_accuracy", 1))
    mask = np.arange(6)[None, :] < lengths[:, None]
    per_elem = F.binary_cross_entropy_with_logits(torch.tensor(out), torch.tensor(y, dtype=torch.float64),
                                                  reduction="none").numpy()[..., 0]
    assert loss == pytest.approx(per_elem[mask].mean(), abs=LOSS_TOL)
    assert bits == pytest.approx(((out[..., 0] > 0) == (y[..., 0] > 0.5))[mask].mean())
    out[~mask] = 1e6  # what padding outputs hold must not matter
    assert score(out, y, lengths, _problem("per_step", "bce", "bit_accuracy", 1))[1] == pytest.approx(bits)


def test_mse_regression():
    rng = np.random.default_rng(9)
    out, y = rng.normal(size=(20, 4)), rng.normal(size=(20, 4))
    loss, mse = score(out, y, None, _problem("regress", "mse", "mse", 4))
    assert loss == pytest.approx(np.mean((out - y) ** 2)) and mse == pytest.approx(loss)


def test_epochs_to_target_respects_the_metric_direction():
    assert epochs_to_target([0.5, 0.79, 0.81, 0.9], 0.8, "accuracy") == 3
    assert epochs_to_target([0.5, 0.6], 0.8, "accuracy") is None
    assert epochs_to_target([0.3, 0.2, 0.09], 0.1, "mse") == 3
    assert epochs_to_target([0.9], None, "accuracy") is None


def test_batch_order_depends_on_seed_and_epoch_and_drops_the_remainder():
    first = batch_order(103, 10, seed=3, epoch=1)
    assert len(first) == 10 and all(len(b) == 10 for b in first)
    assert len(np.unique(np.concatenate(first))) == 100
    assert all((a == b).all() for a, b in zip(first, batch_order(103, 10, seed=3, epoch=1)))
    assert not (np.concatenate(first) == np.concatenate(batch_order(103, 10, seed=3, epoch=2))).all()
    assert not (np.concatenate(first) == np.concatenate(batch_order(103, 10, seed=4, epoch=1))).all()
    with pytest.raises(ValueError, match="fewer than one batch"):
        batch_order(5, 10, seed=0, epoch=1)


def test_batch_order_with_groups_keeps_each_batch_in_one_group():
    groups = np.repeat(np.arange(6), [10, 10, 10, 10, 13, 7])  # 2 batches of 5 each, then 2 (3 left), then 1
    batches = batch_order(len(groups), 5, seed=1, epoch=0, groups=groups)
    assert len(batches) == 11 and all(len(np.unique(groups[rows])) == 1 for rows in batches)
    assert len(np.unique(np.concatenate(batches))) == 55  # each row at most once; remainders dropped
    # the batches' order mixes the groups, and another epoch draws another order
    assert len({int(groups[rows[0]]) for rows in batches[:4]}) > 1
    again = batch_order(len(groups), 5, seed=1, epoch=1, groups=groups)
    assert not (np.concatenate(batches) == np.concatenate(again)).all()
    with pytest.raises(ValueError, match="no group of training sequences fills one batch"):
        batch_order(len(groups), 20, seed=1, epoch=0, groups=groups)


def test_training_batches_follow_the_task_groups():
    """The runners batch a task with training groups (recall's sampled protocol) one group at a time."""
    job = Job(cell="lstm_native", framework="torch", backend="torch", mode="eager", device="cpu", task="recall",
              measure="train", hidden_size=4, batch_size=50, epochs=1, lr=1e-3, seed=5,
              task_options=freeze_options({"protocol": "sampled", "n_batches": 20}))
    problem, task = load_problem_and_task(job)
    assert task.groups_train is not None
    assert len(np.unique(first_train_batch(job, problem, task).lengths)) == 1


def test_eval_batches_keep_one_shape_and_cover_each_row_once():
    x = np.arange(23 * 2 * 1, dtype=np.float32).reshape(23, 2, 1)
    y = np.arange(23)
    seen = []
    for batch, valid in eval_batches(x, y, None, 8, "classify"):
        assert batch.x.shape == (8, 2, 1)
        seen.extend(batch.y[:valid])
    assert seen == list(range(23))


def test_sigmoid_mse_is_the_same_loss_in_numpy_torch_and_keras_and_keeps_the_bit_rule():
    """The binary-addition MSE rows: squared error of sigmoid(output); a bit is 1 when the logit is above 0."""
    from types import SimpleNamespace

    import keras

    from bench.run.runners.keras_runner import _loss as keras_loss
    from bench.run.runners.metrics import step_weights
    from bench.run.runners.torch_runner import TorchAdapter

    rng = np.random.default_rng(9)
    out, y = rng.normal(size=(4, 6, 1)) * 3, rng.integers(0, 2, (4, 6, 1)).astype(np.float32)
    lengths = np.array([6, 3, 1, 5])
    problem = _problem("per_step", "sigmoid_mse", "bit_accuracy", 1)
    loss, bits = score(out, y, lengths, problem)
    mask = np.arange(6)[None, :] < lengths[:, None]
    expected = ((1 / (1 + np.exp(-out[..., 0])) - y[..., 0]) ** 2)[mask].mean()
    assert loss == pytest.approx(expected, abs=LOSS_TOL)
    assert bits == pytest.approx(score(out, y, lengths, _problem("per_step", "bce", "bit_accuracy", 1))[1])

    weights = step_weights(lengths, 6, "per_step")
    torch_value = TorchAdapter._data_loss(SimpleNamespace(problem=problem), torch.tensor(out), torch.tensor(y),
                                          torch.tensor(weights, dtype=torch.float64)).item()
    assert torch_value == pytest.approx(expected, abs=LOSS_TOL)
    keras_value = float(keras_loss("sigmoid_mse")(y, out.astype(np.float32), sample_weight=weights.astype(np.float32)))
    assert keras_value == pytest.approx(expected, abs=1e-6 + 1e-5 * expected)  # float32 in Keras
    assert isinstance(keras_loss("sigmoid_mse"), keras.losses.Loss)


def test_binary_addition_takes_the_loss_as_an_option_and_refuses_others():
    import datasets
    from datasets.errors import OptionError

    task = datasets.load("binary_addition", loss="sigmoid_mse")
    assert (task.loss, task.metric) == ("sigmoid_mse", "bit_accuracy")
    with pytest.raises(OptionError, match="loss must be one of bce, sigmoid_mse"):
        datasets.load("binary_addition", loss="hinge")
