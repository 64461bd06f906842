"""The report's tables, each computed from the flat frame (bench.report.frame) or the records."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from bench.plan import settings as run_settings
from bench.plan.modes import UnknownModeError, usual_mode
from bench.records.ratios import ratio_in, ratio_to_usual, rounds_key, step_stats, timed_rounds
from bench.records.schema import Record
from bench.records.typed import field_path
from bench.report.frame import (MEMORY_PEAK_BYTES, NATIVE_PATH, PARAMS_FRAMEWORK, PARAMS_RECURRENT,
                                PARAMS_RECURRENT_EXPECTED, SHAPE_INPUT_SIZE, SHAPE_SEQ_LEN, TRAIN_EPOCHS_TO_TARGET,
                                TRAIN_METRIC, TRAIN_TARGET, TRAIN_TEST_METRIC, VAL_METRIC_LAST, WALL_S_MEAN,
                                DURATION_S, baseline_of, is_native, mode_label, step_column)
from bench.run.runners.measure import PHASES, STEP_KINDS


MIB = 1024 * 1024  # the report prints memory in MiB


PHASES_COLUMN = "host ms per phase: " + " / ".join(PHASES)


# Columns that identify a comparable group of jobs, apart from cell and seed: the model's fields, then every
# run setting (bench.plan.settings: batch size, epochs, lr, initialiser, and the task options as one string),
# so runs that differ in any of them are never pooled as seeds.
TRAIN_GROUP = ["task", "framework", "backend", "device", "mode", "num_layers", "hidden_size", "bidirectional",
               *run_settings.SETTINGS, "_options"]


TIMING_GROUP = ["framework", "backend", "device", "mode", "batch_size", "seq_len", "input_size", "num_layers",
                "hidden_size", "bidirectional"]


SHAPE_COLUMNS = TIMING_GROUP[4:]  # the shape part of a timing group


ACCURACY_SETTING_COLUMNS = ("epochs", "lr", "init")  # run settings the accuracy table has a column for


def _fmt_num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "—"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def median_range(values: pd.Series) -> str:
    """"median (min–max)" of some numbers, "—" for none."""
    if values.empty:
        return "—"
    return f"{_fmt_num(values.median())} ({_fmt_num(values.min())}–{_fmt_num(values.max())})"


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
        metric = group[TRAIN_TEST_METRIC].astype(float)
        reached = group[TRAIN_EPOCHS_TO_TARGET].dropna()
        expected = group[PARAMS_RECURRENT_EXPECTED].iloc[0]
        recurrent = group[PARAMS_RECURRENT].iloc[0]
        rows.append({
            "task": info["task"], "cell": info["cell"], "framework": info["framework"], "backend": info["backend"],
            "mode": info["mode"], "device": info["device"],
            "model": f"L{info['num_layers']} H{info['hidden_size']}" + (" bi" if info["bidirectional"] else ""),
            "metric": group[TRAIN_METRIC].iloc[0],
            # one seed has no spread: say so rather than print ± 0
            "test (mean ± std)": f"{metric.mean():.4f} ± " + (f"{metric.std(ddof=1):.4f}" if len(metric) > 1 else "—"),
            "seeds": len(group),
            "final val": f"{group[VAL_METRIC_LAST].astype(float).mean():.4f}",
            "epochs to target": (f"{reached.mean():.1f} ({len(reached)}/{len(group)})"
                                 if group[TRAIN_TARGET].notna().any() else "—"),
            "epochs": info["epochs"], "lr": info["lr"], "init": info["init"],
            "params": int(group[PARAMS_FRAMEWORK].iloc[0]),
            "recurrent params (spec)": f"{int(recurrent)} ({int(expected)}{'' if recurrent == expected else ' MISMATCH'})",
            "s/epoch": f"{group[WALL_S_MEAN].astype(float).mean():.2f}",
            "_test_mean": metric.mean(), "_params": int(group[PARAMS_FRAMEWORK].iloc[0]),
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
    ok["seq_len"] = ok[SHAPE_SEQ_LEN].astype(int)
    ok["input_size"] = ok[SHAPE_INPUT_SIZE].fillna(0).astype(int)
    # a row is one configuration's rounds (its records that differ only in the seed), as the gate groups them
    ok["_rounds"] = [rounds_key(identity) for identity in ok["_identity"]]
    summary = (ok.groupby(TIMING_GROUP + ["cell", "_rounds"], dropna=False)
               .agg(train_ms=(step_column("train_step", "median_s"), "median"),
                    train_iqr=(step_column("train_step", "iqr_s"), "median"),
                    train_q1=(step_column("train_step", "q1_s"), "median"),
                    train_q3=(step_column("train_step", "q3_s"), "median"),
                    infer_ms=(step_column("inference_step", "median_s"), "median"),
                    infer_iqr=(step_column("inference_step", "iqr_s"), "median"),
                    throughput=(step_column("train_step", "throughput_seq_s"), "median"),
                    compile_s=(step_column("train_step", "compile_s"), "median"),
                    n=(step_column("train_step", "n"), "min"), peak=(MEMORY_PEAK_BYTES, "max"),
                    native_path=(NATIVE_PATH, "first"), seeds=("seed", "count"))
               .reset_index())
    for column in ("train_ms", "train_iqr", "train_q1", "train_q3", "infer_ms", "infer_iqr"):
        summary[column] = summary[column] * 1e3
    groups = timed_rounds(ok["_record"])
    columns: dict[str, list] = {"train_ratio": [], "infer_ratio": [], "train_ratio_iqr": [], "infer_ratio_iqr": [],
                                "method": [], "train_ratio_to_usual": [], "train_ratio_to_usual_method": []}
    for _, row in summary.iterrows():
        usual = _usual_mode_name(row.backend)
        to_usual = usual and ratio_to_usual(groups, row["_rounds"], baseline_of(row.cell), usual, "train_step")
        columns["train_ratio_to_usual"].append(to_usual.value if to_usual else None)
        columns["train_ratio_to_usual_method"].append(to_usual.method if to_usual else "")
        found = {kind: ratio_in(groups, row["_rounds"], baseline_of(row.cell), step)
                 for kind, step in (("train", "train_step"), ("infer", "inference_step"))}
        for kind, ratio in found.items():  # bench.records.ratios: the number the gate judges
            columns[f"{kind}_ratio"].append(ratio.value if ratio else None)
            columns[f"{kind}_ratio_iqr"].append(ratio.iqr if ratio else None)
        columns["method"].append(found["train"].method if found["train"] else "")
    for name in ("train_ratio", "infer_ratio", "train_ratio_iqr", "infer_ratio_iqr", "train_ratio_to_usual",
                 "train_ratio_to_usual_method"):
        summary[name] = columns[name]
    summary["native"] = summary.cell.map(is_native)
    summary["ratio_method"] = [m if not native else "" for m, native in zip(columns["method"], summary.native)]
    return summary  # "_rounds" stays: the configuration each row is, as bench.records.ratios keys it


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
            "compile s, custom (range)": median_range(compile_s),
            # the median of no jobs is NaN, which _fmt_num prints as "—"
            "compile s, native": _fmt_num(native.compile_s.astype(float).median()),
            "peak MiB, custom": _fmt_num(custom.peak.astype(float).median() / MIB, 4),
            "peak MiB, native": _fmt_num(native.peak.astype(float).median() / MIB, 4),
            "jobs, custom / native": f"{len(custom)} / {len(native)}",
        })
    return pd.DataFrame(rows)


# every compile a timing job records: its own steps' and those of the native layers timed beside it
COMPILE_COLUMNS = [field_path("timing", *side, step, "compile_s") for side in ((), ("native",), ("native_usual",))
                   for step in STEP_KINDS]


def time_spent_table(flat: pd.DataFrame) -> pd.DataFrame:
    """Per framework, mode, device and measure: the jobs' summed wall time and the compiling inside it, and a total.

    What a run's length is made of: a job's `duration_s` counts its process, data, compiles, training and timing.
    """
    compile_s = sum((flat[name].astype(float).fillna(0.0) for name in COMPILE_COLUMNS if name in flat),
                    pd.Series(0.0, index=flat.index))
    frame = flat.assign(_job_s=flat[DURATION_S].astype(float).fillna(0.0), _compile_s=compile_s)
    total = frame._job_s.sum()
    rows = []
    groups = list(frame.groupby(["framework", "backend", "mode", "device", "measure"], sort=True))
    for (framework, backend, mode, device, measure), group in groups + [(("all",) * 5, frame)]:
        rows.append({"framework": framework if framework == "all" else f"{framework} ({backend})", "mode": mode,
                     "device": device, "measure": measure, "jobs": len(group),
                     "job time s": _fmt_num(group._job_s.sum(), 4),
                     "share": f"{group._job_s.sum() / total:.0%}" if total else "—",
                     "compiling s": _fmt_num(group._compile_s.sum(), 4)})
    return pd.DataFrame(rows)


def default_mode_pivots(summary: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Custom cells in a non-default mode against the native layer in its default mode.

    The question "can compiling my cell beat the framework's own layer as people run it?":
    e.g. torch `compiled_cudagraphs` custom cells ÷ eager `nn.GRU` (cuDNN). The figure is
    timing_table's `train_ratio_to_usual` (bench.records.ratios.ratio_to_usual): paired where the jobs also
    timed that native layer in their process, else from different jobs, carrying the load differences
    between them; each title says which.
    """
    out = []
    keys = ["framework", "backend", "device"]
    custom = summary[~summary.native & summary.train_ratio_to_usual.notna()] if len(summary) else summary
    for key, group in custom.groupby(keys, sort=True):
        default = _usual_mode_name(key[1])
        for mode, part in group.assign(ratio=group.train_ratio_to_usual).groupby("mode", sort=True):
            methods = sorted(set(part.train_ratio_to_usual_method))
            title = (f"{key[0]} ({key[1]}) · {mode} cells ÷ {default} native layer · {key[2]}: train step, "
                     f"{' and '.join(methods)} — {int((part.ratio <= 1.0).sum())} of {len(part)} at most 1.0")
            out.append((title, _cells_by_shape(part, "ratio")))
    return out


