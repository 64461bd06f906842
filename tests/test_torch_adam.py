"""`--adam-epsilon keras`: torch's Adam takes Keras's step, weight for weight."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch

from bench.plan.jobs import Job
from bench.run.runners.common import load_problem_and_task
from bench.run.runners.torch_adam import KERAS_ADAM_EPSILON, KerasEpsilonAdam
from bench.run.runners.torch_runner import TorchAdapter

STEPS = 8  # optimizer steps, each on fresh gradients
LR = 0.01
# gradient magnitudes from far below epsilon to far above it: where the two epsilons differ most
SCALES = np.logspace(-10, 0, 11)
# Keras computes the bias corrections 1 - beta^t in float32, where the cancellation costs about 1e-5 of
# the step size early on (measured: up to 1.04e-5 relative on every weight alike); torch in float64
SAME_STEP_RTOL = 5e-5
# torch's own Adam on the same gradients moves the smallest-gradient weights a different amount;
# the weights after STEPS steps must differ by more than this, relative to how far they moved
OTHER_STEP_MIN_GAP = 0.1


def _gradients(seed: int = 0) -> list[np.ndarray]:
    """STEPS gradients for a vector of weights, entry i scaled by SCALES[i], with random signs and sizes."""
    rng = np.random.default_rng(seed)
    return [(rng.uniform(0.5, 1.5, SCALES.size) * rng.choice([-1.0, 1.0], SCALES.size) * SCALES).astype(np.float32)
            for _ in range(STEPS)]


def _keras_steps(start: np.ndarray, gradients: list[np.ndarray]) -> np.ndarray:
    weight = keras.Variable(start)
    optimizer = keras.optimizers.Adam(learning_rate=LR)
    for gradient in gradients:
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(gradient), weight)])
    return keras.ops.convert_to_numpy(weight)


def _torch_steps(start: np.ndarray, gradients: list[np.ndarray], make) -> np.ndarray:
    weight = torch.nn.Parameter(torch.from_numpy(start.copy()))
    optimizer = make([weight])
    for gradient in gradients:
        weight.grad = torch.from_numpy(gradient)
        optimizer.step()
    return weight.detach().numpy()


def test_the_epsilon_is_kerass_default():
    assert KERAS_ADAM_EPSILON == keras.optimizers.Adam().epsilon


@pytest.mark.parametrize("seed", [0, 1])
def test_torch_takes_kerass_adam_step_and_its_own_adam_does_not(seed):
    # Adam's step does not read the weights, so they start at zero: the result is the sum of the steps,
    # free of the rounding that adding steps of 1e-3 to weights near 1 would bring
    start = np.zeros(SCALES.size, np.float32)
    gradients = _gradients(seed)
    by_keras = _keras_steps(start, gradients)
    matched = _torch_steps(start, gradients, lambda params: KerasEpsilonAdam(params, lr=LR))
    own = _torch_steps(start, gradients, lambda params: torch.optim.Adam(params, lr=LR))
    moved = np.abs(by_keras - start)
    assert np.all(moved > 0)  # every weight took steps
    np.testing.assert_allclose(matched - start, by_keras - start, rtol=SAME_STEP_RTOL, atol=0)
    # torch's own Adam: the weights with gradients near epsilon end elsewhere
    assert np.max(np.abs(own - by_keras) / moved) > OTHER_STEP_MIN_GAP


def test_the_epsilon_is_set_per_step_and_the_optimizer_reads_it_back():
    weight = torch.nn.Parameter(torch.zeros(3))
    optimizer = KerasEpsilonAdam([weight], lr=LR)
    for step in (1, 2, 3):
        weight.grad = torch.ones(3)
        optimizer.step()
        assert optimizer.param_groups[0]["eps"] == pytest.approx(KERAS_ADAM_EPSILON / np.sqrt(1 - 0.999 ** step))


def test_a_torch_job_records_which_adam_step_it_took():
    facts = {}
    for adam_epsilon in ("framework", "keras"):
        job = Job(cell="gru0", framework="torch", backend="torch", mode="eager", device="cpu", task="digits",
                  measure="train", hidden_size=4, epochs=1, lr=0.003, adam_epsilon=adam_epsilon)
        facts[adam_epsilon] = TorchAdapter(job, load_problem_and_task(job)[0]).optimizer_facts()
    assert facts["framework"] == {"class": "Adam", "lr": 0.003, "betas": [0.9, 0.999], "epsilon": 1e-8,
                                  "epsilon_added_to": "bias-corrected root of v"}
    assert facts["keras"] == {**facts["framework"], "class": "KerasEpsilonAdam", "epsilon": KERAS_ADAM_EPSILON,
                              "epsilon_added_to": "uncorrected root of v"}
