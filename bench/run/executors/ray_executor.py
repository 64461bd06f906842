"""Send the jobs of a sweep to a Ray cluster, one Ray task per job.

Each Ray task runs the job exactly as the local executor does, in its own worker
subprocess on whichever node Ray picked, so a crashing job kills only that process
and the record has the same format. The driver streams records back in finishing
order; a task that itself fails (its worker or node died, Ray's retries exhausted)
still becomes a record, so no job is lost and the sweep goes on.

Ray is imported only when a sweep starts: `bench` works without it.
"""

from __future__ import annotations

import platform
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

from bench.plan.config import DEFAULT_JOB_TIMEOUT_S, ConfigError
from bench.records.environment import now_iso
from bench.run.executors.base import failure_record
from bench.run.executors.local import LocalExecutor
from bench.run.executors.ray_resources import ClusterShape, ResourcePolicy, resources_for
from bench.plan.jobs import Job
from bench.records.schema import Record
from bench.records.typed import record_json, update_environment
from bench.records.store import parse_record

EXECUTOR_KEY = "executor"  # the environment key saying where the job ran (node id, IP, host)
ERROR_CHARS = 4000  # how much of a failed task's error goes into its record


def run_job_on_node(identity: dict[str, Any], threads: int, timeout_s: float, python: str | None,
                    settings: dict[str, str]) -> dict[str, Any]:
    """Body of a job's Ray task: the local executor's subprocess for one job, plus the node it ran on.

    `settings` are the run's environment variables (--data-dir, --profile): a Ray worker does not
    inherit the driver's environment, and is reused across tasks, so they travel with each task.
    Ray cancelling the task (force=False) raises KeyboardInterrupt here, which takes the job's
    process tree down with it (LocalExecutor does that) before the task ends.
    """
    local = LocalExecutor(timeout_s=timeout_s, threads=threads, python=python or sys.executable, settings=settings)
    (record,) = local.run([Job.from_identity(identity)])
    update_environment(record.environment, {EXECUTOR_KEY: node_facts()})
    return record_json(record)  # plain JSON across the wire: the driver validates it as it would a file


def node_facts() -> dict[str, Any]:
    """Where this Ray task runs: Ray node id and IP, host name, the resources Ray gave it."""
    import ray

    context = ray.get_runtime_context()
    return {"kind": "ray", "node_id": context.get_node_id(), "node_ip": ray.util.get_node_ip_address(),
            "hostname": platform.node(), "assigned_resources": context.get_assigned_resources()}


CANCEL_GRACE_S = 10.0  # how long an interrupted sweep waits for a politely cancelled task before killing its worker


