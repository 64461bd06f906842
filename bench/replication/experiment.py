"""What a replication experiment is: a suite, its published numbers and claims, and what differs.

`PublishedReference` (bench.plan.suites) names a task, cell and metric; a replication also
needs to say which of our rows a number stands beside (layers, hidden size, loss …),
so `Reference` adds a filter on job identity fields and the split the source scored.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any

from bench.cells import get_spec, list_cells
from bench.plan.jobs import JOB_DEFAULTS, Axes, Job, identity_value
from bench.plan.knobs import KNOBS
from bench.plan.suites import PublishedReference, Suite

REPORTS_ROOT = "reports/replication"  # one folder per experiment under this, relative to the repo root
# identity fields that change how a model starts or trains but not the model: what ablations set, every knob
# but the learning rate (which the experiments sweep themselves). A run belongs to an ablation only if it holds
# that ablation's value of each (the Job default where it sets none)
SETTING_FIELDS = tuple(knob.name for knob in KNOBS if knob.name != "lr")


@dataclass(frozen=True)
class Reading:
    """Why our rows differ from a published number: a reading some run of ours tests, or a guess no run tests."""

    text: str  # the reading, one sentence
    tested_by: str = ""  # the runs that test it (a row, a suite, an ablation); "" = untested

    def spelled(self) -> str:
        """The side-by-side table's `reading` cell: "tested (by …): …" or "untested: …"."""
        return f"tested (by {self.tested_by}): {self.text}" if self.tested_by else f"untested: {self.text}"


@dataclass(frozen=True)
class Reference(PublishedReference):
    """A published number plus which of our rows it stands beside."""

    setting: str = ""  # the source's configuration in words, e.g. "2 layers × 256"
    # identity fields (as in Job.identity(), task options as "task_options.KEY") our rows must match;
    # a value of None means the option was not given
    where: tuple[tuple[str, Any], ...] = ()
    split: str = "test"  # which of our scores to set beside it: "test" or "val" (last epoch)
    trials: tuple[float, ...] = ()  # the source's per-trial values, where it lists them: its range is shown
    published_std: float | None = None  # the spread the source printed beside its mean, where it printed one
    # whether our rows reproduce the source's setup as far as the source states it (False: our own protocol, an
    # ablation, or a setup the source's differs from in a way it states)
    faithful: bool = False
    reading: Reading | None = None  # why our rows differ, shown where they do (by the strict rule)


@dataclass(frozen=True)
class Claim:
    """A qualitative published result: the report shows our numbers for `cells` beside it."""

    source: str  # citation
    text: str  # the claim, quoted or paraphrased
    cells: tuple[str, ...]  # registry names whose results bear on it
    baseline: str | None = None  # cell the others are compared with (differences are shown), if any
    # loss-curve claims: the epochs whose training loss is tabulated (besides the first and the last), and
    # the source's own numbers at epochs, as (which cells, ((epoch, value as printed), ...)) rows
    epochs: tuple[int, ...] = ()
    published_losses: tuple[tuple[str, tuple[tuple[int, str], ...]], ...] = ()
    # identity fields that split our numbers into one row per value (a grid's layers and units); () = pooled
    per: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ablation:
    """Some of the experiment's runs again with one identity field changed, to test a reading of a gap.

    The ablation's records share the experiment's folder and records file; the side-by-side
    tables leave them out, and the report sets them beside the runs they copy: the experiment's
    own, or with `base` another ablation's.
    """

    title: str  # heading of its report section
    field: str  # the identity field changed, e.g. "init"
    value: Any  # its value in the ablation's runs; the runs they copy have the Job default
    question: str  # what the ablation tests, in words
    suite: Suite  # the runs: the copied grids with `field` set to `value`
    # the ablated runs start from identical weights in both frameworks, so one seed's two runs should end
    # close together: the report then shows the largest gap between them
    same_start: bool = False
    # setting fields (SETTING_FIELDS) the copied runs and the ablation's share, when they are another
    # ablation's runs (e.g. (("init", "shared"),)); () = the experiment's own runs
    base: tuple[tuple[str, Any], ...] = ()

    @property
    def setting(self) -> dict[str, Any]:
        """The setting fields of the ablation's runs."""
        return _setting({**dict(self.base), self.field: self.value})

    @property
    def base_setting(self) -> dict[str, Any]:
        """The setting fields of the runs the ablation copies."""
        return _setting({**dict(self.base), self.field: JOB_DEFAULTS[self.field]})

    def holds(self, identity: dict[str, Any]) -> bool:
        """Whether a record with this identity is one of the ablation's runs: one of its suite's jobs.

        (Two ablations can share a setting, e.g. init=shared, over different runs of one experiment.)
        """
        return _matches(identity, self.setting) and Job.from_identity(identity).job_id in self._job_ids

    @functools.cached_property
    def _job_ids(self) -> frozenset[str]:
        return frozenset(job.job_id for job in self.suite.jobs())

    def copies(self, identity: dict[str, Any]) -> bool:
        """Whether a record with this identity is one of the runs the ablation sets its own beside."""
        return _matches(identity, self.base_setting)

    @property
    def setting_changed(self) -> tuple[tuple[str, Any], ...]:
        """The setting fields of the ablation's runs that differ from the Job defaults: another ablation's `base`."""
        return tuple((name, value) for name, value in self.setting.items() if value != JOB_DEFAULTS[name])

    @property
    def base_label(self) -> str:
        """The copied runs in words, for the report."""
        return "the runs above" if not self.base else "the runs with " + ", ".join(f"{k}={v}" for k, v in self.base)


