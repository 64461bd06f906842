"""The report's view across sequence lengths: compile time and ratio per mode at each T, and the goal's verdicts."""

import pandas as pd

from bench.report.lengths import compile_by_length, goal_table, length_studies, ratio_by_length, untimed_in

SHAPE = dict(device="cpu", batch_size=16, input_size=28, hidden_size=128, num_layers=1, bidirectional=False)


def _timed(cell, mode, steps, compile_s, ratio, framework="torch", native=False, to_usual=None, method="paired"):
    """A timing-table row; `ratio` is against the native layer in `mode`, `to_usual` against it as users run it."""
    return dict(SHAPE, cell=cell, framework=framework, backend=framework if framework == "torch" else "tensorflow",
                mode=mode, seq_len=steps, compile_s=compile_s, train_ms=10.0 * steps / 28, train_ratio=ratio,
                infer_ratio=ratio, native=native, train_ratio_to_usual=to_usual,
                train_ratio_to_usual_method=method if to_usual is not None else "")


def _failed(cell, mode, steps, status, error):
    return dict(cell=cell, framework="torch", backend="torch", mode=mode, seq_len=steps, status=status, error=error,
                measure="timing", batch_size=16, hidden_size=128, num_layers=1)


TIMING = pd.DataFrame([
    _timed("gru0", "compiled_scan", 28, 20.0, 1.3, to_usual=1.1), _timed("gru0", "compiled_scan", 1024, 25.0, 1.1,
                                                                         to_usual=1.15),
    _timed("mgu", "compiled_scan", 28, 21.0, 0.9, to_usual=0.8), _timed("mgu", "compiled_scan", 1024, 75.0, 0.95,
                                                                        to_usual=0.9),
    _timed("lstm", "compiled_scan", 28, 30.0, 1.5, to_usual=1.9),
    _timed("lstm", "compiled_scan", 1024, 31.0, 1.6, to_usual=1.30),
    _timed("gru4", "compiled_scan", 28, 5.0, None, native=True), _timed("gru4", "compiled_scan", 1024, 6.0, None, native=True),
    _timed("gru0", "compiled", 28, 50.0, 1.2, to_usual=0.7, method="cross-job"),
    _timed("gru0", "eager", 28, 0.01, 1.8), _timed("gru0", "eager", 1024, 0.01, 1.05),
    _timed("mgu", "eager", 1024, 0.01, 0.8), _timed("lstm", "eager", 28, 0.01, 1.7),
    _timed("lstm", "eager", 1024, 0.01, 1.4),
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


def test_the_goal_is_judged_per_cell_and_length_naming_the_best_compiled_mode_or_what_each_missed():
    goal = goal_table(TIMING, untimed_in(FLAT, TIMING)).set_index("cell")
    assert list(goal.columns) == ["met at", "T 28", "T 1024"]
    # the unrolled compile is the fastest qualifying mode at T 28, measured cross-job, and says so
    assert goal.loc["gru0", "T 28"] == "met: compiled 0.7×, cross-job (eager loop 1.8×; compile 50 s)"
    # 1.15 > the eager loop's 1.05: slower than the cell's own loop does not count
    assert goal.loc["gru0", "T 1024"] == ("missed: compiled_scan: 1.15× > the eager loop's; "
                                          "compiled: not started (T 256 timed out) (eager loop 1.05×)")
    assert goal.loc["mgu", "T 1024"] == "missed: compiled_scan: compile 75 s (eager loop 0.8×)"
    assert goal.loc["mgu", "T 28"] == "met: compiled_scan 0.8× (eager loop not timed; compile 21 s)"
    assert goal.loc["lstm", "T 28"] == "missed: compiled_scan: 1.9× > the eager loop's (eager loop 1.7×)"
    assert goal.loc["lstm", "T 1024"] == "missed: best compiled_scan 1.3× (eager loop 1.4×; compile 31 s)"
    assert goal.loc["gru_reset_after", "T 1024"] == ("missed: compiled_scan: incorrect (d weight "
                                                     "'recurrent_bias'[14]) (eager loop not timed)")
    assert goal.loc["gru0", "met at"] == "1 of 2" and goal.loc["mgu", "met at"] == "1 of 2"
    assert "gru4" not in goal.index  # native layers are what the cells are divided by
    just_over = TIMING.assign(train_ratio_to_usual=TIMING.train_ratio_to_usual.where(
        (TIMING.cell != "mgu") | (TIMING.seq_len != 28), 1.20157))
    close = goal_table(just_over, untimed_in(FLAT, just_over)).set_index("cell")
    assert close.loc["mgu", "T 28"].startswith("missed: best compiled_scan 1.2016×")  # never "1.2× … missed"