@dataclass
class RayExecutor:
    """One Ray task per job on a Ray cluster; records come back as tasks finish."""

    address: str | None = None  # cluster to join ("HOST:6379", "ray://HOST:10001", "auto"); None = Ray's default
    # (RAY_ADDRESS, else a cluster started on this machine with `ray start`, else a fresh local one)
    timeout_s: float = DEFAULT_JOB_TIMEOUT_S  # wall-clock limit per job, enforced on the node -> "timeout" record
    policy: ResourcePolicy = field(default_factory=ResourcePolicy)  # CPUs/GPUs each kind of job asks for
    max_retries: int = 2  # Ray re-runs a task whose worker or node died this often; job failures are not retried
    python: str | None = None  # interpreter of the job processes; None = the Ray worker's own on each node
    max_in_flight: int | None = None  # tasks handed to Ray at once; None = the cluster's CPU count
    settings: dict[str, str] = field(default_factory=dict)  # environment variables every job process gets
    # What each Ray task runs; must be picklable by Ray. Replace it to wrap or instrument the task.
    task_body: Callable[[dict[str, Any], int, float, str | None, dict[str, str]], dict[str, Any]] = run_job_on_node

    @classmethod
    def from_cli(cls, address: str | None, timeout_s: float, threads: int | None,
                 gpu_share: float = 1.0, settings: dict[str, str] | None = None) -> "RayExecutor":
        """What `bench run --executor ray [--address A] [--timeout S] [--threads N] [--gpu-share F]` runs with.

        `--threads` sets the CPUs of an accuracy-only CPU job, `--gpu-share` the share of a GPU an
        accuracy-only GPU job asks for (0.25: four pack on a GPU); timing jobs always get a whole node or GPU.
        """
        policy = ResourcePolicy(train_cpus=threads or ResourcePolicy.train_cpus, train_gpus=gpu_share)
        return cls(address=address, timeout_s=timeout_s, policy=policy, settings=dict(settings or {}))

    def run(self, jobs: Sequence[Job], on_start: Callable[[Job], None] | None = None) -> Iterator[dict[str, Any]]:
        """Yield one record per job as its task finishes. `on_start` fires when a job is handed to Ray."""
        if not jobs:
            return
        ray = import_ray()
        started_here = not ray.is_initialized()
        if started_here:
            connect(ray, self.address)
        pending: dict[Any, tuple[Job, str, float]] = {}  # task ref -> job, start time (ISO and clock)
        try:
            cluster = ClusterShape.from_ray_nodes(ray.nodes())
            # every request is checked before anything runs: an impossible one would wait forever in Ray
            plans = [(job, resources_for(job, cluster, self.policy)) for job in jobs]
            task = ray.remote(self.task_body)
            window = self.max_in_flight or cluster.total_cpus
            queue = iter(plans)
            while True:
                for job, request in queue:
                    ref = task.options(num_cpus=request.num_cpus, num_gpus=request.num_gpus,
                                       max_retries=self.max_retries, retry_exceptions=False,
                                       name=f"rnnbench:{job.label()}").remote(
                        job.identity(), request.threads, self.timeout_s, self.python, self.settings)
                    pending[ref] = (job, now_iso(), time.perf_counter())
                    if on_start is not None:
                        on_start(job)
                    if len(pending) >= window:
                        break
                if not pending:
                    return
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    yield self._collect(ray, ref, *pending.pop(ref))
        finally:
            if pending:  # interrupted: stop what still runs (its job process dies with it)
                self._cancel(ray, list(pending))
            if started_here:
                ray.shutdown()

    @staticmethod
    def _cancel(ray: Any, refs: list) -> None:
        """Cancel running tasks: politely (KeyboardInterrupt in the task, which kills its job's process tree), and
        where that has not ended a task within CANCEL_GRACE_S (a busy worker can miss it), by killing its worker,
        whose job process then dies with it (bench.run.worker.die_with_parent)."""
        for ref in refs:
            ray.cancel(ref)
        _, still_running = ray.wait(refs, num_returns=len(refs), timeout=CANCEL_GRACE_S)
        for ref in still_running:
            ray.cancel(ref, force=True)

    def _collect(self, ray: Any, ref: Any, job: Job, started_at: str, start: float) -> Record:
        """The task's record, or a failure record saying how its task failed."""
        try:
            return parse_record(ray.get(ref))
        except ray.exceptions.RayError as err:
            status = "oom" if isinstance(err, ray.exceptions.OutOfMemoryError) else "error"
            where = getattr(err, "ip", None)  # RayTaskError knows the node's IP; a dead worker's error does not
            message = (f"the job's Ray task failed ({type(err).__name__}{' on node ' + where if where else ''}, "
                       f"after up to {self.max_retries} retries): {err}")
        except ValueError as err:  # the task returned something that is not a valid record
            status, where, message = "error", None, f"the job's Ray task returned an invalid record: {err}"
        # made here on the driver: its environment is the driver's, the node is as far as Ray told
        record = failure_record(job, status, message[-ERROR_CHARS:], time.perf_counter() - start, started_at)
        update_environment(record.environment, {EXECUTOR_KEY: {"kind": "ray", "node_id": None, "node_ip": where,
                                                                "hostname": None, "assigned_resources": None}})
        return record


def connect(ray: Any, address: str | None) -> None:
    """Join the cluster at `address` (or Ray's default), or raise a ConfigError saying what to check."""
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as err:
        where = address or "the default address"
        raise ConfigError(f"could not join the Ray cluster at {where}: {str(err).rstrip('.')}. "
                          "Start one with `ray start --head` (see docs/ray.md), check --address, and give this "
                          "machine the cluster's token (~/.ray/auth_token or RAY_AUTH_TOKEN) if it uses one.") from err


def import_ray() -> Any:
    """Ray, or a ConfigError saying how to install it."""
    try:
        import ray
    except ImportError as err:
        raise ConfigError("the Ray executor needs Ray: pip install 'rnnbench[ray]' "
                          f"(or run with --executor local) [{err}]") from err
    return ray