def _setting(changed: dict[str, Any]) -> dict[str, Any]:
    """SETTING_FIELDS at their Job defaults, then `changed` (which may name another field, e.g. epochs)."""
    return {**{name: JOB_DEFAULTS[name] for name in SETTING_FIELDS}, **changed}


def _matches(identity: dict[str, Any], setting: dict[str, Any]) -> bool:
    return all(identity_value(identity, name) == value for name, value in setting.items())


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


def canonical_bias_ablation(base: Ablation, question: str) -> Ablation:
    """`base`'s runs of the cells whose torch layer trains a second bias (nn.RNN, nn.LSTM), again with
    native_bias="canonical": torch's second bias frozen at zero, so both frameworks train one bias per gate.

    The Keras runs are rerun too (the option changes nothing there), so each side of the report's
    table has both frameworks measured under the same setting.
    """
    narrowed = ((grid, tuple(cell for cell in grid.cells or list_cells() if get_spec(cell).native_biases_differ))
                for grid in base.suite.grids)
    grids = tuple(dataclasses.replace(grid, cells=cells, native_biases=("canonical",)) for grid, cells in narrowed
                  if cells)
    if not grids:
        raise ValueError(f"{base.suite.name} runs no cell with a second torch bias (nn.RNN, nn.LSTM): "
                         "a canonical-bias ablation of it would change nothing")
    return _on_top_of(base, "native_bias", "canonical", "one trained bias per gate in both frameworks", question,
                      "canonical-bias", "its nn.RNN/nn.LSTM runs with torch's second bias frozen at zero "
                                        "(native_bias=canonical)", grids)


def keras_adam_ablation(base: Ablation, question: str) -> Ablation:
    """`base`'s runs again with adam_epsilon="keras": torch's Adam adds epsilon where Keras's does, so both
    frameworks take the same optimizer step (bench.run.runners.torch_adam).

    The Keras runs are rerun too (the option changes nothing there), as in canonical_bias_ablation.
    """
    return _on_top_of(base, "adam_epsilon", "keras", "the same Adam step in both frameworks", question, "keras-adam",
                      "its runs with torch's Adam taking Keras's step (adam_epsilon=keras: epsilon 1e-7 on the "
                      "uncorrected root of v)",
                      tuple(dataclasses.replace(grid, adam_epsilons=("keras",)) for grid in base.suite.grids))


def _on_top_of(base: Ablation, field: str, value: Any, title: str, question: str, suffix: str, what: str,
               grids: tuple[Axes, ...]) -> Ablation:
    """An ablation whose runs (`grids`: `base`'s, or some of them, with `field` set to `value`) copy `base`'s:
    they keep its setting and its start, and its suite's name with `suffix`; `what` they run, in words."""
    return Ablation(title=title, field=field, value=value, question=question, same_start=base.same_start,
                    base=base.setting_changed,
                    suite=Suite(name=f"{base.suite.name}-{suffix}", device=base.suite.device,
                                description=f"ablation of {base.suite.name}: {what}", grids=grids))


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
