"""`bench ab-times`: an A/B run's own step times on each side, read back from a committed A/B run's records."""

import json
import math
from pathlib import Path

import pytest

from bench.cli import main
from bench.gate import ab_times
from bench.plan.config import ConfigError
from bench.records.ratios import rounds_key, step_stats

RUN = Path(__file__).resolve().parents[1] / "reports" / "gate-quality" / "runs" / "aa-busy-01"
PCT_TOL = 0.05  # a percentage printed to one decimal, read back


def _geomean_ms(records, kind, native=False):
    values = [step_stats(r, kind, native).median_s for r in records]
    return math.exp(sum(math.log(v) for v in values) / len(values))


def test_each_custom_job_has_its_own_and_its_native_step_times_and_the_gates_verdict(tmp_path):
    table = ab_times.times_table(RUN)
    judged = json.loads((RUN / "gate.json").read_text())["speed"]
    paired = table[table["paired ratio base → head"] != "—"]
    assert len(paired) == len(judged)  # every row the gate judged, and its verdict beside it
    for row in judged:
        (line,) = table[(table._key == row["key"]) & (table.step == ab_times.STEP_NAMES[row["kind"]])].to_dict("records")
        assert line["paired ratio base → head"].endswith(f"{row['verdict']})")
    records = ab_times.side_records(RUN)
    first = judged[0]
    sides = {side: [r for r in records[side] if r.timing and rounds_key(r.identity) == first["key"]]
             for side in ab_times.SIDES}
    (line,) = table[(table._key == first["key"]) & (table.step == "train")].to_dict("records")
    change = _geomean_ms(sides["head"], "train_step") / _geomean_ms(sides["base"], "train_step") - 1
    assert abs(float(line["head ÷ base"].split("%")[0]) - 100 * change) < PCT_TOL
    native = _geomean_ms(sides["head"], "train_step", True) / _geomean_ms(sides["base"], "train_step", True) - 1
    assert abs(float(line["native head ÷ base"].split("%")[0]) - 100 * native) < PCT_TOL
    # a native layer timed once a side has no interval, and says so rather than print a zero-width one
    single = table[table.rounds == "1+1"]
    assert len(single) and single["head ÷ base"].str.endswith("(one round: no interval)").all()


def test_the_command_writes_a_summary_and_a_csv_per_run(tmp_path, capsys):
    assert main(["ab-times", str(RUN), "--out", str(tmp_path)]) == 0
    text = (tmp_path / "summary.md").read_text()
    assert f"## `{RUN.name}`: suite `regress`" in text and "- base: 28 ok" in text
    assert (tmp_path / f"{RUN.name}.csv").is_file()


def test_a_folder_that_is_not_an_ab_run_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="no gate.json"):
        ab_times.side_records(tmp_path)


def test_by_mode_the_jobs_changes_are_pooled_as_a_geometric_mean():
    table = ab_times.times_table(RUN)
    modes = ab_times.mode_table(table)
    (row,) = modes[(modes["mode"] == "torch-eager") & (modes.step == "train")].to_dict("records")
    part = table[table.job.str.contains("/torch-eager/") & (table.step == "train")
                 & table["head ÷ base"].str.endswith(ab_times.WORDS)]
    estimates = [1 + float(cell.split("%")[0]) / 100 for cell in part["head ÷ base"]]
    assert row["custom jobs"] == len(estimates) > 1
    pooled = math.exp(sum(map(math.log, estimates)) / len(estimates)) - 1
    assert abs(float(row["custom head ÷ base (geometric mean)"].rstrip("%")) - 100 * pooled) < PCT_TOL
    assert sum(map(int, row["jobs faster / same / slower / unclear"].split(" / "))) == len(estimates)
