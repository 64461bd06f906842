"""What a replication experiment is: a suite, its published numbers and claims, and what differs.

`PublishedReference` (bench.suites) names a task, cell and metric; a replication also
needs to say which of our rows a number stands beside (layers, hidden size, loss …),
so `Reference` adds a filter on job identity fields and the split the source scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.suites import PublishedReference, Suite

REPORTS_ROOT = "reports/replication"  # one folder per experiment under this, relative to the repo root


@dataclass(frozen=True)
class Reference(PublishedReference):
    """A published number plus which of our rows it stands beside."""

    setting: str = ""  # the source's configuration in words, e.g. "2 layers × 256"
    # identity fields (as in Job.identity(), task options as "task_options.KEY") our rows must match;
    # a value of None means the option was not given
    where: tuple[tuple[str, Any], ...] = ()
    split: str = "test"  # which of our scores to set beside it: "test" or "val" (last epoch)


@dataclass(frozen=True)
class Claim:
    """A qualitative published result: the report shows our numbers for `cells` beside it."""

    source: str  # citation
    text: str  # the claim, quoted or paraphrased
    cells: tuple[str, ...]  # registry names whose results bear on it
    baseline: str | None = None  # cell the others are compared with (differences are shown), if any


@dataclass(frozen=True)
class Experiment:
    """One row of the replication issue: what the source did, what we run, how it differs."""

    name: str  # folder name under reports/replication and the argument of `bench replicate`
    title: str  # heading of the report
    suite: Suite  # what `bench run --suite` runs; its references are the published numbers
    source_setup: str  # the source's setup, as published
    our_setup: str  # what our suite runs, and every way it differs from the source
    claims: tuple[Claim, ...] = ()  # qualitative published results
    length_curve: bool = False  # plot and tabulate extra_tests "length=L" (binary addition)
    # more of the planned grid, as suites of their own (e.g. the sizes that want a GPU); their
    # records go into the same folder and the same report
    extra_suites: tuple[Suite, ...] = ()
    loss_curves: bool = False  # plot training-loss curves per cell (the noise comparison)

    @property
    def references(self) -> tuple[PublishedReference, ...]:
        return self.suite.references

    @property
    def suites(self) -> tuple[Suite, ...]:
        """The main suite, then the extra ones."""
        return (self.suite, *self.extra_suites)

    @property
    def folder(self) -> str:
        return f"{REPORTS_ROOT}/{self.name}"
