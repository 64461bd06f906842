"""The replication experiments in the order of the issue's table, and their suites.

Experiment modules are imported inside the functions, so that listing the experiments'
names (MODULES) costs no import of them.
"""

from __future__ import annotations

import importlib

from bench.plan.config import ConfigError

MODULES = ("notmnist", "notmnist_faithful", "notmnist_grid", "mnist_rows", "mnist_dey_salem", "recall", "binary_addition",
           "noise", "noise_source", "sentiment")


def experiments():
    """Experiment name -> Experiment, in the issue's order."""
    found = [importlib.import_module(f"bench.replication.{module}").EXPERIMENT for module in MODULES]
    return {experiment.name: experiment for experiment in found}


def suites():
    """The replication suites, for bench.plan.suites.SUITES."""
    return [suite for experiment in experiments().values() for suite in experiment.suites]


def get_experiment(name: str):
    """The experiment called `name` (its folder name or its suite name)."""
    every = experiments()
    for experiment in every.values():
        if name in (experiment.name, *(suite.name for suite in experiment.suites)):
            return experiment
    raise ConfigError(f"unknown replication experiment {name!r}; choose from {', '.join(every)} "
                      "(or their suite names, e.g. repl-recall)")
