"""The named suites, as data.

A suite is a list of grids (each an `Axes`, expanded into its cross product) plus the
device it is meant for. Cells are never listed by hand: an empty `cells` axis means
every cell in the registry, so a newly registered cell joins every suite.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Iterable

from bench.plan.config import DEFAULT_JOB_TIMEOUT_S, REPO_ROOT, ConfigError, TimingConfig
from bench.plan.jobs import Axes, Job, dedupe, expand
from bench.plan.shapes import TIMING_SHAPES


@dataclass(frozen=True)
class PublishedReference:
    """A number from a paper that a replication suite sets its results beside."""

    source: str  # citation, e.g. "Dey & Salem 2017, Table 2"
    task: str  # task name as in datasets.list_tasks()
    cell: str  # registry name
    metric: str  # "accuracy", "bit_accuracy", "mse"
    value: float  # the published value
    note: str = ""  # conditions (epochs, sizes, learning rate) that differ from ours


@dataclass(frozen=True)
class Suite:
    """What `bench run --suite NAME` runs."""

    name: str  # CLI name
    description: str  # one line for `bench list`
    device: str  # "cpu" or "cuda": the device every grid of the suite runs on
    grids: tuple[Axes, ...]  # expanded one after another, in order
    # published numbers to compare with (the replication suites')
    references: tuple[PublishedReference, ...] = ()
    # plugin files (relative to the repository root) whose cells the grids run, e.g. the example cells
    # as a source published them; loaded (bench.plan.plugins) before the jobs are listed
    plugins: tuple[str, ...] = ()
    timeout_s: float = DEFAULT_JOB_TIMEOUT_S  # per-job wall-clock limit (`--timeout` overrides it)
    # one process per framework runs job after job (bench.run.executors.local); `--no-reuse-processes` overrides it
    reuse_processes: bool = False

    def jobs(self, overrides: dict[str, Any] | None = None) -> list[Job]:
        """All jobs of the suite; `overrides` replaces axes of every grid (the CLI's axes).

        Axes that do not apply to a grid are left alone there: `tasks`, `epochs`,
        `target` and `task_options` only change train grids, `seq_len`, `input_size`,
        `warmup_steps` and `timed_steps` only change timing grids. A timing grid's tasks
        are shape labels: where `tasks` names some, they select the timing grids of
        those shapes (`--suite gpu --tasks noise` runs the noise grid alone).
        """
        if self.plugins:
            from bench.plan.plugins import load_file

            for path in self.plugins:
                load_file(REPO_ROOT / path)
        overrides = dict(overrides or {})
        shapes = tuple(task for task in overrides.get("tasks", ()) if task in TIMING_SHAPES)
        jobs: list[Job] = []
        for grid in self.grids:
            changes = {k: v for k, v in overrides.items() if _applies(k, grid.measure)}
            if shapes and grid.measure == "timing":
                changes["tasks"] = tuple(task for task in grid.tasks if task in shapes)
                if not changes["tasks"]:  # a timing grid of other shapes: not picked
                    continue
            warmup, timed = changes.pop("warmup_steps", None), changes.pop("timed_steps", None)
            if warmup is not None or timed is not None:
                base = grid.timing or TimingConfig()
                # replace, not rebuild: the grid's other timing settings (pairing) survive
                changes["timing"] = dataclasses.replace(base, warmup_steps=warmup or base.warmup_steps,
                                                        timed_steps=timed or base.timed_steps)
            jobs.extend(expand(dataclasses.replace(grid, device=self.device, **changes)))
        return dedupe(jobs)


TRAIN_ONLY = ("tasks", "epochs", "target", "task_options")  # overrides that change train/both grids only
SHAPE_ONLY = ("seq_len", "input_size")  # overrides that change timing-only grids only
STEPS_ONLY = ("warmup_steps", "timed_steps")  # overrides that change timing/both grids only


def _applies(key: str, measure: str) -> bool:
    if key in TRAIN_ONLY:
        return measure != "timing"
    if key in SHAPE_ONLY:
        return measure == "timing"
    if key in STEPS_ONLY:
        return measure != "train"
    return True


# The digits task trains in seconds, so the quick suite can afford every cell in both
# frameworks; lr 1e-2 reaches a readable accuracy in a few epochs there.
_QUICK_TRAIN = Axes(tasks=("digits",), measure="train", modes=("default",), hidden_sizes=(64,),
                    batch_sizes=(32,), epochs=4, lrs=(1e-2,), seeds=(0,), target=0.8)
_MNIST_TIMING = Axes(tasks=("mnist",), measure="timing", modes=("default", "compiled"),
                     hidden_sizes=(128,), batch_sizes=(64,), timing=TimingConfig(warmup_steps=3, timed_steps=30))

# Long sequences: where torch.compile unrolls a Python time loop, its compile time and step grow with T; the
# compiled_scan mode compiles once. Batch 16, 28 features, hidden 128, at T = 28, 256 and 1024; torch eager,
# compiled_scan, its k 8 unrolled form with and without the C++ wrapper, and compiled, Keras graph and xla (Keras
# eager, a Python loop of ops, takes minutes per job at T 1024 and is no one's long-sequence path). A compile that
# does not finish within the suite's per-job limit is the finding: recorded as timeout, and the same job at a longer
# T is then recorded without being started (bench.run.sweep runs the shortest sequences first).
LONG_STEPS = (28, 256, 1024)
LONG_JOB_TIMEOUT_S = 300.0  # the documented per-job limit of the long suites: minutes, not half an hour


@dataclass(frozen=True)
class LongGoal:
    """The long suite's performance goal: a benchmark target its report judges (bench.report.lengths), never a test.

    Met for a cell at a length when one of the framework's compiled modes, timed correct there, compiles in under
    `compile_s`, is no slower than the cell's own eager loop, and trains within `ratio` of the native layer as
    users run it (paired in one job).
    """

    framework: str  # the framework whose compiled modes are judged
    compile_s: float  # a compiled mode counts only if its compile takes less than this
    ratio: float  # and its training step is at most this many times the usual-mode native layer's (paired)


LONG_GOAL = LongGoal(framework="torch", compile_s=60.0, ratio=1.2)
_LONG_SHAPE = dict(tasks=("mnist",), measure="timing", hidden_sizes=(128,), batch_sizes=(16,),
                   timing=TimingConfig(warmup_steps=2, timed_steps=10))
_LONG_TIMING = tuple(Axes(frameworks=(framework,), modes=modes, seq_len=steps, **_LONG_SHAPE)
                     for steps in LONG_STEPS
                     for framework, modes in (("torch", ("eager", "compiled_scan", "compiled_scan_k8",
                                                         "compiled_scan_k8_cpp", "compiled")),
                                             ("keras", ("graph", "xla"))))

# a stack comparison at length: the shortest and the longest sequence, a GRU, the reset-after GRU whose scan gradient
# torch 2.13 gets wrong, the minimal gated unit and the LSTM (the four families), so two stacks' rounds fit in minutes
STACK_LONG_STEPS = (LONG_STEPS[0], LONG_STEPS[-1])
STACK_LONG_CELLS = ("gru0", "gru_reset_after", "mgu", "lstm")

SUITES: dict[str, Suite] = {s.name: s for s in (
    Suite(
        name="quick",
        description="every cell, both frameworks: digits accuracy (4 epochs, 1 seed) and step timing "
                    "at the MNIST shape (B64 T28 I28 H128) in default and compiled mode; CPU, 8 to 16 min of jobs on "
                    "2 cores, cold (the README gives the measured figures)",
        device="cpu",
        grids=(_QUICK_TRAIN, _MNIST_TIMING),
        reuse_processes=True,
    ),
    Suite(
        name="standard",
        description="MNIST and notMNIST, hidden 64/128, 1 and 2 layers, 3 seeds, 10 epochs, "
                    "plus step timing at the MNIST shape",
        device="cpu",
        grids=(
            Axes(tasks=("mnist", "notmnist"), measure="train", modes=("default",), hidden_sizes=(64, 128),
                 num_layers=(1, 2), batch_sizes=(64,), epochs=10, lrs=(1e-3,), seeds=(0, 1, 2), target=0.95),
            dataclasses.replace(_MNIST_TIMING, hidden_sizes=(64, 128)),
        ),
    ),
    Suite(
        name="long",
        description="long sequences: every cell (and examples/cells/mingru.py's loop and scan), torch eager, "
                    "compiled, compiled_scan (also 8 steps per iteration, with and without Inductor's C++ wrapper) "
                    "and Keras graph, xla, B16 I28 H128 at T 28/256/1024: step times, "
                    f"compile times, memory; {LONG_JOB_TIMEOUT_S:.0f} s per job at most",
        device="cpu",
        grids=_LONG_TIMING,
        plugins=("examples/cells/mingru.py",),
        timeout_s=LONG_JOB_TIMEOUT_S,
    ),
    Suite(
        name="stack-long",
        description="the long suite's torch eager and compiled_scan jobs at T 28 and 1024 for gru0, gru_reset_after, "
                    "mgu and lstm: what `bench compare --against` runs to hold one torch against another at length "
                    "(reports/stack-torch-2.14)",
        device="cpu",
        grids=tuple(dataclasses.replace(grid, modes=("eager", "compiled_scan"), seq_len=steps,
                                        cells=STACK_LONG_CELLS)
                    for grid in _LONG_TIMING[:1] for steps in STACK_LONG_STEPS),
        timeout_s=LONG_JOB_TIMEOUT_S,
    ),
    Suite(
        name="gpu-long",
        description="the long suite on a CUDA device (torch also compiled_cudagraphs)",
        device="cuda",
        grids=tuple(dataclasses.replace(grid, modes=(*grid.modes, "compiled_cudagraphs")) if grid.frameworks == ("torch",)
                    else grid for grid in _LONG_TIMING),
        plugins=("examples/cells/mingru.py",),
        timeout_s=LONG_JOB_TIMEOUT_S,
    ),
    Suite(
        name="gpu",
        description="CUDA timing grid: every cell, both frameworks, all modes, B64/B256 at the MNIST "
                    "shape with H128/256/512, and the noise shape (B64 T100 I500 H256)",
        device="cuda",
        grids=(
            Axes(tasks=("mnist",), measure="timing",
                 modes=("default", "compiled", "compiled_cudagraphs", "compiled_step_graph"),
                 hidden_sizes=(128, 256, 512), batch_sizes=(64, 256), timing=TimingConfig()),
            Axes(tasks=("noise",), measure="timing",
                 modes=("default", "compiled", "compiled_cudagraphs", "compiled_step_graph"),
                 hidden_sizes=(256,), batch_sizes=(64,), timing=TimingConfig()),
        ),
    ),
)}


# The CI regression gate's suite (issue 5), defined beside its gate in bench/plan/regress_suite.py.
from bench.plan.regress_suite import REGRESS_DESCRIPTION, REGRESS_GRIDS, REGRESS_NAME  # noqa: E402

SUITES[REGRESS_NAME] = Suite(name=REGRESS_NAME, description=REGRESS_DESCRIPTION, device="cpu", grids=REGRESS_GRIDS)



def register_suites(suites: Iterable[Suite]) -> None:
    """Add suites defined above this module (the replications register theirs when bench.replication loads)."""
    for suite in suites:
        if SUITES.get(suite.name, suite) is not suite:
            raise ConfigError(f"suite {suite.name!r} is already registered")
        SUITES[suite.name] = suite


def get_suite(name: str) -> Suite:
    try:
        return SUITES[name]
    except KeyError:
        raise ConfigError(f"unknown suite {name!r}; choose from {', '.join(SUITES)}") from None