def _usual_mode_name(backend: str) -> str | None:
    """The mode users run `backend`'s native layer in; None for a backend this version of the suite lacks."""
    try:
        return usual_mode(backend).name
    except UnknownModeError:
        return None


def _cells_by_shape(rows: pd.DataFrame, column: str) -> pd.DataFrame:
    """`column` as a table: one row per cell, one column per shape (by steps, then units, then batch)."""
    rows = rows.assign(shape_label=rows.apply(_shape, axis=1))
    order = rows.sort_values(["seq_len", "hidden_size", "batch_size"])["shape_label"].drop_duplicates().tolist()
    return rows.pivot_table(index="cell", columns="shape_label", values=column, aggfunc="first")[order]


def _profiled_steps(records: list[Record]):
    """(record, the columns naming its step, step kind, its profile, the native's profile) per profiled step."""
    for record in records:
        profile = record.timing.profile if record.status == "ok" and record.timing else None
        if not profile:
            continue
        job, shape = record.job, record.timing.shape
        for kind in STEP_KINDS:
            mine = profile.get(kind)
            if mine:
                names = {"cell": job.cell, "framework": job.framework, "mode": mode_label(record.identity),
                         "device": job.device,
                         "shape": _shape(SimpleNamespace(batch_size=job.batch_size, seq_len=shape["seq_len"],
                                                         input_size=shape["input_size"] or 0,
                                                         hidden_size=job.hidden_size, num_layers=job.num_layers,
                                                         bidirectional=job.bidirectional)),
                         "step": kind.replace("_step", "")}
                yield record, names, kind, mine, profile.get(f"native_{kind}")


def profile_table(records: list[Record]) -> pd.DataFrame:
    """One row per profiled step (`bench run --profile`): launches and time per step, beside the native's."""
    rows = []
    for record, names, kind, mine, native in _profiled_steps(records):
        step_s = step_stats(record, kind).median_s
        native_stats = step_stats(record, kind, native=True)
        native_step_s = native_stats.median_s if native_stats else None
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


def host_table(records: list[Record]) -> pd.DataFrame:
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
