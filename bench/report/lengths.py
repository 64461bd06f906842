"""The report's view across sequence lengths: compile time and ratio to native per mode at each T, and the goal.

Used where the timing records hold one model shape at several sequence lengths (the `long` suites). Every
figure comes from the timing summary (bench.report.tables.timing_table) or, for the jobs that were never
timed (timeout, incorrect), from their records' status and error.
"""

from __future__ import annotations

import re

import pandas as pd

from bench.report.frame import is_native
from bench.report.tables import _fmt_num, median_range
from bench.plan.suites import LONG_GOAL

# what stays fixed while T varies: one length study per distinct value of these
LENGTH_GROUP = ["device", "batch_size", "input_size", "hidden_size", "num_layers", "bidirectional"]
MODE_KEY = ["framework", "backend", "mode"]


def length_studies(timing: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(title, its rows) per model shape timed at two or more sequence lengths."""
    if timing.empty:
        return []
    studies = []
    for key, rows in timing.groupby(LENGTH_GROUP, dropna=False):
        if rows.seq_len.nunique() > 1:
            device, batch, features, hidden, layers, bidir = key
            title = f"{device}: B{batch} I{features} H{hidden}" + (f" L{layers}" if layers != 1 else "") + \
                (" bidirectional" if bidir else "")
            studies.append((title, rows))
    return studies


def untimed_in(flat: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """The failed timing jobs of the study's frameworks, modes and lengths (status and first line of the error)."""
    bad = flat[(flat.status != "ok") & (flat.measure == "timing")].copy()
    if bad.empty:
        return bad
    first = rows.iloc[0]
    for column in ("batch_size", "hidden_size", "num_layers"):
        bad = bad[bad[column] == first[column]]
    return bad[bad.seq_len.isin(rows.seq_len.unique())]


def _status_text(row: pd.Series) -> str:
    """A failed job in a few words: "timeout (> 300 s)", "not started (T 256 timed out)", "incorrect (…)"."""
    error = str(row.error or "")
    if row.status == "timeout":
        started = re.search(r"same job at T (\d+) ran out of time", error)
        if started:
            return f"not started (T {started.group(1)} timed out)"
        limit = re.search(r"timeout of ([0-9.]+) s", error)
        return f"timeout (> {limit.group(1)} s)" if limit else "timeout"
    if row.status == "incorrect":
        where = re.search(r"at (d [^)]*?)\)", error)
        return "incorrect" + (f" ({where.group(1)})" if where else "")
    return row.status


def compile_by_length(rows: pd.DataFrame, untimed: pd.DataFrame) -> pd.DataFrame:
    """Per framework and mode, at each T: the custom cells' compile time (median, range), the native's, what failed."""
    lengths = sorted(rows.seq_len.unique())
    out = []
    for key, group in rows.groupby(MODE_KEY, sort=True):
        row = {"framework": f"{key[0]} ({key[1]})", "mode": key[2]}
        for steps in lengths:
            at = group[group.seq_len == steps]
            custom = at[~at.native].compile_s.dropna().astype(float)
            native = at[at.native].compile_s.dropna().astype(float)
            text = median_range(custom) + (f"; native {_fmt_num(native.median())}" if not native.empty else "")
            row[f"T {steps}"] = text + _failed_note(untimed, key, steps)
        out.append(row)
    return pd.DataFrame(out)


def ratio_by_length(rows: pd.DataFrame, untimed: pd.DataFrame, kind: str = "train") -> pd.DataFrame:
    """Per framework and mode, at each T: the custom cells' step time ÷ native (median, range, how many ≤ 1)."""
    lengths = sorted(rows.seq_len.unique())
    out = []
    for key, group in rows[~rows.native].groupby(MODE_KEY, sort=True):
        row = {"framework": f"{key[0]} ({key[1]})", "mode": key[2]}
        for steps in lengths:
            ratios = group[group.seq_len == steps][f"{kind}_ratio"].dropna().astype(float)
            counted = f", {int((ratios <= 1.0).sum())} of {len(ratios)} ≤ 1" if not ratios.empty else ""
            row[f"T {steps}"] = median_range(ratios) + counted + _failed_note(untimed, key, steps)
        out.append(row)
    return pd.DataFrame(out)


def _failed_note(untimed: pd.DataFrame, key: tuple, steps: int) -> str:
    if untimed.empty:
        return ""
    framework, backend, mode = key
    failed = untimed[(untimed.framework == framework) & (untimed.backend == backend) & (untimed["mode"] == mode)
                     & (untimed.seq_len == steps)]
    counts = failed.status.value_counts()
    return "".join(f"; {n} {status}" for status, n in sorted(counts.items()))


def goal_table(rows: pd.DataFrame, untimed: pd.DataFrame) -> tuple[int, pd.DataFrame]:
    """(T, one row per custom cell at the study's longest T): the goal's mode against it, every other mode beside."""
    steps = int(rows.seq_len.max())
    at = rows[(rows.seq_len == steps) & ~rows.native]
    failed = untimed[untimed.seq_len == steps] if not untimed.empty else untimed
    cells = sorted(set(at.cell) | ({c for c in failed.cell if not is_native(c)} if not failed.empty else set()))
    modes = sorted({tuple(k) for k in rows[MODE_KEY].drop_duplicates().itertuples(index=False)},
                   key=lambda k: (k[0] != LONG_GOAL.framework, k[2] != LONG_GOAL.mode, k))
    out = []
    for cell in cells:
        row: dict[str, str] = {"cell": cell}
        for framework, backend, mode in modes:
            timed = at[(at.cell == cell) & (at.framework == framework) & (at.backend == backend) & (at["mode"] == mode)]
            gone = failed[(failed.cell == cell) & (failed.framework == framework) & (failed["mode"] == mode)] \
                if not failed.empty else failed
            label = f"{framework} {mode}"
            if not timed.empty:
                t = timed.iloc[0]
                row[f"{label}: compile s"] = _fmt_num(t.compile_s)
                row[f"{label}: train × native"] = _fmt_num(t.train_ratio)
            else:
                what = _status_text(gone.iloc[0]) if not gone.empty else "not run"
                row[f"{label}: compile s"] = what
                row[f"{label}: train × native"] = "—"
            if (framework, mode) == (LONG_GOAL.framework, LONG_GOAL.mode):
                row["goal"] = _verdict(timed, gone)
        out.append(row)
    table = pd.DataFrame(out)
    if "goal" in table:  # the verdict beside the goal mode's two columns
        columns = list(table.columns)
        columns.insert(3, columns.pop(columns.index("goal")))
        table = table[columns]
    return steps, table


def _verdict(timed: pd.DataFrame, gone: pd.DataFrame) -> str:
    if timed.empty:
        return "missed: " + (_status_text(gone.iloc[0]) if not gone.empty else "not run")
    t = timed.iloc[0]
    misses = []
    if not (pd.notna(t.compile_s) and t.compile_s < LONG_GOAL.compile_s):
        misses.append(f"compile {_fmt_num(t.compile_s)} s ≥ {LONG_GOAL.compile_s:g}")
    if not (pd.notna(t.train_ratio) and t.train_ratio <= LONG_GOAL.ratio):
        shown = _fmt_num(t.train_ratio)
        if shown == f"{LONG_GOAL.ratio:g}":  # 1.2016 would read "1.2× > 1.2×"
            shown = _fmt_num(t.train_ratio, digits=5)
        misses.append(f"{shown}× > {LONG_GOAL.ratio:g}×")
    return "met" if not misses else "missed: " + ", ".join(misses)
