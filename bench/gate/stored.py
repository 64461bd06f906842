"""`bench compare`: hold new records against a baseline and fail on a regression.

    python -m bench compare --baseline reports/baseline/regress.jsonl results/regress.jsonl

Jobs are matched by identity. The gate fails (exit 1) when, for any job:
- a job that was ok in the baseline is now failed (error, timeout, diverged, oom) or missing;
- its task metric is worse than the baseline's by more than the tolerance;
- a custom cell's step time divided by its native layer's (same framework, mode and shape)
  rose by more than the tolerance;
- a native layer now runs another kernel path than in the baseline (e.g. fell off cuDNN).

Speed is judged from ratios, never absolute times, so a slower machine is no regression;
and only when both files come from the same machine class and backend: otherwise the
table says so and only status and accuracy are judged.

The ratio is bench.records.ratios's, the same number the report prints: paired where every round
was timed paired, else cross-job; ratios measured the two ways are not judged against each
other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from bench.cells import UnknownCellError, get_spec
from bench.plan.config import ConfigError
from bench.records.ratios import Ratio, identity_key, rounds_key, timed_rounds
from bench.records.ratios import ratio as shared_ratio
from bench.records.schema import Record
from bench.records.store import latest_by_job
from bench.gate.tolerances import FIELDS, Tolerance, resolve_tolerances

EXIT_PASS, EXIT_REGRESSION = 0, 1  # bad input raises ConfigError (exit 2 from the CLI)
SPEED_POLICIES = ("auto", "always", "never")  # judge speed when comparable / regardless / not at all
OMIT_SPEED = "omit"  # no ratio rows at all: the A/B gate (bench.gate.ab) judges speed its own way
TIMING_KINDS = {"train_step": "train_ratio", "inference_step": "infer_ratio"}  # record key -> tolerance field
CHECK_LABELS = {"train_ratio": "train × native", "infer_ratio": "infer × native"}
CHECK_PHRASES = {"train_ratio": "training-step time relative to the native layer",
                 "infer_ratio": "inference-step time relative to the native layer"}
OK, REGRESSION = "ok", "REGRESSION"
# identity keys that say how a job was timed, not what it ran: left out when matching, so a
# baseline from before pairing still matches the same jobs


@dataclass(frozen=True)
class Row:
    """One line of the gate's table."""

    job: str  # human label of the job or timing group
    check: str  # what was compared: status, the metric name, train × native, ...
    baseline: str  # the baseline's value, formatted
    current: str  # the current value, formatted
    change: str  # current against baseline, formatted
    verdict: str  # ok, REGRESSION, new, fixed, or "not judged: why"
    message: str = ""  # for a regression: one sentence naming the job and what moved

    @property
    def failed(self) -> bool:
        return self.verdict == REGRESSION


@dataclass
class Comparison:
    """Everything the gate found."""

    rows: list[Row] = field(default_factory=list)  # every compared job and timing group
    notes: list[str] = field(default_factory=list)  # facts about the two files (machine, backend)

    @property
    def failures(self) -> list[Row]:
        return [row for row in self.rows if row.failed]

    @property
    def passed(self) -> bool:
        return not self.failures


# -- identities ------------------------------------------------------------------------------

def job_label(record: Record) -> str:
    """The harness's label for a record's job (cell/framework-mode/measure/task/size/seed)."""
    return record.job.label()


def machine_class(record: Record) -> str:
    """What decides whether step-time ratios are comparable: device, its model, cores and threads."""
    env = record.environment
    name = env.device_name or env.cpu or "unknown device"
    threads = (env.threads or {}).get("intra_op", env.threads_requested)
    return f"{record.job.device}: {name}, {env.cpu_cores} cores, {threads} threads"


def _baseline_cell(cell: str) -> str | None:
    try:
        spec = get_spec(cell)
    except UnknownCellError:  # a record of a cell this checkout no longer registers
        return None
    return None if spec.native else spec.baseline


def _native_kernel(path: str | None) -> str | None:
    """The kernel part of a record's native_path ("aten::gru", "cudnn: reason" -> "cudnn")."""
    return path.split(": ", 1)[0] if path else None


# -- timing groups ---------------------------------------------------------------------------

@dataclass
class TimingGroup:
    """The timing records of one cell and configuration over its rounds (seeds)."""

    first: Record  # the first round's record
    rounds: list[Record] = field(default_factory=list)  # the records, one per seed
    machines: set[str] = field(default_factory=set)  # machine classes of the rounds
    native_kernels: set[str] = field(default_factory=set)  # native layers: kernels seen

    @property
    def seeds(self) -> list[int]:
        return [record.job.seed for record in self.rounds]

    @property
    def label(self) -> str:
        seeds = ",".join(str(s) for s in sorted(self.seeds))
        rounds = f"seeds {seeds}" if len(self.seeds) > 1 else f"seed {seeds}"
        return job_label(self.first).rsplit("/seed", 1)[0] + "/" + rounds


