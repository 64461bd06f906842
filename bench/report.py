"""`bench report`: summary.md, results.csv and plots, computed from a records file alone.

Nothing is measured here; a report can be rebuilt at any time from the JSONL.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
from tabulate import tabulate

from bench import run_settings
from bench.cells import UnknownCellError, get_spec
from bench.ratios import ratio_in, rounds_key, timed_rounds
from bench.config import MODE_ALIASES, ConfigError, mode_meaning
from bench.jobs import JOB_DEFAULTS, identity_value
from bench.records import RecordStore, latest_by_job
from bench.runners.measure import PHASES, STEP_KINDS

MIB = 1024 * 1024  # the report prints memory in MiB
PHASES_COLUMN = "host ms per phase: " + " / ".join(PHASES)
# Columns that identify a comparable group of jobs, apart from cell and seed: the model's fields, then every
# run setting (bench.run_settings: batch size, epochs, lr, initialiser, and the task options as one string),
# so runs that differ in any of them are never pooled as seeds.
TRAIN_GROUP = ["task", "framework", "backend", "device", "mode", "num_layers", "hidden_size", "bidirectional",
               *run_settings.SETTINGS, "_options"]
TIMING_GROUP = ["framework", "backend", "device", "mode", "batch_size", "seq_len", "input_size", "num_layers",
                "hidden_size", "bidirectional"]
SHAPE_COLUMNS = TIMING_GROUP[4:]  # the shape part of a timing group
ACCURACY_SETTING_COLUMNS = ("epochs", "lr", "init")  # run settings the accuracy table has a column for
# Paired timing (custom cell and native layer interleaved in one job): ratio kind -> flat column
PAIRED_COLUMNS = {"train": "timing.paired_ratio.train_step.median",
                  "infer": "timing.paired_ratio.inference_step.median",
                  "train_iqr": "timing.paired_ratio.train_step.iqr",
                  "infer_iqr": "timing.paired_ratio.inference_step.iqr"}
# Flattened fields the tables read; created empty when no record has them.
EXPECTED_COLUMNS = ["train.target", "train.epochs_to_target", "train.test_metric", "train.metric",
                    "params.framework", "params.recurrent", "params.recurrent_expected", "memory.peak_bytes",
                    "native_path", "error", *PAIRED_COLUMNS.values()]
ENV_COLUMNS = {  # flat record column -> report label
    "environment.hostname": "host", "environment.cpu": "CPU", "environment.cpu_cores": "cores",
    "environment.device_name": "device name", "environment.threads.intra_op": "intra-op threads",
    "environment.threads.inter_op": "inter-op threads", "environment.versions.python": "python",
    "environment.versions.numpy": "numpy", "environment.versions.torch": "torch",
    "environment.versions.tensorflow": "tensorflow", "environment.versions.tensorflow-cpu": "tensorflow-cpu",
    "environment.versions.keras": "keras", "environment.versions.jax": "jax", "environment.cuda": "CUDA",
    "environment.cudnn": "cuDNN", "environment.cuda_driver": "NVIDIA driver",
    "environment.cuda_capability": "compute capability", "environment.tf32.matmul": "TF32 in torch matmul",
    "environment.tf32.cudnn": "TF32 in cuDNN", "environment.tf32.all": "TF32 (TensorFlow)",
    "environment.jax_matmul_precision": "JAX matmul precision",
    "environment.env.OMP_WAIT_POLICY": "OMP_WAIT_POLICY",
    "environment.git.commit": "git commit", "environment.git.dirty": "uncommitted changes",
    "environment.source_digest": "source digest",
}

NOTES = """\
How to read this report:

- Every row comes from the records file named above; each job ran in its own process.
- **Custom cells hoist the input projection**: they compute `x @ kernel + bias` for all time
  steps in one matrix product before the time loop, and only the recurrent part runs per step.
  Native cells (`gru4`, `lstm_native`, `rnn_native`) are the frameworks' own layers; the
  *native path* column says which kernel actually ran (a fused ATen kernel, cuDNN, or Keras's
  generic loop).
- **Accuracy**: the task's metric on the test split after the last epoch (accuracy, bit accuracy,
  or mean squared error where lower is better), mean ± standard deviation over seeds; *epochs to
  target* is the first epoch whose validation metric reached the target (mean over the seeds that
  reached it, with how many did). Runs that differ in anything but the seed are separate rows; the
  *init* and *other settings* (batch size, native bias, Adam epsilon, task options) columns appear
  where runs differ in them.
