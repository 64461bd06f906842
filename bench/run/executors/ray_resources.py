"""What each job asks a Ray cluster for, so that timings never share a device.

Pure logic over the cluster's node list (`ray.nodes()`), importable without Ray:
a GPU timing job takes one whole GPU, a CPU timing job takes every CPU of a node,
accuracy-only jobs take a few CPUs (or a share of a GPU) and may pack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from bench.plan.config import ConfigError
from bench.plan.jobs import Job


@dataclass(frozen=True)
class NodeShape:
    """The schedulable resources of one alive Ray node."""

    node_id: str  # Ray's hex node id
    address: str  # the node's IP address, as Ray reports it
    cpus: int  # logical CPUs Ray may schedule there (`ray start --num-cpus`, default: the machine's)
    gpus: int  # GPUs Ray may schedule there


@dataclass(frozen=True)
class ClusterShape:
    """The alive nodes of a cluster, as far as job placement cares."""

    nodes: tuple[NodeShape, ...]  # alive nodes only

    @classmethod
    def from_ray_nodes(cls, nodes: Iterable[dict[str, Any]]) -> "ClusterShape":
        """Build from `ray.nodes()` (dead nodes and nodes without CPUs are left out)."""
        alive = []
        for node in nodes:
            resources = node.get("Resources") or {}
            if node.get("Alive") and resources.get("CPU", 0) >= 1:
                alive.append(NodeShape(node_id=node.get("NodeID", "?"), address=node.get("NodeManagerAddress", "?"),
                                       cpus=int(resources["CPU"]), gpus=int(resources.get("GPU", 0))))
        if not alive:
            raise ConfigError("the Ray cluster has no alive node with a CPU; start one with `ray start --head` "
                              "(and join workers with `ray start --address HEAD:6379`)")
        return cls(tuple(alive))

    @property
    def max_cpus(self) -> int:
        """CPUs of the largest node: what a CPU timing job asks for (so it gets a whole node)."""
        return max(node.cpus for node in self.nodes)

    @property
    def total_cpus(self) -> int:
        return sum(node.cpus for node in self.nodes)

    def fits(self, request: "TaskResources") -> bool:
        """Whether some node can run a task asking for `request` at all."""
        return any(node.cpus >= request.num_cpus and node.gpus >= request.num_gpus for node in self.nodes)


@dataclass(frozen=True)
class ResourcePolicy:
    """How many CPUs/GPUs each kind of job asks for; timing jobs always get a device alone."""

    train_cpus: int = 2  # CPUs (and threads) of an accuracy-only CPU job; such jobs pack onto nodes
    train_gpus: float = 1.0  # GPU share of an accuracy-only GPU job; below 1 packs several on a GPU
    gpu_job_cpus: int = 1  # CPUs (and threads) beside the GPU of a GPU job, to feed it

    def __post_init__(self) -> None:
        if self.train_cpus < 1 or self.gpu_job_cpus < 1:
            raise ConfigError(f"train_cpus and gpu_job_cpus must be >= 1, "
                              f"got {self.train_cpus} and {self.gpu_job_cpus}")
        if not 0 < self.train_gpus <= 1:
            raise ConfigError(f"train_gpus must be in (0, 1] (a share of one GPU), got {self.train_gpus}")


@dataclass(frozen=True)
class TaskResources:
    """What one job's Ray task asks for, and the threads its process then uses."""

    num_cpus: int  # Ray `num_cpus`
    num_gpus: float  # Ray `num_gpus`
    threads: int  # intra-op threads of the job process (the CPUs it holds)


def is_timing(job: Job) -> bool:
    """Jobs whose numbers are step times: they must have their device to themselves."""
    return job.measure in ("timing", "both")


def resources_for(job: Job, cluster: ClusterShape, policy: ResourcePolicy) -> TaskResources:
    """The request for `job`; raises ConfigError when no node of `cluster` could ever run it."""
    if job.device == "cuda":
        request = TaskResources(num_cpus=policy.gpu_job_cpus, threads=policy.gpu_job_cpus,
                                num_gpus=1.0 if is_timing(job) else policy.train_gpus)
    elif is_timing(job):
        # A whole node: on a cluster of unequal nodes only the largest ones take CPU timing jobs,
        # which keeps the guarantee (and their timings comparable with each other).
        request = TaskResources(num_cpus=cluster.max_cpus, num_gpus=0.0, threads=cluster.max_cpus)
    else:
        cpus = min(policy.train_cpus, cluster.max_cpus)
        request = TaskResources(num_cpus=cpus, num_gpus=0.0, threads=cpus)
    if not cluster.fits(request):
        nodes = ", ".join(f"{n.address} ({n.cpus} CPU, {n.gpus} GPU)" for n in cluster.nodes)
        raise ConfigError(f"job {job.label()} needs {request.num_cpus} CPU and {request.num_gpus:g} GPU on one node, "
                          f"but the cluster's nodes are: {nodes}. Join a node with a GPU "
                          "(`ray start --address HEAD:6379 --num-gpus 1`) or run this suite with --device cpu.")
    return request
