"""What a record says about where it was measured: versions, device, CPU, threads, commit.

`base_environment()` needs no framework import (the parent uses it for records of
crashed jobs); the runners add what only the imported framework knows.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable

from bench.plan.config import REPO_ROOT

# Environment variables that change how a job runs; recorded as set in the job's process.
RECORDED_ENV = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                "TF_NUM_INTEROP_THREADS", "KERAS_BACKEND", "CUDA_VISIBLE_DEVICES", "JAX_PLATFORMS", "XLA_FLAGS",
                "TORCHINDUCTOR_CACHE_DIR")
# Distributions whose versions go into every record (None when not installed).
VERSIONED = ("numpy", "torch", "tensorflow", "tensorflow-cpu", "keras", "jax", "jaxlib", "rnnbench")


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo on Linux, else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def own_cores() -> set[int] | None:
    """The cores this process may run on (taskset/cgroup affinity); None where the OS does not tell."""
    try:
        return os.sched_getaffinity(0)
    except AttributeError:
        return None


def available_cores() -> int:
    """How many cores this process may run on (respects taskset/cgroup affinity where the OS tells)."""
    cores = own_cores()
    return len(cores) if cores is not None else os.cpu_count() or 1


def git_commit() -> dict[str, Any]:
    """HEAD commit and whether the code differs from it (None outside a git checkout).

    "Dirty" looks at CODE_PATHS only: a sweep appending to a committed records file under reports/
    changes the checkout but not the code that made the record.
    """
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None
    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS)
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


SOURCE_PACKAGES = ("bench", "cells_torch", "cells_tf", "datasets")  # the code whose version a record names
# what a record's `dirty` looks at: the code, and the files that say how it is installed
CODE_PATHS = (*SOURCE_PACKAGES, "pyproject.toml", "constraints.txt", "examples")


@functools.lru_cache(maxsize=4)
def source_digest(root: Path = REPO_ROOT) -> str:
    """SHA-256 (first 16 hex digits) of the project's Python sources, paths included.

    Names the code that made a record even where git cannot: a copy of the working tree
    with uncommitted changes, or a checkout whose .git is stale (a remote GPU machine).
    """
    return digest_sources((path.relative_to(root).as_posix(), path.read_bytes())
                          for package in SOURCE_PACKAGES for path in (root / package).rglob("*.py"))


def digest_sources(files: Iterable[tuple[str, bytes]]) -> str:
    """The source digest of (path relative to the project root, content) pairs: the one rule, for a working tree
    (source_digest) and for a commit's tree (bench.records.provenance)."""
    def order(item: tuple[str, bytes]) -> tuple[int, list[str]]:  # package by package, then as sorted() sorts Paths
        parts = item[0].split("/")
        return SOURCE_PACKAGES.index(parts[0]), parts

    digest = hashlib.sha256()
    for path, content in sorted(files, key=order):
        digest.update(path.encode() + b"\0" + content + b"\0")
    return digest.hexdigest()[:16]


def base_environment() -> dict[str, Any]:
    """Everything knowable without importing a framework; with the plugin files loaded, where there are any."""
    from bench.plan.plugins import loaded_plugins

    plugins = [plugin.as_record() for plugin in loaded_plugins()]
    return ({"plugins": plugins} if plugins else {}) | {
        "versions": package_versions(),
        "platform": platform.platform(),
        "hostname": platform.node(),
        "cpu": cpu_name(),
        "cpu_cores": available_cores(),
        "git": git_commit(),
        "source_digest": source_digest(),
        "recorded_at": now_iso(),
        "python_executable": sys.executable,
        "env": {name: os.environ.get(name) for name in RECORDED_ENV},
    }


def torch_environment(device: str) -> dict[str, Any]:
    """Device and thread facts from torch (call in the job's process, after imports)."""
    import torch

    env: dict[str, Any] = {
        "threads": {"intra_op": torch.get_num_threads(), "inter_op": torch.get_num_interop_threads()},
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        # float32 precision on tensor cores: torch's defaults let cuDNN (the native RNNs) use TF32
        # but keep matmuls (the custom cells) at full FP32, so a GPU ratio compares two precisions
        "tf32": {"matmul": torch.backends.cuda.matmul.allow_tf32, "cudnn": torch.backends.cudnn.allow_tf32},
    }
    if device == "cuda" and torch.cuda.is_available():
        env["device_name"] = torch.cuda.get_device_name(0)
        env["cuda_driver"] = nvidia_driver()
        env["cuda_capability"] = ".".join(map(str, torch.cuda.get_device_capability(0)))
    else:
        env["device_name"] = cpu_name()
    return env


def keras_environment(backend: str, device: str) -> dict[str, Any]:
    """Device and thread facts from Keras's backend (call in the job's process, after imports)."""
    env: dict[str, Any] = {"device_name": cpu_name()}
    if backend == "tensorflow":
        import tensorflow as tf

        build = tf.sysconfig.get_build_info()
        env["threads"] = {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                          "inter_op": tf.config.threading.get_inter_op_parallelism_threads()}
        env["cuda"] = build.get("cuda_version")
        env["cudnn"] = build.get("cudnn_version")
        env["tf32"] = {"all": tf.config.experimental.tensor_float_32_execution_enabled()}  # one switch in TF
        gpus = tf.config.list_physical_devices("GPU")
        if device == "cuda" and gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            env["device_name"] = details.get("device_name", gpus[0].name)
    elif backend == "jax":
        import jax

        devices = jax.devices()
        env["threads"] = {"xla_flags": os.environ.get("XLA_FLAGS", "")}
        env["jax_devices"] = [str(d) for d in devices]
        # None is JAX's default, which lets float32 matmuls and convolutions use TF32 on a GPU
        env["jax_matmul_precision"] = getattr(jax.config, "jax_default_matmul_precision", "unknown")
        if device == "cuda" and devices and devices[0].platform == "gpu":
            env["device_name"] = devices[0].device_kind
            env["cuda_driver"] = nvidia_driver()
            env.update(_jax_cuda_versions())
    return env


def nvidia_driver() -> str | None:
    """The NVIDIA driver version from nvidia-smi, or None where there is none."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.strip().splitlines()[0] if out.strip() else None


def _jax_cuda_versions() -> dict[str, Any]:
    """CUDA runtime and cuDNN versions jaxlib loaded (a private module: absent facts stay None)."""
    try:
        from jax._src.lib import cuda_versions  # the module `jax.print_environment_info` reads
    except ImportError:
        return {"cuda": None, "cudnn": None}
    if cuda_versions is None:
        return {"cuda": None, "cudnn": None}
    read = {"cuda": "cuda_runtime_get_version", "cudnn": "cudnn_get_version"}
    out: dict[str, Any] = {}
    for key, name in read.items():
        try:
            out[key] = getattr(cuda_versions, name)()
        except Exception:  # noqa: BLE001 - a version we cannot read is recorded as unknown
            out[key] = None
    if isinstance(out.get("cuda"), int):  # 13000 -> "13.0", as torch.version.cuda writes it
        out["cuda"] = f"{out['cuda'] // 1000}.{out['cuda'] % 1000 // 10}"
    return out