- **Step time**: a training step is forward + loss + backward + Adam step on a batch already on the
  device; an inference step is a forward pass without gradients. Each is timed after warm-up
  steps, with the device synchronised around every step; the table shows the median and, in
  brackets, the interquartile range in milliseconds, and *n* timed steps. Throughput is sequences
  per second at the median.
- **× native** is the cell's step time relative to its native baseline (`gru4` for GRU and
  MGU cells, `lstm_native`, `rnn_native`) in the same framework, backend, device, mode and
  shape; below 1 means faster than the native layer. The *ratio* column says how it was
  measured. **paired**: the cell's job built the native layer in the same process and timed
  the two interleaved, one step of each back to back (alternating which goes first), and
  the ratio is the median over those pairs of custom / native (median over seeds), with the
  pairs' interquartile range in brackets; load from other processes hits both halves of a
  pair alike, so this is the number to trust on a shared machine. **cross-job** (records
  timed without pairing): the cell's fastest round (seed) divided by its native layer's
  fastest round in this records file, timed in other processes at other moments. Both are
  bench.ratios's rule, the number `bench compare` judges.
- **Compile** is the step's first call (made alone, before its warm-up steps) minus the
  steady-state median: tracing, XLA or torch.compile/inductor compilation, CUDA-graph capture
  and first-call allocation. torch.compile keeps an
  on-disk cache between runs (`/tmp/torchinductor_$USER` unless `TORCHINDUCTOR_CACHE_DIR`
  is set), so a compile time measured with a warm cache is far shorter than a cold one.
- **Peak memory** is the job process's maximum resident set on CPU (it includes the framework
  itself) and the device allocator's peak on GPU; a paired job reads it before it builds the
  native layer, so it is the cell's own.
- **Jobs side by side** (`bench run --parallel N`, used on GPU machines): the jobs' start-up and
  compilation overlap, but each job holds a device lock from its first warm-up step to its
  last timed step, so no two jobs' timed steps overlap; other jobs' compiling still loads the
  CPU meanwhile, which is one more reason to read the paired ratios.
- Jobs that failed are listed with their status (`diverged`: a non-finite training loss, or an epoch's
  mean above 100 × the untrained loss; `oom`; `error`; `timeout`; `incorrect`: the cell missed its NumPy
  reference, so it was not timed) and are left out of the other tables.
