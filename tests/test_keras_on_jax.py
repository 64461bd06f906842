"""Keras on JAX, the backend the GPU machine runs Keras on (it has no TensorFlow).

The rest of the tests run Keras on TensorFlow. Here, where JAX is installed (the `jax`
extra, which `tox -e test` installs), the Keras files rerun with KERAS_BACKEND=jax in a
fresh process (a process picks its Keras backend once, at import), and one small sweep
goes through the harness on JAX. So a Keras cell or runner change that breaks JAX fails
on a CPU, before GPU time is spent on it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest
from cell_cases import ONLY_CELLS_ENV

from bench.cells import get_spec, list_cells

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
# the test files that exercise Keras code paths, rerun on JAX in one process (one Keras and JAX start-up), and the
# -k filter that picks their cases that can differ by backend: test_cells_reference.py's Keras parameters at its
# first shape (the second, input wider than hidden, checks the cell's arithmetic, which the backend does not
# change), but not its parameter counts (the layer's weights, whatever runs them); the runners' training from one
# start on a custom GRU (on JAX it is the runner that is new, not the cell, which the reference cases cover; a
# native layer trains on JAX in the harness test below); not the runners' Adam comparison, which reruns Keras's
# one Adam, the same code on both backends; not the torch-only question of nn.RNN's and nn.LSTM's second bias
RERUN_ON_JAX = ("test_cells_tf.py", "test_cells_reference.py", "test_runners_agree.py")
RERUN_SELECTED = ("not kerass_adam_step and (keras or not test_cells_reference) and not parameter_count_is_the_specs "
                  "and not B2T4I7H5 "
                  "and not (train_a_cell_alike_from_one_start and not gru0) "
                  "and not trains_its_bias_twice_as_fast")
RERUN_TIMEOUT_S = 900  # about three minutes alone on two cores, more beside the other test worker


def cells_on_jax() -> list[str]:
    """The first registered cell of each family and kind (custom, native): gru0, gru4, lstm, mgu, ...

    The variants of a family (gru1-3, mgu1-3, ...) differ from their first in which terms feed a gate,
    not in the Keras operations they call, which is what a backend changes; every cell runs on
    TensorFlow in the rest of the tests. Half the cells halve the rerun.
    """
    first: dict[tuple[str, bool], str] = {}
    for name in list_cells():
        spec = get_spec(name)
        first.setdefault((spec.family, spec.native), name)
    return sorted(first.values())


pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(importlib.util.find_spec("jax") is None or keras.backend.backend() == "jax",
                                 reason="JAX is not installed (pip install -e .[jax]), or this run is already on JAX")]


def _on_jax(*args: str, timeout: float = RERUN_TIMEOUT_S) -> subprocess.CompletedProcess:
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3", ONLY_CELLS_ENV: ",".join(cells_on_jax())}
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_the_keras_tests_pass_on_jax():
    result = _on_jax("-m", "pytest", *(str(TESTS / name) for name in RERUN_ON_JAX), "-q", "-p", "no:cacheprovider",
                     "-k", RERUN_SELECTED)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and " failed" not in result.stdout and " deselected" in result.stdout


def test_the_jax_rerun_covers_each_family_custom_and_native():
    chosen = cells_on_jax()
    kinds = {(get_spec(name).family, get_spec(name).native) for name in list_cells()}
    assert len(chosen) == len(kinds) and {(get_spec(n).family, get_spec(n).native) for n in chosen} == kinds
    assert {"gru0", "gru4", "mgu", "lstm", "lstm_native", "rnn", "rnn_native"} <= set(chosen)


def test_the_harness_trains_and_times_keras_on_jax(tmp_path):
    """A training run and a timed step per cell, through `bench run` and its job processes, on JAX."""
    out = tmp_path / "jax.jsonl"
    result = _on_jax("-m", "bench", "run", "--cells", "gru0", "gru4", "--frameworks", "keras", "--keras-backend",
                     "jax", "--measure", "both", "--tasks", "digits", "--hidden", "16", "--lr", "1e-2", "--epochs", "1",
                     "--warmup-steps", "1", "--timed-steps", "3", "--threads", "1", "--no-progress", "--no-report",
                     "--output", str(out), timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    records = {r["identity"]["cell"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert set(records) == {"gru0", "gru4"}
    for cell, record in records.items():
        assert record["status"] == "ok", record["error"]
        assert (record["identity"]["backend"], record["identity"]["mode"]) == ("jax", "xla")
        assert record["environment"]["versions"].get("jax"), "the record names the JAX it ran on"
        assert record["train"]["test_metric"] > 0.15  # better than chance (0.1)
        assert record["timing"]["train_step"]["n"] == 3 and record["timing"]["train_step"]["median_s"] > 0
    assert records["gru4"]["native_path"] and records["gru0"]["native_path"] is None
