"""Typed settings shared by the CLI, the executors and the runners.

Frameworks, backends and devices are spelled here once so that a typo on the command
line is caught before any job starts, with a message naming the valid choices.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from bench.cells.spec import FRAMEWORKS  # noqa: F401  (re-exported: the harness's frameworks are the cells')

# Which backends each framework can run on; a Keras record always names its backend.
BACKENDS = {"torch": ("torch",), "keras": ("tensorflow", "jax")}
# Execution modes are declared in bench.plan.modes.
DEVICES = ("cpu", "cuda")
MEASURES = ("train", "timing", "both")
REPO_ROOT = Path(__file__).resolve().parents[2]  # the checkout: job processes run here, suites' plugins live here
DEFAULT_RESULTS_DIR = Path("results")
# a run's own report goes under reports/local/ (untracked), so running a suite never rewrites a committed
# report; the committed ones are regenerated on purpose with `bench report RECORDS --out reports/NAME`
DEFAULT_REPORTS_DIR = Path("reports") / "local"


class ConfigError(ValueError):
    """Bad user input: the message says what was wrong and what to use instead."""


@dataclass(frozen=True)
class TimingConfig:
    """How step timing is done; recorded in the job identity of timing jobs."""

    warmup_steps: int = 3  # untimed steps first; compilation and caches happen here
    timed_steps: int = 30  # steps timed after warm-up (docs/design.md: at least 30)
    # custom cells: also build the native baseline in the same process and time the two
    # interleaved, pair by pair, so their ratio is measured under the same load
    paired: bool = True

    def __post_init__(self) -> None:
        if self.warmup_steps < 1:
            raise ConfigError(f"warmup_steps must be >= 1 (the first step compiles), got {self.warmup_steps}")
        if self.timed_steps < 1:
            raise ConfigError(f"timed_steps must be >= 1, got {self.timed_steps}")


DEFAULT_JOB_TIMEOUT_S = 1800.0  # per-job wall-clock limit unless a suite or --timeout sets one


@dataclass(frozen=True)
class RunConfig:
    """Settings of one `bench run` invocation that are not part of any job's identity."""

    output: Path  # JSONL file the records are appended to
    resume: bool = True  # skip jobs whose id already has a record in `output`
    retry_failed: bool = False  # with resume: run again jobs recorded as error/timeout/incorrect
    timeout_s: float = DEFAULT_JOB_TIMEOUT_S  # per-job wall-clock limit; past it the job is recorded as "timeout"
    threads: int | None = None  # intra-op threads per job; None = every core this process may use
    progress: bool = True  # show the progress bar
    parallel: int = 1  # local executor: job processes at once (GPU or accuracy-only jobs; timed steps never overlap)
    reuse_processes: bool = False  # local executor: one process per framework runs job after job


def default_keras_backend() -> str:
    """TensorFlow when it is installed, else JAX (the GPU machine has no TensorFlow)."""
    for backend in ("tensorflow", "jax"):
        if importlib.util.find_spec(backend) is not None:
            return backend
    raise ConfigError("Keras needs TensorFlow or JAX installed; neither was found. "
                      "Install tensorflow-cpu (see pyproject.toml) or jax, or run --frameworks torch.")


def check_choice(label: str, value: str, choices: tuple[str, ...]) -> str:
    """Return `value` when it is one of `choices`, else raise a ConfigError listing them."""
    if value not in choices:
        raise ConfigError(f"unknown {label} {value!r}; choose from {', '.join(choices)}")
    return value
