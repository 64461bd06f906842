"""The flat frame of a records file: one row per job, the form every report table is computed from.

Nothing is measured here: the frame comes from the JSONL alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.plan import settings as run_settings
from bench.cells import UnknownCellError, get_spec
from bench.plan.config import ConfigError
from bench.plan.jobs import JOB_DEFAULTS, identity_value
from bench.records.store import RecordStore, latest_by_job


# Paired timing (custom cell and native layer interleaved in one job): ratio kind -> flat column
PAIRED_COLUMNS = {"train": "timing.paired_ratio.train_step.median",
                  "infer": "timing.paired_ratio.inference_step.median",
                  "train_iqr": "timing.paired_ratio.train_step.iqr",
                  "infer_iqr": "timing.paired_ratio.inference_step.iqr"}


# Flattened fields the tables read; created empty when no record has them.
EXPECTED_COLUMNS = ["train.target", "train.epochs_to_target", "train.test_metric", "train.metric",
                    "params.framework", "params.recurrent", "params.recurrent_expected", "memory.peak_bytes",
                    "native_path", "error", *PAIRED_COLUMNS.values()]


def load_frame(path: str | Path) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """(one flat row per job, the latest record of each job) from a records file."""
    store = RecordStore(path)
    records = list(latest_by_job(store.load()).values())
    if not records:
        raise ConfigError(f"{path} holds no readable records; run `python -m bench run` to produce some")
    return frame_of(records), records


def frame_of(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The flat frame of these records, one row per record: what the report, its plots and the replications read.

    Columns: each record field by its dotted path, the identity's without the "identity." prefix, every run
    setting (defaults filled in), the mode as shown, and the curves' scalars (_add_curve_columns).
    """
    if not records:
        return pd.DataFrame()
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
    flat["_record"] = records  # the whole record, for what needs more than the flat columns (bench.records.ratios)
    return _add_curve_columns(flat, records)


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


def _add_curve_columns(flat: pd.DataFrame, records: list[dict[str, Any]]) -> pd.DataFrame:
    """Scalars derived from the per-epoch curves (the curves themselves stay in the JSONL)."""
    columns: dict[str, list] = {"train.val_metric_last": [], "train.wall_s_mean": [], "train.loss_first": [],
                                "train.loss_last": []}
    for record in records:
        epochs = ((record.get("train") or {}).get("epochs")) or []
        vals = [e.get("val_metric") for e in epochs if e.get("val_metric") is not None]
        walls = [e["wall_s"] for e in epochs if "wall_s" in e]
        columns["train.val_metric_last"].append(vals[-1] if vals else None)
        columns["train.wall_s_mean"].append(float(np.mean(walls)) if walls else None)
        # mean training loss of the first and the last epoch: how far two runs from one start drift apart
        columns["train.loss_first"].append(epochs[0].get("train_loss") if epochs else None)
        columns["train.loss_last"].append(epochs[-1].get("train_loss") if epochs else None)
    for name, values in columns.items():
        flat[name] = values
    return flat