"""


def modes_markdown(records: list[dict[str, Any]]) -> str:
    """What each mode in these records runs, one line per backend and mode present.

    Read from the identities, not the report's mode column, which carries a chosen float32
    precision (mode_label); a line after the modes says what that suffix means.
    """
    identities = [record["identity"] for record in records]
    lines = ["The modes in these records:", ""]
    for framework, backend, mode in sorted({(i["framework"], i["backend"], i["mode"]) for i in identities}):
        try:
            meaning = mode_meaning(backend, mode)
        except KeyError:  # a record from a version of the suite that had this mode
            meaning = "a mode this version of the suite does not have"
        lines.append(f"- {framework} ({backend}) `{mode}`: {meaning}.")
    if any(identity_value(i, "float32") != JOB_DEFAULTS["float32"] for i in identities):
        lines += ["", "A mode shown as `MODE·tf32` or `MODE·fp32` ran with that float32 precision for the cell "
                      "and its native layer alike (`--float32`; the Environment table reads the switches back)."]
    return "\n".join(lines)


def load_frame(path: str | Path) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """(one flat row per job, the latest record of each job) from a records file."""
    store = RecordStore(path)
    records = list(latest_by_job(store.load()).values())
    if not records:
        raise ConfigError(f"{path} holds no readable records; run `python -m bench run` to produce some")
    remember_plugin_cells(records)
    flat = pd.json_normalize(records, sep=".")
    for column in list(flat.columns):  # lists (curves, warm-up times) stay in the JSONL
        if flat[column].map(lambda v: isinstance(v, (list, dict))).any():
            flat = flat.drop(columns=column)
    # a section that is null in some records leaves an empty column beside its flattened fields
    flat = flat.drop(columns=[c for c in ("train", "timing", "params", "memory") if c in flat])
    for column in EXPECTED_COLUMNS:  # absent when no record has them (e.g. no target set anywhere)
        if column not in flat:
            flat[column] = None
    flat.columns = [c.removeprefix("identity.") for c in flat.columns]
    for name in run_settings.SETTINGS:  # identity() leaves a default out (native_bias): every run has a value
        flat[name] = [identity_value(record["identity"], name) for record in records]
    flat["mode"] = [mode_label(record["identity"]) for record in records]
    # private columns (not written to results.csv): task options as one string to group by, and the identity
    flat["_options"] = [run_settings.options_key(record["identity"]) for record in records]
    flat["_identity"] = [record["identity"] for record in records]
    flat["_record"] = records  # the whole record, for what needs more than the flat columns (bench.ratios)
    return flat, records


def mode_label(identity: dict[str, Any]) -> str:
    """The mode as reports show it: with the float32 precision when a job chose one (e.g. "eager·tf32")."""
    precision = identity_value(identity, "float32")
    return identity["mode"] if precision == JOB_DEFAULTS["float32"] else f"{identity['mode']}·{precision}"


# plugin cells named by the records read so far (environment.plugins): a report needs no plugin loaded
_RECORDED_CELLS: dict[str, dict[str, Any]] = {}


def remember_plugin_cells(records: list[dict[str, Any]]) -> None:
    """Note the baseline and nativeness of every plugin cell the records describe."""
    for record in records:
        for plugin in record["environment"].get("plugins", []):
            _RECORDED_CELLS.update(plugin["cells"])


def baseline_of(cell: str) -> str | None:
    """The native cell `cell` is timed against; None for a cell neither registered nor described by a record."""
    try:
        return get_spec(cell).baseline
    except UnknownCellError:
        return _RECORDED_CELLS.get(cell, {}).get("baseline")


def is_native(cell: str) -> bool:
    try:
        return get_spec(cell).native
    except UnknownCellError:
        return bool(_RECORDED_CELLS.get(cell, {}).get("native", False))


def plugins_table(records: list[dict[str, Any]]) -> str:
    """Each plugin file the records were made with: its digest, its cells and how many jobs ran it."""
    seen: dict[tuple[str, str | None], dict[str, Any]] = {}
    for record in records:
        for plugin in record["environment"].get("plugins", []):
            entry = seen.setdefault((plugin["source"], plugin["sha256"]), {"cells": plugin["cells"], "jobs": 0})
            entry["jobs"] += record["identity"]["cell"] in plugin["cells"]
    rows = [[f"`{source}`", f"`{digest}`" if digest else "—", ", ".join(sorted(entry["cells"])), entry["jobs"]]
            for (source, digest), entry in sorted(seen.items())]
    return tabulate(rows, headers=["plugin", "sha256", "cells", "jobs of its cells"], tablefmt="github") if rows else ""


def _fmt_num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "—"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def _shape(row: pd.Series) -> str:
    features = f"I{int(row.input_size)}" if row.input_size else "tokens"  # 0: token ids, no feature axis
    return f"B{int(row.batch_size)} T{int(row.seq_len)} {features} H{int(row.hidden_size)}" + \
        (f" L{int(row.num_layers)}" if row.num_layers != 1 else "") + (" bi" if row.bidirectional else "")


def accuracy_table(flat: pd.DataFrame) -> pd.DataFrame:
    """One row per cell and comparable group: test metric mean ± std over seeds and parameters."""
    ok = flat[(flat.status == "ok") & flat.measure.isin(["train", "both"])]
    if ok.empty:
        return pd.DataFrame()
    rows = []
    for keys, group in ok.groupby(TRAIN_GROUP + ["cell"], sort=True, dropna=False):
        info = dict(zip(TRAIN_GROUP + ["cell"], keys))
        metric = group["train.test_metric"].astype(float)
        reached = group["train.epochs_to_target"].dropna() if "train.epochs_to_target" in group else pd.Series([])
        expected = group["params.recurrent_expected"].iloc[0]
        recurrent = group["params.recurrent"].iloc[0]
        rows.append({
            "task": info["task"], "cell": info["cell"], "framework": info["framework"], "backend": info["backend"],
            "mode": info["mode"], "device": info["device"],
            "model": f"L{info['num_layers']} H{info['hidden_size']}" + (" bi" if info["bidirectional"] else ""),
            "metric": group["train.metric"].iloc[0],
            # one seed has no spread: say so rather than print ± 0
            "test (mean ± std)": f"{metric.mean():.4f} ± " + (f"{metric.std(ddof=1):.4f}" if len(metric) > 1 else "—"),
            "seeds": len(group),
            "final val": f"{group['train.val_metric_last'].astype(float).mean():.4f}"
            if "train.val_metric_last" in group else "—",
            "epochs to target": (f"{reached.mean():.1f} ({len(reached)}/{len(group)})"
                                 if group["train.target"].notna().any() else "—"),
            "epochs": info["epochs"], "lr": info["lr"], "init": info["init"],
            "params": int(group["params.framework"].iloc[0]),
            "recurrent params (spec)": f"{int(recurrent)} ({int(expected)}{'' if recurrent == expected else ' MISMATCH'})",
            "s/epoch": f"{group['train.wall_s_mean'].astype(float).mean():.2f}" if "train.wall_s_mean" in group else "—",
            "_test_mean": metric.mean(), "_params": int(group["params.framework"].iloc[0]),
            "_settings": run_settings.of(group["_identity"].iloc[0]),  # for labels: what tells the rows apart
        })
    table = pd.DataFrame(rows)
    # settings without a column of their own (batch size, task options) that differ between this task's rows,
    # e.g. "n_train=50000" beside "n_train=default"; "" where none do
    table["other settings"] = ""
    for _, part in table.groupby("task"):
        keys = [key for key in run_settings.varying(list(part._settings)) if key not in ACCURACY_SETTING_COLUMNS]
        table.loc[part.index, "other settings"] = [run_settings.label(settings, keys) for settings in part._settings]
    return table


def timing_table(flat: pd.DataFrame) -> pd.DataFrame:
    """One row per cell and shape/mode group: step medians, IQR, ratio to the native baseline."""
    ok = flat[(flat.status == "ok") & flat.measure.isin(["timing", "both"])].copy()
    if ok.empty:
        return pd.DataFrame()
    # measured shape (a "both" job's comes from its task); token input has no feature size
    ok["seq_len"] = ok["timing.shape.seq_len"].astype(int)
    ok["input_size"] = ok["timing.shape.input_size"].fillna(0).astype(int)
    # a row is one configuration's rounds (its records that differ only in the seed), as the gate groups them
    ok["_rounds"] = [rounds_key(identity) for identity in ok["_identity"]]
    summary = (ok.groupby(TIMING_GROUP + ["cell", "_rounds"], dropna=False)
               .agg(train_ms=("timing.train_step.median_s", "median"), train_iqr=("timing.train_step.iqr_s", "median"),
                    train_q1=("timing.train_step.q1_s", "median"), train_q3=("timing.train_step.q3_s", "median"),
                    infer_ms=("timing.inference_step.median_s", "median"),
                    infer_iqr=("timing.inference_step.iqr_s", "median"),
                    throughput=("timing.train_step.throughput_seq_s", "median"),
                    compile_s=("timing.train_step.compile_s", "median"), n=("timing.train_step.n", "min"),
                    peak=("memory.peak_bytes", "max"), native_path=("native_path", "first"), seeds=("seed", "count"))
               .reset_index())
    for column in ("train_ms", "train_iqr", "train_q1", "train_q3", "infer_ms", "infer_iqr"):
        summary[column] = summary[column] * 1e3
    groups = timed_rounds(ok["_record"])
    columns: dict[str, list] = {"train_ratio": [], "infer_ratio": [], "train_ratio_iqr": [], "infer_ratio_iqr": [],
                                "method": []}
    for _, row in summary.iterrows():
        found = {kind: ratio_in(groups, row["_rounds"], baseline_of(row.cell), step)
                 for kind, step in (("train", "train_step"), ("infer", "inference_step"))}
        for kind, ratio in found.items():  # bench.ratios: the number the gate judges
            columns[f"{kind}_ratio"].append(ratio.value if ratio else None)
            columns[f"{kind}_ratio_iqr"].append(ratio.iqr if ratio else None)
        columns["method"].append(found["train"].method if found["train"] else "")
    for name in ("train_ratio", "infer_ratio", "train_ratio_iqr", "infer_ratio_iqr"):
        summary[name] = columns[name]
    summary["native"] = summary.cell.map(is_native)
    summary["ratio_method"] = [m if not native else "" for m, native in zip(columns["method"], summary.native)]
    return summary  # "_rounds" stays: the configuration each row is, as bench.ratios keys it


def _ratio_text(ratio: Any, iqr: Any) -> str:
    text = _fmt_num(ratio)
    return text + (f" ({iqr:.2g})" if iqr is not None and pd.notna(iqr) else "")


def _timing_markdown(summary: pd.DataFrame) -> str:
    rows = []
    for _, r in summary.sort_values(TIMING_GROUP + ["cell"]).iterrows():
        rows.append([r.cell + (" (native)" if r.native else ""), r.framework, r.backend, r["mode"], r.device, _shape(r),
                     f"{r.train_ms:.3g} ({r.train_iqr:.2g})", _ratio_text(r.train_ratio, r.train_ratio_iqr),
                     f"{r.infer_ms:.3g} ({r.infer_iqr:.2g})", _ratio_text(r.infer_ratio, r.infer_ratio_iqr),
                     r.ratio_method,
                     _fmt_num(r.throughput, 4), _fmt_num(r.compile_s), int(r.n),
                     _fmt_num(r.peak / MIB if pd.notna(r.peak) else None, 4),
                     r.native_path.split(": ")[0] if isinstance(r.native_path, str) else ""])
    return tabulate(rows, tablefmt="github", headers=[
        "cell", "framework", "backend", "mode", "device", "shape", "train ms (IQR)", "train × native",
        "infer ms (IQR)", "infer × native", "ratio", "train seq/s", "compile s", "n", "peak MiB", "native path"])


def ratio_pivots(summary: pd.DataFrame, kind: str = "train") -> list[tuple[str, pd.DataFrame]]:
    """Per framework, backend, device and mode: cell × shape of the `kind` step's ratio to native.

    Only custom cells that have a ratio appear; each heading says how many of its
    ratios are at most 1.0 (as fast as the native layer, or faster).
    """
    column = f"{kind}_ratio"
    custom = summary[~summary.native & summary[column].notna()].copy()
    if custom.empty:
        return []
    out = []
    keys = ["framework", "backend", "device", "mode"]
    for key, group in custom.groupby(keys, sort=True):
        at_most_one = int((group[column] <= 1.0).sum())
        title = (f"{key[0]} ({key[1]}) · {key[3]} · {key[2]}: {kind} step × native — "
                 f"{at_most_one} of {len(group)} at most 1.0")
        out.append((title, _cells_by_shape(group, column)))
    return out


def overview_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Per framework, backend, device, mode and step kind: how the custom cells' ratios to native fall.

    The figures a reader quotes ("n of m at most 1.0, median, range"), with the median per
    hidden size where the records span several, and how noisy the timed steps were.
    """
    custom = summary[~summary.native]
    hidden_sizes = sorted(custom.hidden_size.unique()) if custom.hidden_size.nunique() > 1 else []
    rows = []
    for key, group in custom.groupby(["framework", "backend", "device", "mode"], sort=True):
        for kind in ("train", "infer"):
            has_ratio = group[group[f"{kind}_ratio"].notna()]
            ratios = has_ratio[f"{kind}_ratio"].astype(float)
            if ratios.empty:
                continue
            row = {"framework": f"{key[0]} ({key[1]})", "mode": key[3], "device": key[2], "step": kind,
                   "at most 1.0": f"{int((ratios <= 1.0).sum())} of {len(ratios)}",
                   "median": _fmt_num(ratios.median()),
                   "range": f"{_fmt_num(ratios.min())}–{_fmt_num(ratios.max())}"}
            for hidden in hidden_sizes:
                at = ratios[has_ratio.hidden_size == hidden]
                row[f"median, H{hidden}"] = _fmt_num(at.median()) if not at.empty else "—"
            # spread of the timed steps themselves, and of the paired ratios, as a share of their median
            row["step IQR ÷ median"] = _fmt_num((has_ratio[f"{kind}_iqr"] / has_ratio[f"{kind}_ms"]).median(), 2)
            pair_iqr = has_ratio[f"{kind}_ratio_iqr"].dropna().astype(float)
            row["ratio IQR"] = _fmt_num(pair_iqr.median(), 2) if not pair_iqr.empty else "—"
            rows.append(row)
    return pd.DataFrame(rows)


