"""Downloading into the cache, against a local HTTP server on loopback (never the real network)."""

import shutil
import socket

import numpy as np
import pytest

import datasets
from datasets import DataNotFoundError
from datasets.checksums import SHA256, sha256_of
from datasets_fixtures import MNIST_FILES, NOTMNIST_FILES, LocalMirror, isolated_env, require_data  # noqa: F401


@pytest.fixture
def online(monkeypatch, isolated_env):  # noqa: F811
    """isolated_env with downloads allowed; returns the cache dir."""
    monkeypatch.delenv("RNNBENCH_OFFLINE")
    return isolated_env


def _closed_port_url():
    with socket.socket() as sock:  # bind, read the port, close: nothing listens there afterwards
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def test_mnist_downloads_into_the_cache_then_reads_it_from_there(online, tmp_path):
    shared = require_data(*(f"mnist/{name}" for name in MNIST_FILES))
    with LocalMirror(shared) as mirror:
        task = datasets.load("mnist", data_dir=tmp_path / "nothing", mirrors=[f"{mirror.url}/mnist/"],
                             limit_train=100, limit_val=100, limit_test=100)
        assert sorted(mirror.requests) == sorted(f"/mnist/{name}" for name in MNIST_FILES)
        for name in MNIST_FILES:
            cached = online / "mnist" / name
            assert sha256_of(cached) == SHA256[f"mnist/{name}"]
            assert task.info["files"][f"mnist/{name}"]["origin"] == "downloaded into the cache"
        again = datasets.load("mnist", data_dir=tmp_path / "nothing", mirrors=[f"{mirror.url}/mnist/"],
                              limit_train=100, limit_val=100, limit_test=100)
        assert len(mirror.requests) == len(MNIST_FILES)  # served from the cache, no second download
    assert {e["origin"] for e in again.info["files"].values()} == {
        "cache ($RNNBENCH_CACHE_DIR, default ~/.cache/rnnbench)"}
    np.testing.assert_array_equal(task.x_train, again.x_train)
    assert sorted(p.name for p in (online / "mnist").iterdir()) == sorted(MNIST_FILES)  # no part files


def test_mirror_roots_from_the_environment(online, monkeypatch):
    shared = require_data(*(f"notmnist_small_10k/{name}" for name in NOTMNIST_FILES))
    with LocalMirror(shared) as mirror:
        monkeypatch.setenv("RNNBENCH_MIRRORS", f"{_closed_port_url()}, {mirror.url}")
        task = datasets.load("notmnist")
        assert sorted(mirror.requests) == sorted(f"/notmnist_small_10k/{n}" for n in NOTMNIST_FILES)
    assert task.sizes()["test"] > 0


def test_a_mirror_with_wrong_bytes_is_discarded_and_the_next_one_used(online, tmp_path):
    shared = require_data(*(f"notmnist_small_10k/{name}" for name in NOTMNIST_FILES))
    bad_root = tmp_path / "bad"
    shutil.copytree(shared / "notmnist_small_10k", bad_root)
    labels = bad_root / "t10k-labels-idx1-ubyte.gz"
    labels.chmod(0o644)
    labels.write_bytes(labels.read_bytes()[:-100])
    with LocalMirror(bad_root) as bad, LocalMirror(shared / "notmnist_small_10k") as good:
        task = datasets.load("notmnist", mirrors=[bad.url, good.url])
        assert "/t10k-labels-idx1-ubyte.gz" in bad.requests and "/t10k-labels-idx1-ubyte.gz" in good.requests
    cache = online / "notmnist_small_10k"
    assert sorted(p.name for p in cache.iterdir()) == sorted(NOTMNIST_FILES)  # no partial files left behind
    assert sha256_of(cache / "t10k-labels-idx1-ubyte.gz") == SHA256["notmnist_small_10k/t10k-labels-idx1-ubyte.gz"]
    assert task.sizes()["train"] > 0


def test_only_bad_mirrors_leave_nothing_and_say_why(online, tmp_path):
    shared = require_data(*(f"notmnist_small_10k/{name}" for name in NOTMNIST_FILES))
    bad_root = tmp_path / "bad"
    shutil.copytree(shared / "notmnist_small_10k", bad_root)
    images = bad_root / "t10k-images-idx3-ubyte.gz"
    images.chmod(0o644)
    images.write_bytes(images.read_bytes()[:1000])
    dead = _closed_port_url()
    with LocalMirror(bad_root) as bad:
        with pytest.raises(DataNotFoundError) as err:
            datasets.load("notmnist", mirrors=[dead, bad.url])
    message = str(err.value)
    assert "notmnist_small_10k/t10k-images-idx3-ubyte.gz" in message
    assert f"{dead}t10k-images-idx3-ubyte.gz: URLError" in message
    assert "wrong SHA-256" in message and "discarded" in message
    assert "$RNNBENCH_DATA_DIR" in message
    # the good labels file was kept; the bad images never reached the cache, not even as a part file
    assert sorted(p.name for p in (online / "notmnist_small_10k").iterdir()) == ["t10k-labels-idx1-ubyte.gz"]


def test_download_false_never_asks_the_mirror(online, tmp_path):
    shared = require_data(*(f"mnist/{name}" for name in MNIST_FILES))
    with LocalMirror(shared) as mirror:
        with pytest.raises(DataNotFoundError, match="Downloading is off"):
            datasets.load("mnist", mirrors=[f"{mirror.url}/mnist/"], download=False)
        assert mirror.requests == []
