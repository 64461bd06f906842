"""Executors run jobs somewhere and stream their records back (local subprocesses, or Ray tasks on a cluster)."""

from bench.run.executors.base import Executor, failure_record
from bench.run.executors.local import LocalExecutor

__all__ = ["Executor", "LocalExecutor", "failure_record"]