def cost_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Per framework, backend, device and mode: compile time and peak memory, custom cells beside native layers."""
    rows = []
    for key, group in summary.groupby(["framework", "backend", "device", "mode"], sort=True):
        custom, native = group[~group.native], group[group.native]
        compile_s = custom.compile_s.dropna().astype(float)
        rows.append({
            "framework": f"{key[0]} ({key[1]})", "mode": key[3], "device": key[2],
            "compile s, custom (range)": (f"{_fmt_num(compile_s.median())} ({_fmt_num(compile_s.min())}–"
                                          f"{_fmt_num(compile_s.max())})" if not compile_s.empty else "—"),
            # the median of no jobs is NaN, which _fmt_num prints as "—"
            "compile s, native": _fmt_num(native.compile_s.astype(float).median()),
            "peak MiB, custom": _fmt_num(custom.peak.astype(float).median() / MIB, 4),
            "peak MiB, native": _fmt_num(native.peak.astype(float).median() / MIB, 4),
            "jobs, custom / native": f"{len(custom)} / {len(native)}",
        })
    return pd.DataFrame(rows)


def default_mode_pivots(summary: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Custom cells in a non-default mode against the native layer in its default mode (cross-job).

    The question "can compiling my cell beat the framework's own layer as people run it?":
    e.g. torch `compiled_cudagraphs` custom cells ÷ eager `nn.GRU` (cuDNN). The two medians
    come from different jobs, so these ratios carry the load differences between them.
    """
    out = []
    keys = ["framework", "backend", "device"]
    for key, group in summary.groupby(keys, sort=True):
        default = MODE_ALIASES.get(key[1], {}).get("default")
        natives = group[group.native & (group["mode"] == default)]
        if natives.empty:
            continue
        natives = natives[SHAPE_COLUMNS + ["cell", "train_ms"]].rename(columns={"cell": "baseline",
                                                                               "train_ms": "native_ms"})
        custom = group[~group.native & (group["mode"] != default)]
        custom = custom.assign(baseline=custom.cell.map(baseline_of)).merge(natives, on=SHAPE_COLUMNS + ["baseline"])
        custom["ratio"] = custom.train_ms / custom.native_ms
        for mode, part in custom.groupby("mode", sort=True):
            title = (f"{key[0]} ({key[1]}) · {mode} cells ÷ {default} native layer · {key[2]}: train step, "
                     f"cross-job — {int((part.ratio <= 1.0).sum())} of {len(part)} at most 1.0")
            out.append((title, _cells_by_shape(part, "ratio")))
    return out


