"""Where data files are looked for, and fetching them when they are missing.

Search order for a file `group/name` (the layout of shared/data):
  1. the `data_dir` argument of `datasets.load`,
  2. the folder in $RNNBENCH_DATA_DIR,
  3. the cache: $RNNBENCH_CACHE_DIR, default ~/.cache/rnnbench.
The first place that has the file is used, and the file must have its known SHA-256
(a wrong file is an error, never skipped in favour of the next place). When no place
has it and downloads are allowed, it is downloaded into the cache from the mirrors:
the `mirrors` option, else $RNNBENCH_MIRRORS (root URLs laid out like the data dir),
else the dataset's built-in mirrors. $RNNBENCH_OFFLINE=1 or `download=False` turns
downloads off.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .checksums import expected_digest, verify
from .download import download_verified
from .errors import DataNotFoundError

ENV_DATA_DIR = "RNNBENCH_DATA_DIR"
ENV_CACHE_DIR = "RNNBENCH_CACHE_DIR"
ENV_MIRRORS = "RNNBENCH_MIRRORS"
ENV_OFFLINE = "RNNBENCH_OFFLINE"
DEFAULT_CACHE_DIR = Path("~/.cache/rnnbench")
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Place:
    """One folder in the search order."""

    label: str  # how error messages name it, e.g. "$RNNBENCH_DATA_DIR"
    root: Path | None  # None when that place is not configured


@dataclass(frozen=True)
class FoundFile:
    """A verified data file and where it came from (for Task.info)."""

    relpath: str  # e.g. "mnist/train-images-idx3-ubyte.gz"
    path: Path  # the file that was read
    sha256: str  # its verified digest
    origin: str  # the Place label, or "downloaded into the cache"


@dataclass(frozen=True)
class DataSource:
    """The search order and download policy of one `load` call."""

    data_dir: Path | None  # the `data_dir` argument, searched first
    env_dir: Path | None  # $RNNBENCH_DATA_DIR
    cache_dir: Path  # $RNNBENCH_CACHE_DIR or ~/.cache/rnnbench; downloads land here
    mirrors: tuple[str, ...] | None  # the `mirrors` option: base URLs for the group's files
    mirror_roots: tuple[str, ...] | None  # $RNNBENCH_MIRRORS: root URLs laid out like the data dir
    download: bool  # False: never use the network

    @classmethod
    def from_env(cls, data_dir: str | os.PathLike | None, mirrors: tuple[str, ...] | None = None,
                 download: bool = True) -> "DataSource":
        """The search order for `load(data_dir=...)` under the current environment."""
        env_dir = os.environ.get(ENV_DATA_DIR) or None
        cache = os.environ.get(ENV_CACHE_DIR) or str(DEFAULT_CACHE_DIR)
        roots = os.environ.get(ENV_MIRRORS)
        offline = os.environ.get(ENV_OFFLINE, "").strip().lower() in _TRUE
        return cls(
            data_dir=_path(data_dir),
            env_dir=_path(env_dir),
            cache_dir=Path(cache).expanduser(),
            mirrors=mirrors,
            mirror_roots=tuple(roots.replace(",", " ").split()) if roots else None,
            download=download and not offline,
        )

    def places(self) -> list[Place]:
        """The folders searched, in order."""
        return [
            Place("data_dir argument", self.data_dir),
            Place(f"${ENV_DATA_DIR}", self.env_dir),
            Place(f"cache (${ENV_CACHE_DIR}, default {DEFAULT_CACHE_DIR})", self.cache_dir),
        ]

    def find_dir(self, name: str) -> Path | None:
        """The first searched folder that has a sub-folder `name`, or None."""
        for place in self.places():
            if place.root is not None and (place.root / name).is_dir():
                return place.root / name
        return None

    def fetch(self, group: str, names: list[str], default_mirrors: tuple[str, ...] = (),
              how_to_get: str = "") -> dict[str, FoundFile]:
        """Verified files `group/name` for each name, downloading missing ones if allowed.

        Raises DataIntegrityError for a file with the wrong digest and DataNotFoundError,
        naming every missing file, the places looked and the download attempts, when
        some file cannot be had.
        """
        found: dict[str, FoundFile] = {}
        missing: list[str] = []
        for name in names:
            hit = self._find(f"{group}/{name}")
            if hit is None:
                missing.append(name)
            else:
                found[name] = hit
        attempts: list[str] = []
        if missing and self.download:
            for name in list(missing):
                failures = self._download(group, name, default_mirrors)
                if failures:
                    attempts.extend(failures)
                else:
                    relpath = f"{group}/{name}"
                    path = self.cache_dir / relpath
                    found[name] = FoundFile(relpath, path, expected_digest(relpath), "downloaded into the cache")
                    missing.remove(name)
        if missing:
            raise DataNotFoundError(self._missing_message(group, missing, attempts, default_mirrors, how_to_get))
        return found

    def _find(self, relpath: str) -> FoundFile | None:
        for place in self.places():
            if place.root is None:
                continue
            path = place.root / relpath
            if path.is_file():
                return FoundFile(relpath, path, verify(path, relpath), place.label)
        return None

    def _urls(self, group: str, name: str, default_mirrors: tuple[str, ...]) -> list[str]:
        if self.mirrors is not None:
            return [_join(base, name) for base in self.mirrors]
        if self.mirror_roots is not None:
            return [_join(root, f"{group}/{name}") for root in self.mirror_roots]
        return [_join(base, name) for base in default_mirrors]

    def _download(self, group: str, name: str, default_mirrors: tuple[str, ...]) -> list[str]:
        urls = self._urls(group, name, default_mirrors)
        if not urls:
            return [f"{group}/{name}: no mirror is known for this file"]
        relpath = f"{group}/{name}"
        return download_verified(urls, self.cache_dir / relpath, expected_digest(relpath))

    def _missing_message(self, group: str, missing: list[str], attempts: list[str],
                         default_mirrors: tuple[str, ...], how_to_get: str) -> str:
        files = ", ".join(f"{group}/{name}" for name in missing)
        lines = [f"{len(missing)} data file(s) not found: {files}.", "Looked in, in this order:"]
        for i, place in enumerate(self.places(), 1):
            where = f"{place.root / group}/" if place.root is not None else "(not set)"
            lines.append(f"  {i}. {place.label}: {where}")
        if not self.download:
            lines.append(f"Downloading is off (download=False or ${ENV_OFFLINE} set).")
        elif attempts:
            lines.append("Download attempts into the cache failed:")
            lines.extend(f"  - {line}" for line in attempts)
        lines.append(
            f"To provide them: put the files in <dir>/{group}/ and pass --data-dir <dir> to `python -m bench "
            f"run` (or data_dir=<dir> to datasets.load), or set {ENV_DATA_DIR}=<dir> (the layout of shared/data), "
            f"or copy them into "
            f"{self.cache_dir / group}/.")
        if default_mirrors:
            lines.append(f"With network access they are downloaded from {', '.join(default_mirrors)}; "
                         f"set {ENV_MIRRORS} or the mirrors option to use another mirror.")
        if how_to_get:
            lines.append(how_to_get)
        lines.append("Expected SHA-256: " + "; ".join(
            f"{name} {expected_digest(f'{group}/{name}')}" for name in missing))
        return "\n".join(lines)


def _path(value: str | os.PathLike | None) -> Path | None:
    return None if value is None else Path(value).expanduser()


def _join(base: str, name: str) -> str:
    return base.rstrip("/") + "/" + name