def timing_groups(records: Iterable[Record]) -> dict[str, TimingGroup]:
    """Ok records with timing, grouped by identity without the seed (keys keep the backend).

    A job recorded twice in one file (run again, e.g. with --profile) counts by its latest record, as the report
    reads it (bench.records.store.latest_by_job): the seeds of a configuration are its rounds, not its reruns.
    """
    groups: dict[str, TimingGroup] = {}
    for key, rounds in timed_rounds(latest_by_job(records).values()).items():
        group = groups[key] = TimingGroup(rounds[0], rounds)
        group.machines.update(machine_class(record) for record in rounds)
        group.native_kernels.update(_native_kernel(r.native_path) for r in rounds if _native_kernel(r.native_path))
    return groups


def ratio(groups: dict[str, TimingGroup], group: TimingGroup, kind: str) -> Ratio | None:
    """The group's step time over its native layer's (bench.records.ratios.ratio); None when there is nothing to divide by."""
    native_cell = _baseline_cell(group.first.job.cell)
    native = groups.get(rounds_key(group.first.identity, cell=native_cell)) if native_cell else None
    return shared_ratio(group.rounds, native.rounds if native else None, kind)


# -- judging ---------------------------------------------------------------------------------

def _lookup(index: dict[str, Any], loose: dict[str, Any], identity: dict[str, Any], drop: tuple[str, ...]):
    """Match by the whole identity, else by identity without the backend (reported as such)."""
    exact = index.get(identity_key(identity, drop=drop))
    return exact if exact is not None else loose.get(identity_key(identity, drop=drop + ("backend",)))


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0][:160] if lines else ""


def _fmt(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}g}"


def _change(baseline: float, current: float, relative: bool) -> str:
    if relative:
        return f"{(current / baseline - 1) * 100:+.1f}%" if baseline else "—"
    return f"{current - baseline:+.4f}"


def _judge_metric(label: str, base: Record, cur: Record, tolerances: dict[str, Tolerance]) -> Row | None:
    if base.train is None:
        return None
    metric, b, c = base.train.metric, base.train.test_metric, cur.train.test_metric if cur.train else None
    if metric is None or b is None:
        return None
    if c is None:
        return Row(label, metric, _fmt(b), "—", "—", REGRESSION,
                   f"{label}: the baseline has a test {metric} of {b:.4g}; the current record has none")
    tolerance = tolerances.get(metric)
    if tolerance is None:
        return Row(label, metric, _fmt(b), _fmt(c), _change(b, c, False), f"not judged: no tolerance for {metric}")
    change = _change(b, c, tolerance.relative)
    if tolerance.exceeded(b, c):
        direction = "fell" if FIELDS[metric][1] else "rose"
        return Row(label, metric, _fmt(b), _fmt(c), change, REGRESSION,
                   f"{label}: test {metric} {direction} from {b:.4g} to {c:.4g} ({change}), "
                   f"beyond the tolerance {tolerance.spelled()}")
    return Row(label, metric, _fmt(b), _fmt(c), change, OK)


def _judge_job(label: str, base: Record | None, cur: Record | None, tolerances: dict[str, Tolerance]) -> Row:
    if cur is None:
        if base.status == "ok":
            return Row(label, "status", "ok", "missing", "—", REGRESSION,
                       f"{label}: ok in the baseline, missing from the current records (did the suite change, "
                       "or did the run stop early?)")
        return Row(label, "status", base.status, "missing", "—", f"not judged: was {base.status}")
    if base is None:
        return Row(label, "status", "—", cur.status, "—", "new")
    bstat, cstat = base.status, cur.status
    if bstat == "ok" and cstat != "ok":
        return Row(label, "status", bstat, cstat, "—", REGRESSION,
                   f"{label}: ok in the baseline, now {cstat}: {_first_line(cur.error)}")
    if bstat != "ok":
        return Row(label, "status", bstat, cstat, "—", "fixed" if cstat == "ok" else f"not judged: still {cstat}")
    metric_row = _judge_metric(label, base, cur, tolerances)
    return metric_row or Row(label, "status", bstat, cstat, "—", OK)


def _speed_skip(bgroup: TimingGroup, cgroup: TimingGroup, speed: str) -> str | None:
    """Why speed is not judged for this pair of groups, or None when it is."""
    if speed == "never":
        return "not judged: --speed never"
    if speed in ("always", OMIT_SPEED):
        return None
    if bgroup.first.job.backend != cgroup.first.job.backend:
        return (f"not judged: backend differs ({bgroup.first.job.backend} in the baseline, "
                f"{cgroup.first.job.backend} now)")
    if bgroup.machines != cgroup.machines:
        return "not judged: machine class differs"
    return None


