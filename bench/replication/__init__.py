"""Replications of the source experiments: one module per experiment, each a named suite.

Importing the package registers the experiments' suites with bench.plan.suites (the CLI imports it
for `bench replicate`, so `bench run --suite repl-…` and `bench list` see them).
"""

from bench.replication.catalog import suites as _suites
from bench.plan.suites import register_suites

register_suites(_suites())
