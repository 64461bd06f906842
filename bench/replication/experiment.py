"""What a replication experiment is: a suite, its published numbers and claims, and what differs.

`PublishedReference` (bench.suites) names a task, cell and metric; a replication also
needs to say which of our rows a number stands beside (layers, hidden size, loss …),
so `Reference` adds a filter on job identity fields and the split the source scored.
"""

from __future__ import annotations

import dataclasses
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
class Ablation:
    """Some of the experiment's runs again with one identity field changed, to test a reading of a gap.

    The ablation's records share the experiment's folder and records file; the side-by-side
    tables leave them out, and the report sets them beside the runs they copy.
    """

    title: str  # heading of its report section
    field: str  # the identity field changed, e.g. "init"
    value: Any  # its value in the ablation's runs; the experiment's own runs have another
    question: str  # what the ablation tests, in words
    suite: Suite  # the runs: the copied grids with `field` set to `value`
    # the ablated runs start from identical weights in both frameworks, so one seed's two runs should end
    # close together: the report then shows the largest gap between them
    same_start: bool = False

    def holds(self, identity: dict[str, Any]) -> bool:
        """Whether a record with this identity is one of the ablation's runs."""
        return identity.get(self.field) == self.value


def shared_init_ablation(suite: Suite, question: str, **narrow: Any) -> Ablation:
    """The suite's training runs again from `init="shared"`: the same model at the start in both frameworks.

    `narrow` replaces Axes fields of every grid to rerun only part of it (e.g. `lrs=(1e-4,)`).
    """
    return Ablation(
        title="the same initial weights in both frameworks",
        field="init", value="shared", question=question, same_start=True,
        suite=Suite(name=f"{suite.name}-shared-init", device=suite.device,
                    description=f"ablation of {suite.name}: its runs from init=shared (the whole model drawn in "
                                "NumPy, identical in both frameworks)",
                    grids=tuple(dataclasses.replace(grid, **narrow, inits=("shared",)) for grid in suite.grids)))


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
    ablations: tuple[Ablation, ...] = ()  # runs that change one field to test a reading of our numbers

    @property
    def references(self) -> tuple[PublishedReference, ...]:
        return self.suite.references

    @property
    def suites(self) -> tuple[Suite, ...]:
        """The main suite, the extra ones, then the ablations'."""
        return (self.suite, *self.extra_suites, *(ablation.suite for ablation in self.ablations))

    def in_ablation(self, identity: dict[str, Any]) -> bool:
        """Whether a record with this identity belongs to an ablation, not to the replication itself."""
        return any(ablation.holds(identity) for ablation in self.ablations)

    @property
    def folder(self) -> str:
        return f"{REPORTS_ROOT}/{self.name}"
