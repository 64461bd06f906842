"""Helpers and fixtures shared by the tests/test_datasets_*.py files.

Import the fixtures by name into a test module (pytest finds them in its globals).
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

import pytest

# The verified datasets: $RNNBENCH_DATA_DIR (tests/conftest.py points it at
# ../shared/data), else shared/data beside the checkout. Read before any fixture
# clears the variable.
SHARED_DATA = Path(os.environ.get("RNNBENCH_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data")

MNIST_FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
NOTMNIST_FILES = ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def require_data(*relpaths: str) -> Path:
    """SHARED_DATA when it has every file; else fail under CI (env CI set) and skip elsewhere."""
    missing = [p for p in relpaths if not (SHARED_DATA / p).is_file()]
    if missing:
        reason = f"dataset file(s) absent from {SHARED_DATA}: {', '.join(missing)} (set RNNBENCH_DATA_DIR)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return SHARED_DATA


@pytest.fixture
def isolated_env(monkeypatch, tmp_path):
    """No data dir from the environment, an empty cache under tmp_path, no network.

    Returns the cache dir. Tests that download unset RNNBENCH_OFFLINE themselves and
    always name a local mirror, so the suite never reaches the real network.
    """
    cache = tmp_path / "cache"
    monkeypatch.delenv("RNNBENCH_DATA_DIR", raising=False)
    monkeypatch.delenv("RNNBENCH_MIRRORS", raising=False)
    monkeypatch.setenv("RNNBENCH_CACHE_DIR", str(cache))
    monkeypatch.setenv("RNNBENCH_OFFLINE", "1")
    return cache


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str]  # set per server: paths asked for, in order

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass

    def do_GET(self):
        self.requests.append(self.path)
        super().do_GET()


class LocalMirror:
    """A static HTTP server on 127.0.0.1 (port 0) serving one folder, run in a thread."""

    def __init__(self, root: Path):
        handler = type("Handler", (_QuietHandler,), {"requests": []})
        self.requests: list[str] = handler.requests
        self._server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        # a short poll interval so shutdown() returns at once instead of after 0.5 s
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    def __enter__(self) -> "LocalMirror":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
