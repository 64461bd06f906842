"""The report's view across sequence lengths: compile time and ratio per mode at each T, and the goal's verdicts."""

import pandas as pd

from bench.report.lengths import compile_by_length, goal_table, length_studies, ratio_by_length, untimed_in
from bench.plan.suites import LONG_GOAL

SHAPE = dict(device="cpu", batch_size=16, input_size=28, hidden_size=128, num_layers=1, bidirectional=False)


def _timed(cell, mode, steps, compile_s, ratio, framework="torch", native=False):
    return dict(SHAPE, cell=cell, framework=framework, backend=framework if framework == "torch" else "tensorflow",
                mode=mode, seq_len=steps, compile_s=compile_s, train_ms=10.0 * steps / 28, train_ratio=ratio,
                infer_ratio=ratio, native=native)


def _failed(cell, mode, steps, status, error):
    return dict(cell=cell, framework="torch", backend="torch", mode=mode, seq_len=steps, status=status, error=error,
                measure="timing", batch_size=16, hidden_size=128, num_layers=1)


TIMING = pd.DataFrame([
    _timed("gru0", "compiled_scan", 28, 20.0, 1.3), _timed("gru0", "compiled_scan", 1024, 25.0, 1.1),
    _timed("mgu", "compiled_scan", 28, 21.0, 0.9), _timed("mgu", "compiled_scan", 1024, 75.0, 0.95),
    _timed("lstm", "compiled_scan", 28, 30.0, 1.5), _timed("lstm", "compiled_scan", 1024, 31.0, 1.6),
    _timed("gru4", "compiled_scan", 28, 5.0, None, native=True), _timed("gru4", "compiled_scan", 1024, 6.0, None, native=True),
    _timed("gru0", "compiled", 28, 60.0, 1.2),
    _timed("gru0", "graph", 1024, 2.0, 1.4, framework="keras"),
])
FLAT = pd.DataFrame([
    _failed("gru0", "compiled", 256, "timeout", "the job ran longer than the per-job timeout of 300 s and was killed"),
    _failed("gru0", "compiled", 1024, "timeout", "not started: the same job at T 256 ran out of time (record x: …)"),
    _failed("gru_reset_after", "compiled_scan", 1024, "incorrect",
            "IncorrectCell: … (gradients vs NumPy backward B3 T5 I4 H6: max |Δ| 2.6 (allowed …) at d weight "
            "'recurrent_bias'[14]). `python -m bench check` shows every check"),
])


def test_a_shape_timed_at_several_lengths_is_one_study():
    ((title, rows),) = length_studies(TIMING)
    assert title == "cpu: B16 I28 H128" and set(rows.seq_len) == {28, 1024}
    assert length_studies(TIMING[TIMING.seq_len == 28]) == []


def test_compile_time_and_ratio_per_mode_at_each_length_name_what_failed():
    untimed = untimed_in(FLAT, TIMING)
    compiled = compile_by_length(TIMING, untimed).set_index("mode")
    assert compiled.loc["compiled_scan", "T 1024"] == "31 (25–75); native 6; 1 incorrect"
    assert compiled.loc["compiled", "T 1024"] == "—; 1 timeout"
    ratios = ratio_by_length(TIMING, untimed).set_index("mode")
    assert ratios.loc["compiled_scan", "T 28"] == "1.3 (0.9–1.5), 1 of 3 ≤ 1"


def test_the_goal_is_judged_per_cell_with_the_reason_where_it_is_missed():
    steps, goal = goal_table(TIMING, untimed_in(FLAT, TIMING))
    goal = goal.set_index("cell")
    assert steps == LONG_GOAL.steps == 1024 and list(goal.columns)[:3] == [
        "torch compiled_scan: compile s", "torch compiled_scan: train × native", "goal"]
    assert goal.loc["gru0", "goal"] == "met"
    assert goal.loc["mgu", "goal"] == "missed: compile 75 s ≥ 60"
    assert goal.loc["lstm", "goal"] == "missed: 1.6× > 1.2×"
    just_over = TIMING.assign(train_ratio=TIMING.train_ratio.where(TIMING.cell != "lstm", 1.20157))
    _, close = goal_table(just_over, untimed_in(FLAT, just_over))
    assert close.set_index("cell").loc["lstm", "goal"] == "missed: 1.2016× > 1.2×"  # never "1.2× > 1.2×"
    assert goal.loc["gru_reset_after", "goal"] == "missed: incorrect (d weight 'recurrent_bias'[14])"
    assert goal.loc["gru0", "torch compiled: compile s"] == "not started (T 256 timed out)"
    assert goal.loc["gru0", "keras graph: train × native"] == "1.4"
    assert "gru4" not in goal.index  # native layers are what the cells are divided by