def _cells_by_shape(rows: pd.DataFrame, column: str) -> pd.DataFrame:
    """`column` as a table: one row per cell, one column per shape (by steps, then units, then batch)."""
    rows = rows.assign(shape_label=rows.apply(_shape, axis=1))
    order = rows.sort_values(["seq_len", "hidden_size", "batch_size"])["shape_label"].drop_duplicates().tolist()
    return rows.pivot_table(index="cell", columns="shape_label", values=column, aggfunc="first")[order]


def _profiled_steps(records: list[dict[str, Any]]):
    """(record, the columns naming its step, step kind, its profile, the native's profile) per profiled step."""
    for record in records:
        profile = (record.get("timing") or {}).get("profile") if record["status"] == "ok" else None
        if not profile:
            continue
        ident, shape = record["identity"], record["timing"]["shape"]
        for kind in STEP_KINDS:
            mine = profile.get(kind)
            if mine:
                names = {"cell": ident["cell"], "framework": ident["framework"], "mode": mode_label(ident),
                         "device": ident["device"],
                         "shape": _shape(SimpleNamespace(batch_size=ident["batch_size"], seq_len=shape["seq_len"],
                                                         input_size=shape["input_size"] or 0,
                                                         hidden_size=ident["hidden_size"],
                                                         num_layers=ident["num_layers"],
                                                         bidirectional=ident["bidirectional"])),
                         "step": kind.replace("_step", "")}
                yield record, names, kind, mine, profile.get(f"native_{kind}")