def _judge_group(bgroups, cgroups, bgroup: TimingGroup, cgroup: TimingGroup | None,
                 tolerances: dict[str, Tolerance], speed: str) -> list[Row]:
    label = bgroup.label if cgroup is None else cgroup.label
    if cgroup is None:
        return []  # its jobs are already reported missing or failed
    skip = _speed_skip(bgroup, cgroup, speed)
    rows = []
    if bgroup.native_kernels and cgroup.native_kernels:
        before, now = ", ".join(sorted(bgroup.native_kernels)), ", ".join(sorted(cgroup.native_kernels))
        if before == now:
            rows.append(Row(label, "native kernel", before, now, "—", OK))
        elif skip:
            rows.append(Row(label, "native kernel", before, now, "changed", skip))
        else:
            rows.append(Row(label, "native kernel", before, now, "changed", REGRESSION,
                            f"{label}: the native layer ran {before} in the baseline and now runs {now}"))
    for kind, field_name in TIMING_KINDS.items() if speed != OMIT_SPEED else ():
        bratio, cratio = ratio(bgroups, bgroup, kind), ratio(cgroups, cgroup, kind)
        if bratio is None:
            continue  # a native layer, or no native timing in the baseline: nothing to compare with
        check = f"{CHECK_LABELS[field_name]} ({bratio.method})"
        b = bratio.value
        if cratio is None:
            rows.append(Row(label, check, _fmt(b, 3), "—", "—", "not judged: no native timing in the current run"))
            continue
        c = cratio.value
        tolerance = tolerances[field_name]
        change = _change(b, c, True)
        if cratio.method != bratio.method:
            rows.append(Row(label, f"{CHECK_LABELS[field_name]} ({bratio.method} → {cratio.method})", _fmt(b, 3),
                            _fmt(c, 3), change, f"not judged: the baseline's ratio is {bratio.method}, the current "
                            f"one {cratio.method}; regenerate the baseline"))
        elif skip:
            rows.append(Row(label, check, _fmt(b, 3), _fmt(c, 3), change, skip))
        elif tolerance.exceeded(b, c):
            rows.append(Row(label, check, _fmt(b, 3), _fmt(c, 3), change, REGRESSION,
                            f"{label}: {CHECK_PHRASES[field_name]} rose from {b:.3g} to {c:.3g} "
                            f"({change}), beyond the tolerance {tolerance.spelled()}"))
        else:
            rows.append(Row(label, check, _fmt(b, 3), _fmt(c, 3), change, OK))
    return rows


def compare(baseline: list[Record], current: list[Record],
            tolerances: dict[str, Tolerance] | None = None, speed: str = "auto") -> Comparison:
    """Judge `current` records against `baseline` records (both as read from JSONL)."""
    if speed not in (*SPEED_POLICIES, OMIT_SPEED):
        raise ConfigError(f"speed policy {speed!r} is not one of {', '.join(SPEED_POLICIES)}")
    tolerances = tolerances if tolerances is not None else resolve_tolerances()
    base = list(latest_by_job(baseline).values())
    cur = list(latest_by_job(current).values())
    result = Comparison()
    result.notes += _environment_notes(base, cur)

    cur_index = {identity_key(r.identity): r for r in cur}
    cur_loose = {identity_key(r.identity, drop=("backend",)): r for r in cur}
    seen: set[int] = set()
    for record in sorted(base, key=job_label):
        match = _lookup(cur_index, cur_loose, record.identity, ())
        if match is not None:
            seen.add(id(match))
        result.rows.append(_judge_job(job_label(match or record), record, match, tolerances))
    for record in sorted(cur, key=job_label):
        if id(record) not in seen:
            result.rows.append(_judge_job(job_label(record), None, record, tolerances))

    bgroups, cgroups = timing_groups(base), timing_groups(cur)
    cg_index = dict(cgroups)
    cg_loose = {identity_key(g.first.identity, drop=("seed", "backend")): g for g in cgroups.values()}
    for bgroup in sorted(bgroups.values(), key=lambda g: g.label):
        cgroup = _lookup(cg_index, cg_loose, bgroup.first.identity, ("seed",))
        result.rows.extend(_judge_group(bgroups, cgroups, bgroup, cgroup, tolerances, speed))
    return result


def _environment_notes(base: list[Record], cur: list[Record]) -> list[str]:
    notes = []
    bm = sorted({machine_class(r) for r in base if r.status == "ok"})
    cm = sorted({machine_class(r) for r in cur if r.status == "ok"})
    if bm == cm:
        notes.append(f"Machine class: {'; '.join(bm) or 'unknown'} (the same in both files).")
    else:
        notes.append(f"Machine class differs: baseline {'; '.join(bm) or 'unknown'}, current {'; '.join(cm) or 'unknown'}. "
                     "Step-time ratios are not judged; regenerate the baseline on this machine class to gate speed.")
    bb = sorted({r.job.backend for r in base})
    cb = sorted({r.job.backend for r in cur})
    if bb != cb:
        notes.append(f"Backends differ: baseline {', '.join(map(str, bb))}, current {', '.join(map(str, cb))}. "
                     "Jobs are matched without the backend; their speed is not judged.")
    return notes
