"""The two sides of an A/B run: a git revision checked out in a temporary worktree, and the working tree.

A side is a source folder plus the interpreter that runs it. The base runs with this
interpreter when its dependency pins (constraints.txt) equal the working tree's; otherwise in a
virtual environment built from its own pins and kept under ~/.cache/rnnbench/envs/ (keyed by the
pins), since a framework upgrade is a change to judge like any other.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from bench.plan.config import REPO_ROOT, ConfigError
from bench.records.environment import CODE_PATHS

PINS_FILE = "constraints.txt"  # the exact stack a checkout installs with (tox.ini's PIP_CONSTRAINT)
ENV_CACHE = Path(os.environ.get("RNNBENCH_ENV_CACHE", Path.home() / ".cache" / "rnnbench" / "envs"))
PIP_TAIL_CHARS = 2000  # how much of a failed install's output an error quotes
GIT_TIMEOUT_S = 120


@dataclass(frozen=True)
class Side:
    """One side of an A/B run."""

    name: str  # "base" or "head"
    root: Path  # the source folder its jobs import bench, cells and datasets from
    python: str  # the interpreter that runs its `bench run`
    commit: str | None  # the commit checked out; None for a working tree with uncommitted changes
    label: str  # how reports name it: "a1b2c3d (subject)" or "working tree"
    env: dict[str, str] = field(default_factory=dict)  # variables for this side's processes only (--head-env)
    note: str = ""  # how its interpreter was chosen

    def command(self, *args: str) -> list[str]:
        """`python -m bench ARGS` as this side runs it."""
        return [self.python, "-m", "bench", *args]

    def environ(self) -> dict[str, str]:
        """This process's environment with the side's source first on the path and its own variables."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(self.root), env.get("PYTHONPATH", "")) if p)
        env.update(self.env)
        return env


def git(*args: str, cwd: Path = REPO_ROOT, check: bool = True) -> str:
    """Output of a git command in the checkout; a ConfigError quoting git when it fails and `check`."""
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=GIT_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise ConfigError(f"could not run git {' '.join(args)}: {err}; the A/B gate needs git and a checkout") from err
    if check and out.returncode != 0:
        raise ConfigError(f"git {' '.join(args)} failed: {out.stderr.strip()[:500]}")
    return out.stdout.strip()


def resolve(rev: str) -> str:
    """The full commit id of `rev`; a ConfigError saying what to do when there is no such revision."""
    if not rev or rev.startswith("-"):
        raise ConfigError(f"{rev!r} is not a revision; give a commit, branch or tag, e.g. HEAD~1 or origin/main")
    commit = git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    if not commit:
        shallow = git("rev-parse", "--is-shallow-repository", check=False) == "true"
        hint = (" This clone is shallow: fetch the history (git fetch --unshallow, or fetch-depth: 0 in "
                "actions/checkout)." if shallow else "")
        raise ConfigError(f"no revision {rev!r} in {REPO_ROOT}: `git rev-parse {rev}` finds no commit.{hint} "
                          "Pass --against with a commit, branch or tag that exists (git log --oneline shows them)")
    return commit


def subject(commit: str) -> str:
    """The commit's subject line."""
    return git("log", "-1", "--format=%s", commit)


def label(commit: str) -> str:
    """How reports name a commit: its short id and the start of its subject."""
    return f"{short(commit)} ({subject(commit)[:60]})"


def is_dirty() -> bool:
    """Whether the code differs from HEAD (the rule a record's `dirty` follows: bench.records.environment.CODE_PATHS)."""
    return bool(git("status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS))


def short(commit: str) -> str:
    return commit[:7]


@contextlib.contextmanager
def worktree(commit: str) -> Iterator[Path]:
    """`commit` checked out (detached) in a temporary folder, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=f"rnnbench-{short(commit)}-"))
    git("worktree", "add", "--detach", "--force", str(folder), commit)
    try:
        yield folder
    finally:
        git("worktree", "remove", "--force", str(folder), check=False)
        shutil.rmtree(folder, ignore_errors=True)
        git("worktree", "prune", check=False)


def _pins(root: Path) -> list[str] | None:
    """The pinned requirement lines of a checkout (comments and blanks dropped); None without a pins file."""
    path = root / PINS_FILE
    if not path.is_file():
        return None
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return sorted(line for line in lines if line)


def interpreter_for(root: Path, reference: Path = REPO_ROOT) -> tuple[str, str]:
    """(python, why) for a checkout at `root`: this interpreter when its pins equal `reference`'s, else a
    virtual environment built from its own pins."""
    mine, theirs = _pins(reference), _pins(root)
    if theirs is None:
        return sys.executable, f"no {PINS_FILE} in the base: it runs with this interpreter"
    if theirs == mine:
        return sys.executable, f"the same pins ({PINS_FILE}): this interpreter"
    changed = sorted(set(theirs) ^ set(mine or []))
    python = build_environment(root, theirs)
    return python, (f"other pins ({len(changed)} lines differ, e.g. {', '.join(changed[:4])}): its own environment "
                    f"{Path(python).parents[1]}")


def build_environment(root: Path, pins: list[str]) -> str:
    """A virtual environment with `root`'s dependencies at its pins, built once per set of pins."""
    key = hashlib.sha256("\n".join(pins).encode()).hexdigest()[:16]
    folder = ENV_CACHE / key
    python = folder / "bin" / "python"
    ready = folder / ".ready"
    if ready.is_file():
        return str(python)
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    steps = ([sys.executable, "-m", "venv", str(folder)],
             [str(python), "-m", "pip", "install", "--quiet", "-c", str(root / PINS_FILE), f"{root}[test]"])
    for step in steps:
        out = subprocess.run(step, capture_output=True, text=True)
        if out.returncode != 0:
            shutil.rmtree(folder, ignore_errors=True)
            tail = (out.stdout + out.stderr).strip()[-PIP_TAIL_CHARS:]
            raise ConfigError(f"could not build the base's environment from its {PINS_FILE} "
                              f"(`{' '.join(step)}` exited {out.returncode}):\n{tail}\n"
                              "Fix the base's pins, or compare against a revision whose pins install")
    ready.write_text(" ".join(pins) + "\n", encoding="utf-8")
    return str(python)


def head_side(env: dict[str, str]) -> Side:
    """The working tree, with this interpreter."""
    dirty = is_dirty()
    commit = None if dirty else git("rev-parse", "HEAD")
    name = "working tree (uncommitted changes)" if dirty else label(commit)
    return Side("head", REPO_ROOT, sys.executable, commit, name, env, "this interpreter")


def base_side(commit: str, root: Path, env: dict[str, str]) -> Side:
    """`commit` checked out at `root`, with the interpreter its pins call for."""
    python, note = interpreter_for(root)
    return Side("base", root, python, commit, label(commit), env, note)
