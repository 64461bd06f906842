"""Download one file from a list of mirror URLs into place, verified before it is kept.

The bytes go to a temporary file beside the destination; only a file with the
expected SHA-256 is renamed into place, so an interrupted or wrong download never
leaves a file that a later run would pick up.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

TIMEOUT_S = 30.0  # per connection attempt and read; a dead mirror must not hang a CI job
_CHUNK = 1 << 16  # bytes per read while streaming
_USER_AGENT = "rnnbench-datasets"  # some mirrors refuse urllib's default agent


def download_verified(urls: list[str], dest: Path, sha256: str, timeout: float = TIMEOUT_S) -> list[str]:
    """Fetch the first URL that yields the right bytes into `dest`.

    Returns the failures as "url: reason" lines; an empty list means `dest` now holds
    the verified file.
    """
    failures: list[str] = []
    dest.parent.mkdir(parents=True, exist_ok=True)
    for url in urls:
        try:
            actual = _fetch(url, dest, sha256, timeout)
        except (urllib.error.URLError, OSError, ValueError) as err:  # ValueError: a malformed URL
            failures.append(f"{url}: {_reason(err)}")
            continue
        if actual == sha256:
            return []
        failures.append(f"{url}: wrong SHA-256 {actual} (expected {sha256}); discarded")
    return failures


def _fetch(url: str, dest: Path, sha256: str, timeout: float) -> str:
    """Stream `url` to a temporary file, move it to `dest` if its digest is `sha256`; return the digest."""
    digest = hashlib.sha256()
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    handle, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            # disable=None: a progress bar on a terminal, silence in logs and CI
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=None, leave=False) as bar:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        if digest.hexdigest() == sha256:
            os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return digest.hexdigest()


def _reason(err: Exception) -> str:
    reason = getattr(err, "reason", None)
    return f"{type(err).__name__}: {reason if reason is not None else err}"
