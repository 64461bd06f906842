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
from bench.records.schema import Record
from bench.records.typed import field_path as column, record_json
from bench.records.store import RecordStore, latest_by_job

# The frame's columns, named by the record fields' paths (bench.records.typed.field_path checks each against the
# schema when this module loads: a renamed field fails here, not in a report)
TRAIN_METRIC, TRAIN_TARGET = column("train", "metric"), column("train", "target")
TRAIN_TEST_METRIC, TRAIN_EPOCHS_TO_TARGET = column("train", "test_metric"), column("train", "epochs_to_target")
PARAMS_FRAMEWORK, PARAMS_RECURRENT = column("params", "framework"), column("params", "recurrent")
PARAMS_RECURRENT_EXPECTED = column("params", "recurrent_expected")
MEMORY_PEAK_BYTES, NATIVE_PATH, ERROR = column("memory", "peak_bytes"), column("native_path"), column("error")
SHAPE_SEQ_LEN, SHAPE_INPUT_SIZE = column("timing", "shape", "seq_len"), column("timing", "shape", "input_size")
DURATION_S = column("duration_s")


def step_column(step: str, stat: str) -> str:
    """The column of a step's timing statistic: step_column("train_step", "median_s")."""
    return column("timing", step, stat)


# Paired timing (custom cell and native layer interleaved in one job): ratio kind -> flat column
PAIRED_COLUMNS = {"train": column("timing", "paired_ratio", "train_step", "median"),
                  "infer": column("timing", "paired_ratio", "inference_step", "median"),
                  "train_iqr": column("timing", "paired_ratio", "train_step", "iqr"),
                  "infer_iqr": column("timing", "paired_ratio", "inference_step", "iqr")}

# Scalars this module derives from the per-epoch curves (the curves stay in the JSONL): not record fields
VAL_METRIC_LAST, WALL_S_MEAN = "train.val_metric_last", "train.wall_s_mean"
LOSS_FIRST, LOSS_LAST = "train.loss_first", "train.loss_last"

# Flattened fields the tables read; created empty when no record has them.
EXPECTED_COLUMNS = [TRAIN_TARGET, TRAIN_EPOCHS_TO_TARGET, TRAIN_TEST_METRIC, TRAIN_METRIC, PARAMS_FRAMEWORK,
                    PARAMS_RECURRENT, PARAMS_RECURRENT_EXPECTED, MEMORY_PEAK_BYTES, NATIVE_PATH, ERROR,
                    *PAIRED_COLUMNS.values()]


def load_frame(path: str | Path) -> tuple[pd.DataFrame, list[Record]]:
    """(one flat row per job, the latest record of each job) from a records file."""
    store = RecordStore(path)
    records = list(latest_by_job(store.load()).values())
    if not records:
        raise ConfigError(f"{path} holds no readable records; run `python -m bench run` to produce some")
    return frame_of(records), records


def frame_of(records: list[Record]) -> pd.DataFrame:
    """The flat frame of these records, one row per record: what the report, its plots and the replications read.

    Columns: each record field by its dotted path, the identity's without the "identity." prefix, every run
    setting (defaults filled in), the mode as shown, and the curves' scalars (_add_curve_columns).
    """
    if not records:
        return pd.DataFrame()
    remember_plugin_cells(records)
    flat = pd.json_normalize([record_json(record) for record in records], sep=".")
    for name in list(flat.columns):  # lists (curves, warm-up times) stay in the JSONL
        if flat[name].map(lambda v: isinstance(v, (list, dict))).any():
            flat = flat.drop(columns=name)
    # a section that is null in some records leaves an empty column beside its flattened fields
    flat = flat.drop(columns=[c for c in ("train", "timing", "params", "memory") if c in flat])
    for name in EXPECTED_COLUMNS:  # absent when no record has them (e.g. no target set anywhere)
        if name not in flat:
            flat[name] = None
    flat.columns = [c.removeprefix("identity.") for c in flat.columns]
    for name in run_settings.SETTINGS:  # identity() leaves a default out (native_bias): every run has a value
        flat[name] = [identity_value(record.identity, name) for record in records]
    flat["mode"] = [mode_label(record.identity) for record in records]
    # private columns (not written to results.csv): task options as one string to group by, and the identity
    flat["_options"] = [run_settings.options_key(record.identity) for record in records]
    flat["_identity"] = [record.identity for record in records]
    flat["_record"] = records  # the whole record, for what needs more than the flat columns (bench.records.ratios)
    return _add_curve_columns(flat, records)


def mode_label(identity: dict[str, Any]) -> str:
    """The mode as reports show it: with the float32 precision when a job chose one (e.g. "eager·tf32")."""
    precision = identity_value(identity, "float32")
    return identity["mode"] if precision == JOB_DEFAULTS["float32"] else f"{identity['mode']}·{precision}"


# plugin cells named by the records read so far (environment.plugins): a report needs no plugin loaded
_RECORDED_CELLS: dict[str, dict[str, Any]] = {}


def remember_plugin_cells(records: list[Record]) -> None:
    """Note the baseline and nativeness of every plugin cell the records describe."""
    for record in records:
        for plugin in record.environment.plugins or []:
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


def _add_curve_columns(flat: pd.DataFrame, records: list[Record]) -> pd.DataFrame:
    """Scalars derived from the per-epoch curves (the curves themselves stay in the JSONL)."""
    columns: dict[str, list] = {VAL_METRIC_LAST: [], WALL_S_MEAN: [], LOSS_FIRST: [], LOSS_LAST: []}
    for record in records:
        epochs = record.train.epochs if record.train else []
        vals = [e.val_metric for e in epochs if e.val_metric is not None]
        walls = [e.wall_s for e in epochs if e.wall_s is not None]
        columns[VAL_METRIC_LAST].append(vals[-1] if vals else None)
        columns[WALL_S_MEAN].append(float(np.mean(walls)) if walls else None)
        # mean training loss of the first and the last epoch: how far two runs from one start drift apart
        columns[LOSS_FIRST].append(epochs[0].train_loss if epochs else None)
        columns[LOSS_LAST].append(epochs[-1].train_loss if epochs else None)
    for name, values in columns.items():
        flat[name] = values
    return flat
