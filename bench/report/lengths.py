"""The report's view across sequence lengths: compile time and ratio to native per mode at each T, and the goal.

Used where the timing records hold one model shape at several sequence lengths (the `long` suites). Every
figure comes from the timing summary (bench.report.tables.timing_table) or, for the jobs that were never
timed (timeout, incorrect), from their records' status and error.
"""

from __future__ import annotations

import re

import pandas as pd

from bench.records.ratios import PAIRED
from bench.report.frame import is_native
from bench.report.tables import _fmt_num, _usual_mode_name, median_range
from bench.plan.modes import list_modes, usual_mode
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


def ratio_by_length(rows: pd.DataFrame, untimed: pd.DataFrame, column: str = "train_ratio") -> pd.DataFrame:
    """Per framework and mode, at each T: the custom cells' step time ÷ native (median, range, how many ≤ 1).

    `column`: train_ratio (÷ the native layer in the cell's own mode) or train_ratio_to_usual (÷ the native layer
    as users run it; a mode that is already the usual one has none, and is left out).
    """
    lengths = sorted(rows.seq_len.unique())
    out = []
    for key, group in rows[~rows.native].groupby(MODE_KEY, sort=True):
        if column == "train_ratio_to_usual" and key[2] == _usual_mode_name(key[1]):
            continue  # its train_ratio is already against the native layer as users run it
        row = {"framework": f"{key[0]} ({key[1]})", "mode": key[2]}
        for steps in lengths:
            ratios = group[group.seq_len == steps][column].dropna().astype(float)
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


def goal_table(rows: pd.DataFrame, untimed: pd.DataFrame) -> pd.DataFrame:
    """One row per custom cell, one column per T: LONG_GOAL's verdict there, with the best compiled mode.

    A compiled mode of the goal's framework counts at a length when it was timed correct there, compiled in
    under the goal's limit and is no slower than the cell's eager loop: both divided by the same eager native
    layer (each paired in its own job), the smaller ratio is the faster. Of those, the one with the smallest
    ratio to the native layer as users run it is named, and the goal is met where that ratio is within
    LONG_GOAL.ratio. A cell with no such mode says what each compiled mode missed.
    """
    lengths = sorted(rows.seq_len.unique())
    ours = rows[(rows.framework == LONG_GOAL.framework) & ~rows.native]
    failed = untimed[untimed.framework == LONG_GOAL.framework] if not untimed.empty else untimed
    cells = sorted(set(ours.cell) | ({c for c in failed.cell if not is_native(c)} if not failed.empty else set()))
    usual = usual_mode(LONG_GOAL.framework).name
    compiled = [mode.name for mode in list_modes(LONG_GOAL.framework) if mode.compiler != "none"]
    out = []
    for cell in cells:
        row = {"cell": cell}
        for steps in lengths:
            at = ours[(ours.cell == cell) & (ours.seq_len == steps)]
            gone = failed[(failed.cell == cell) & (failed.seq_len == steps)] if not failed.empty else failed
            eager = at[at["mode"] == usual].train_ratio.dropna()
            row[f"T {steps}"] = _verdict(at[at["mode"].isin(compiled)], gone[gone["mode"].isin(compiled)]
                                         if not gone.empty else gone, float(eager.iloc[0]) if len(eager) else None)
        out.append(row)
    table = pd.DataFrame(out)
    if not table.empty:
        table.insert(1, "met at", [f"{sum(str(v).startswith('met') for v in r[1:])} of {len(lengths)}"
                                   for r in table.itertuples(index=False)])
    return table


def _verdict(timed: pd.DataFrame, gone: pd.DataFrame, eager_ratio: float | None) -> str:
    """The goal at one cell and length, from its compiled modes' timed rows and failed jobs."""
    eager_text = f"eager loop {_fmt_num(eager_ratio)}×" if eager_ratio is not None else "eager loop not timed"
    reasons: list[str] = []
    best = None
    for t in timed.sort_values("mode").itertuples(index=False):
        to_usual = t.train_ratio_to_usual
        if pd.isna(to_usual):
            reasons.append(f"{t.mode}: no ratio to the native layer as used")
        elif not (pd.notna(t.compile_s) and t.compile_s < LONG_GOAL.compile_s):
            reasons.append(f"{t.mode}: compile {_fmt_num(t.compile_s)} s")
        elif eager_ratio is not None and to_usual > eager_ratio:
            reasons.append(f"{t.mode}: {_ratio_text(to_usual)}× > the eager loop's")
        elif best is None or to_usual < best.train_ratio_to_usual:
            best = t
    reasons += [f"{g.mode}: {_status_text(g)}" for g in gone.sort_values("mode").itertuples(index=False)] \
        if not gone.empty else []
    if best is not None:
        method = "" if best.train_ratio_to_usual_method == PAIRED else f", {best.train_ratio_to_usual_method}"
        figure = (f"{best.mode} {_ratio_text(best.train_ratio_to_usual)}×{method} ({eager_text}; "
                  f"compile {_fmt_num(best.compile_s)} s)")
        return ("met: " if best.train_ratio_to_usual <= LONG_GOAL.ratio else "missed: best ") + figure
    return "missed: " + ("; ".join(reasons) if reasons else "no compiled mode timed") + f" ({eager_text})"


def _ratio_text(value: float) -> str:
    """A ratio to 3 digits, or 5 where 3 would read as the goal's own bound (1.2016 as "1.2")."""
    shown = _fmt_num(value)
    return _fmt_num(value, digits=5) if shown == f"{LONG_GOAL.ratio:g}" and value != LONG_GOAL.ratio else shown