def profile_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per profiled step (`bench run --profile`): launches and time per step, beside the native's."""
    rows = []
    for record, names, kind, mine, native in _profiled_steps(records):
        step_s = record["timing"][kind]["median_s"]
        native_step_s = ((record["timing"].get("native") or {}).get(kind) or {}).get("median_s")
        rows.append({
            **names, "counted": mine["what"],
            "per step": f"{mine['launches_per_step']:.0f}",
            "native per step": f"{native['launches_per_step']:.0f}" if native else "—",
            "ms per step": f"{1e3 * mine['time_per_step_s']:.3g}",
            "native ms per step": f"{1e3 * native['time_per_step_s']:.3g}" if native else "—",
            # what share of the timed step (its median) the counted work fills: far below 100% on a
            # GPU, the device waits for the host, and the step's time is the host's
            "busy": f"{100 * mine['time_per_step_s'] / step_s:.0f}%",
            "native busy": f"{100 * native['time_per_step_s'] / native_step_s:.0f}%"
                           if native and native_step_s else "—",
            "top (calls per step)": "; ".join(f"{t['name'][:48]} ({t['calls_per_step']:.0f})"
                                              for t in mine["top"][:3]),
        })
    return pd.DataFrame(rows)


def host_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per profiled step that recorded its host side: wall time under the profiler, the top host
    calls, and for a training step the host's time per phase (TorchAdapter.phase_times), beside the native's."""
    rows = [{**names, "wall ms (profiled)": f"{1e3 * mine['wall_per_step_s']:.3g}",
             "top host calls, inclusive ms per step (calls)": "; ".join(
                 f"{t['name'][:48]} {1e3 * t['time_per_step_s']:.3g} ({t['calls_per_step']:.0f})"
                 for t in mine["host_top"][:4]),
             PHASES_COLUMN: _phases_text(mine), f"native {PHASES_COLUMN}": _phases_text(native)}
            for _, names, _, mine, native in _profiled_steps(records) if mine.get("host_top")]
    table = pd.DataFrame(rows)
    if not table.empty and (table[PHASES_COLUMN] == "—").all():  # records from before phases were clocked
        table = table.drop(columns=[PHASES_COLUMN, f"native {PHASES_COLUMN}"])
    return table


def _phases_text(profile: dict[str, Any] | None) -> str:
    phases = (profile or {}).get("host_phases")
    return " / ".join(f"{1e3 * phases[name]:.3g}" for name in PHASES) if phases else "—"


def _pivot_markdown(pivot: pd.DataFrame) -> str:
    rows = [[cell] + [_fmt_num(v) if pd.notna(v) else "—" for v in values] for cell, values in pivot.iterrows()]
    return tabulate(rows, headers=["cell", *pivot.columns], tablefmt="github")


def _frame_markdown(frame: pd.DataFrame, numparse: bool = True) -> str:
    """A table's rows under its column names; `numparse=False` prints the cells' text exactly as made."""
    return tabulate(frame.values.tolist(), headers=list(frame.columns), tablefmt="github",
                    disable_numparse=not numparse)


def _pivot_section(heading: str, intro: str, pivots: list[tuple[str, pd.DataFrame]]) -> list[str]:
    """A report section of cell-by-shape tables, one per title; nothing when there are none."""
    if not pivots:
        return []
    lines = [heading, "", intro, ""]
    for title, pivot in pivots:
        lines += [f"### {title}", "", _pivot_markdown(pivot), ""]
    return lines


def _accuracy_markdown(table: pd.DataFrame) -> str:
    # the initialiser and the other settings are shown where some job differs from the default
    quiet = [c for c, default in (("init", "framework"), ("other settings", "")) if (table[c] == default).all()]
    visible = table.drop(columns=[c for c in table.columns if c.startswith("_")] + quiet)
    return _frame_markdown(visible.sort_values(["task", "framework", "mode", "cell"]))  # stable: group order stays


def failures_table(flat: pd.DataFrame) -> str:
    bad = flat[flat.status != "ok"]
    rows = [[r.job_id, r.cell, r.framework, r["mode"], r.measure, r.task, f"H{r.hidden_size}", f"{r.lr:g}", r.status,
             (str(r.error).strip().splitlines() or [""])[0][:160]] for _, r in bad.iterrows()]
    return tabulate(rows, headers=["job", "cell", "framework", "mode", "measure", "task", "size", "lr", "status",
                                   "error"], tablefmt="github")


def environment_table(flat: pd.DataFrame) -> str:
    present = {c: label for c, label in ENV_COLUMNS.items() if c in flat}
    env = flat[list(present)].map(lambda v: "—" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    env = env.drop_duplicates().rename(columns=present)
    rows = [[label] + env[label].tolist() for label in env.columns if (env[label] != "—").any()]
    return tabulate(rows, headers=["", *[f"setting {i + 1}" for i in range(len(env))]], tablefmt="github")


def _add_curve_columns(flat: pd.DataFrame, records: list[dict[str, Any]]) -> pd.DataFrame:
    """Scalars derived from the per-epoch curves (the curves themselves stay in the JSONL)."""
    by_id = {r["job_id"]: r for r in records}
    last_val, wall = [], []
    for job_id in flat.job_id:
        epochs = ((by_id[job_id].get("train") or {}).get("epochs")) or []
        vals = [e.get("val_metric") for e in epochs if e.get("val_metric") is not None]
        last_val.append(vals[-1] if vals else None)
        walls = [e["wall_s"] for e in epochs if "wall_s" in e]
        wall.append(float(np.mean(walls)) if walls else None)
    flat["train.val_metric_last"], flat["train.wall_s_mean"] = last_val, wall
    return flat


def write_report(records_path: str | Path, out_dir: str | Path) -> dict[str, Any]:
    """Write summary.md, results.csv and the plots into `out_dir`; returns what was written."""
    from bench import plots

    records_path, out_dir = Path(records_path), Path(out_dir)
    flat, records = load_frame(records_path)
    flat = _add_curve_columns(flat, records)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / "results.csv"
    public = flat.drop(columns=[c for c in flat.columns if c.startswith("_")])
    public.sort_values(["measure", "task", "framework", "mode", "cell", "seed"]).to_csv(csv_path, index=False)

    accuracy = accuracy_table(flat)
    timing = timing_table(flat)
    images = plots.write_all(records, accuracy, timing, out_dir)

    statuses = flat.status.value_counts().to_dict()
    started = sorted(flat.started_at)
    lines = [
        "# rnnbench report", "",
        f"Records: `{records_path.name}` ({len(flat)} jobs, {started[0]} to {started[-1]} UTC). "
        "Status: " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())) + ".",
        "", NOTES, modes_markdown(records), "",
    ]
    if not accuracy.empty:
        lines += ["## Accuracy", "", _accuracy_markdown(accuracy), ""]
    if not timing.empty:
        overview, costs = overview_table(timing), cost_table(timing)
        lines += ["## At a glance: custom cells against their native layer", ""]
        if not overview.empty:
            lines += ["Each custom cell's step time ÷ its native layer's (the *× native* column of the step-time "
                      "table below), summarised per framework, mode, device and step: how many of the cell × shape "
                      "ratios are at most 1.0, their median and range, and the median per hidden size where several "
                      "were timed. *step IQR ÷ median* is how much the custom cells' timed steps varied (their "
                      "interquartile range over their median, the median over the jobs); *ratio IQR* the same for "
                      "the paired ratios. Where those are large, read the ratios as within the noise.", "",
                      _frame_markdown(overview, numparse=False), ""]
        lines += ["Compile time (a step's first call minus its steady-state median) and peak memory, the median "
                  "over the jobs: the custom cells beside the native layers.", "",
                  _frame_markdown(costs, numparse=False), ""]
        lines += ["## Step time", "", "Milliseconds per step (median, IQR in brackets).", "",
                  _timing_markdown(timing), ""]
        lines += _pivot_section(
            "## Ratio to the native layer, by shape",
            "The *× native* column above, one table per framework, mode and device: rows are the custom cells, "
            "columns the shapes (B batch, T steps, I features, H units); below 1 the cell is faster than its "
            "native layer.",
            ratio_pivots(timing, "train") + ratio_pivots(timing, "infer"))
        lines += _pivot_section(
            "## Compiled cells against the native layer as it usually runs",
            "Each custom cell in a compiled mode divided by its native layer in the framework's default mode "
            "(torch: eager `nn.GRU`/`LSTM`/`RNN`, cuDNN on a GPU), same shape. The two medians come from "
            "different jobs, timed at different moments, so these ratios are noisier than the paired ones above.",
            default_mode_pivots(timing))
    profiles = profile_table(records)
    if not profiles.empty:
        lines += ["## Profile", "",
                  "Jobs run with `--profile`: a few steps of each kind under torch.profiler after the timed "
                  "steps. *per step* counts the CUDA kernels a step launched (ATen operators on CPU), *ms per "
                  "step* is their summed device time (CPU time on CPU), beside the native layer's from the same "
                  "job; *busy* is that time as a share of the step's timed median (far below 100% on a GPU: the "
                  "device waits for the host, so the step's time is the host's); the most expensive kernels are "
                  "listed with their calls per step.", "",
                  _frame_markdown(profiles.sort_values(["framework", "mode", "shape", "cell", "step"])), ""]
        hosts = host_table(records)
        if not hosts.empty:
            lines += ["### The host's side of the same steps", "",
                      "Wall time per step while profiled (the profiler adds its own overhead), and the host calls "
                      "that held the most CPU time per step, inclusive of what they called (so they nest: an "
                      "optimizer step contains its foreach ops). Where recorded, the training step's wall time "
                      "split by phase, clocked on the host without the profiler and without a device sync inside "
                      "the step: the time to issue each phase, then *device_wait*, the wait for the device at "
                      "the end (small when the host holds the step, large when the device does).", "",
                      _frame_markdown(hosts.sort_values(["framework", "mode", "shape", "cell", "step"])), ""]
    if images:
        lines += ["## Plots", ""] + [f"![{p.stem}]({p.name})" for p in images] + [""]
    if (flat.status != "ok").any():
        lines += ["## Failed jobs", "", failures_table(flat), ""]
    plugins = plugins_table(records)
    if plugins:
        lines += ["## Plugins", "", "Cells registered from files outside the project (`--plugin`), as each record names "
                  "them: a changed file has another digest.", "", plugins, ""]
    lines += ["## Environment", "", environment_table(flat), ""]
    summary_path = out_dir / "summary.md"
    summary_path.write_text("\n".join(lines))
    return {"summary": summary_path, "csv": csv_path, "plots": images,
            "files": [summary_path, csv_path, *images]}

