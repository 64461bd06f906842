"""Which commit's code made a record: its git facts, or its source digest found in the project's history.

A record made from a clean checkout names its commit. One made from a working tree with uncommitted changes
(`git.dirty`) is identified all the same when its source digest (bench.records.environment.source_digest) is
that of a commit's sources: the changes were committed as they ran. Anything else, a digest that no commit
has, or none at all, is code nobody can check out again, and the replication reports say so beside each
number that rests on it.
"""

from __future__ import annotations

import functools
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.plan.config import REPO_ROOT
from bench.records.environment import SOURCE_PACKAGES, digest_sources
from bench.records.schema import Record


@dataclass(frozen=True)
class CodeHistory:
    """The commits reachable from HEAD and the source digest of each."""

    commits: frozenset[str]  # full commit ids
    by_digest: dict[str, str]  # source digest -> the newest commit whose sources have it


def made_by(record: Record, history: CodeHistory | None) -> str | None:
    """The commit whose code made `record`, or None where no commit of `history` holds that code."""
    if history is None:
        return None
    env = record.environment
    if env is None:
        return None
    if env.git is not None and env.git.dirty is False and env.git.commit in history.commits:
        return env.git.commit
    return history.by_digest.get(env.source_digest) if env.source_digest else None


@functools.lru_cache(maxsize=2)
def code_history(root: Path = REPO_ROOT) -> CodeHistory | None:
    """Every commit from HEAD back with its source digest (about a second for 250 commits); None without git."""
    commits = _git(root, "rev-list", "HEAD")
    if commits is None:
        return None
    listing: dict[str, list[tuple[str, str]]] = {}
    for commit in commits.split():
        tree = _git(root, "ls-tree", "-r", commit, "--", *SOURCE_PACKAGES) or ""
        listing[commit] = [(path, meta.split()[2]) for meta, path in (line.split("\t", 1) for line in tree.splitlines())
                           if path.endswith(".py")]
    contents = _blobs(root, {blob for files in listing.values() for _, blob in files})
    by_digest: dict[str, str] = {}
    for commit in reversed(list(listing)):  # oldest first, so the newest commit of a digest wins
        by_digest[digest_sources((path, contents[blob]) for path, blob in listing[commit])] = commit
    return CodeHistory(commits=frozenset(listing), by_digest=by_digest)


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


def _blobs(root: Path, blobs: set[str]) -> dict[str, bytes]:
    """The contents of git blobs, read in one `git cat-file --batch`."""
    request = "".join(f"{blob}\n" for blob in sorted(blobs)).encode()
    out = subprocess.run(["git", "cat-file", "--batch"], cwd=root, input=request, capture_output=True,
                         check=True, timeout=120).stdout
    contents, at = {}, 0
    for _ in blobs:
        header_end = out.index(b"\n", at)
        blob, _, size = out[at:header_end].decode().split()
        start = header_end + 1
        contents[blob] = out[start:start + int(size)]
        at = start + int(size) + 1  # the content is followed by a newline
    return contents
