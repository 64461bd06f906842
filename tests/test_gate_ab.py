"""The A/B gate: its interval and verdicts on synthetic rounds, its judging of records, its bad-input errors,
and one real A/B run of a one-cell suite (structure only: no speed is asserted in a unit test)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from bench.plan.config import REPO_ROOT
from bench.gate.ab import judge_speed
from bench.plan.jobs import Job
from bench.records.schema import PairedRatio, PairedRatios
from bench.gate.stats import FAIL, INCONCLUSIVE, PASS, Round, quotient_interval

THRESHOLD = 0.03  # the verdicts below are stated against this threshold
PAIRS = 200  # pairs per synthetic round, as the regress suite times
SLOWED_PLUGIN = REPO_ROOT / "tests" / "plugins" / "slowed_gru0.py"


def rounds(ratio: float, count: int, spread: float, process_sd: float, rng: np.random.Generator) -> list[Round]:
    """`count` job processes whose per-pair ratios scatter by `spread` around a process-level offset."""
    out = []
    for _ in range(count):
        center = ratio * np.exp(rng.normal(0, process_sd))
        pairs = center * np.exp(rng.normal(0, spread, PAIRS))
        out.append(Round(float(np.median(pairs)), tuple(pairs)))
    return out


def test_interval_covers_the_true_quotient_and_is_reproducible():
    rng = np.random.default_rng(1)
    base, head = rounds(1.0, 4, 0.1, 0.01, rng), rounds(1.2, 4, 0.1, 0.01, rng)
    interval = quotient_interval(base, head)
    assert interval.low < 1.2 < interval.high
    assert interval.low < interval.estimate < interval.high
    assert quotient_interval(base, head) == interval  # a fixed seed: the same records, the same verdict


def test_verdicts_follow_the_interval():
    rng = np.random.default_rng(2)
    base = rounds(1.0, 4, 0.05, 0.002, rng)
    assert quotient_interval(base, rounds(1.5, 4, 0.05, 0.002, rng)).verdict(THRESHOLD) == FAIL
    assert quotient_interval(base, rounds(1.0, 4, 0.05, 0.002, rng)).verdict(THRESHOLD) == PASS
    wide = quotient_interval(rounds(1.0, 2, 0.3, 0.05, rng), rounds(1.03, 2, 0.3, 0.05, rng))
    assert wide.verdict(THRESHOLD) == INCONCLUSIVE


def test_process_level_spread_widens_the_interval():
    """Rounds that sit apart as wholes must widen the interval beyond what the pairs alone say."""
    tight = quotient_interval(rounds(1.0, 3, 0.1, 0.0, np.random.default_rng(3)),
                              rounds(1.0, 3, 0.1, 0.0, np.random.default_rng(4)))
    loose = quotient_interval(rounds(1.0, 3, 0.1, 0.05, np.random.default_rng(3)),
                              rounds(1.0, 3, 0.1, 0.05, np.random.default_rng(4)))
    assert loose.high - loose.low > 2 * (tight.high - tight.low)


def test_rounds_without_pairs_still_give_an_interval():
    """Records from before the per-pair ratios were kept: the rounds' medians alone."""
    base = [Round(1.00), Round(1.02), Round(0.99)]
    head = [Round(1.10), Round(1.12), Round(1.09)]
    interval = quotient_interval(base, head)
    assert 1.05 < interval.estimate < 1.15 and interval.low < interval.estimate < interval.high


def test_smallest_detectable_slowdown_lies_above_the_threshold():
    rng = np.random.default_rng(5)
    interval = quotient_interval(rounds(1.0, 3, 0.1, 0.01, rng), rounds(1.0, 3, 0.1, 0.01, rng))
    assert interval.smallest_detectable(THRESHOLD) > THRESHOLD


def _timing_record(cell: str, seed: int, round_: Round) -> SimpleNamespace:
    """What judge_speed reads of a paired timing record: its job and its paired ratios."""
    stats = PairedRatio(median=round_.median, ratios=list(round_.ratios), n=len(round_.ratios))
    job = Job(cell=cell, framework="torch", backend="torch", mode="eager", device="cpu", task="digits",
              measure="timing", seq_len=8, input_size=8, seed=seed, paired=True, warmup_steps=1, timed_steps=2)
    return SimpleNamespace(status="ok", job=job, timing=SimpleNamespace(
        paired=True, paired_ratio=PairedRatios(order="alternating", train_step=stats, inference_step=stats)))


def test_judge_speed_pairs_the_sides_by_job_and_skips_jobs_one_side_lacks():
    rng = np.random.default_rng(6)
    key = "k"
    base = {key: [_timing_record("gru0", 0, r) for r in rounds(1.0, 2, 0.05, 0.0, rng)],
            "only-base": [_timing_record("mgu", 0, r) for r in rounds(1.0, 2, 0.05, 0.0, rng)]}
    head = {key: [_timing_record("gru0", 0, r) for r in rounds(1.3, 2, 0.05, 0.0, rng)]}
    rows = judge_speed(base, head, THRESHOLD)
    assert [(row.cell, row.kind) for row in rows] == [("gru0", "train_step"), ("gru0", "inference_step")]
    assert all(row.verdict == FAIL and 1.25 < row.interval.estimate < 1.35 for row in rows)


def _bench(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=900)


@pytest.mark.parametrize("args, says", [
    (("compare", "--against", "no-such-revision-xyz"), "no revision 'no-such-revision-xyz'"),
    (("compare", "--against", "HEAD", "--baseline", "a.jsonl", "b.jsonl"), "use one mode"),
    (("compare",), "say what to compare"),
    (("compare", "--against", "HEAD", "--threshold", "abc"), "is not a threshold"),
])
def test_bad_input_exits_2_with_what_to_do(args, says):
    out = _bench(*args)
    assert out.returncode == 2, out.stderr
    assert says in (out.stderr + out.stdout).lower() or says in out.stderr + out.stdout


def test_a_dirty_tree_is_refused_where_a_clean_head_is_asked_for(tmp_path):
    """--clean (and --history) need the head to be a commit; a clone with an edit must be refused before any run."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO_ROOT), str(clone)], check=True)
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO_ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    for name in files:  # the code under test, committed or not, committed in the clone
        if (REPO_ROOT / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name, clone / name)
    subprocess.run(["git", "add", "-A"], cwd=clone, check=True)
    subprocess.run(["git", "-c", "user.name=test", "-c", "user.email=test@example.org", "commit", "--quiet",
                    "--allow-empty", "-m", "the code under test"], cwd=clone, check=True)
    (clone / "README.md").write_text("edited\n")  # not code: the head is still the commit
    out = _bench("compare", "--against", "no-such-revision-xyz", "--clean", cwd=clone)
    assert out.returncode == 2 and "no revision" in out.stderr
    with (clone / "bench" / "__init__.py").open("a") as fh:
        fh.write("# an uncommitted change to the code\n")
    out = _bench("compare", "--against", "HEAD", "--clean", cwd=clone)
    assert out.returncode == 2 and "uncommitted changes" in out.stderr


@pytest.mark.slow
def test_an_ab_run_of_one_cell_judges_from_both_sides_records(tmp_path):
    """HEAD against the working tree with the slowed cell: both sides ran their own code, the records and
    gate.json say so, and accuracy reproduced exactly. Which way the speed verdict goes is the gate-quality
    report's business, never a unit test's."""
    out = _bench("compare", "--against", "HEAD", "--plugin", str(SLOWED_PLUGIN), "--cells", "gru0_slowed",
                 "--frameworks", "torch", "--head-env", "RNNBENCH_EXTRA_WORK=1", "--min-rounds", "2",
                 "--max-rounds", "2", "--out", str(tmp_path / "ab"))
    assert out.returncode in (0, 1), out.stderr[-3000:]
    summary = json.loads((tmp_path / "ab" / "gate.json").read_text())
    assert summary["rounds"] == 2 and summary["head"]["env"] == {"RNNBENCH_EXTRA_WORK": "1"}
    assert [row["kind"] for row in summary["speed"]] == ["train_step", "inference_step"]
    assert all(row["base_rounds"] == row["head_rounds"] == 2 for row in summary["speed"])
    files = sorted(path.name for path in (tmp_path / "ab").glob("round*.jsonl"))
    assert files == ["round1-base.jsonl", "round1-head.jsonl", "round2-base.jsonl", "round2-head.jsonl"]
    first = [json.loads(line) for name in ("round1-base", "round1-head")
             for line in (tmp_path / "ab" / f"{name}.jsonl").read_text().splitlines()]
    assert len({record["train"]["test_metric"] for record in first}) == 1  # same seed, same machine: exact
    assert "accuracy" in out.stdout and "| ok" in out.stdout


def test_the_base_runs_with_this_interpreter_when_its_pins_are_the_same(tmp_path):
    from bench.gate.sides import PINS_FILE, interpreter_for

    shutil.copy(REPO_ROOT / PINS_FILE, tmp_path / PINS_FILE)
    python, why = interpreter_for(tmp_path)
    assert python == sys.executable and "same pins" in why


def test_a_base_with_other_pins_gets_its_own_environment_and_a_failed_install_is_quoted(tmp_path, monkeypatch):
    """Other pins build an environment from the base's own pins; one that cannot install says why, quoting pip."""
    from bench.plan.config import ConfigError
    from bench.gate import sides

    monkeypatch.setattr(sides, "ENV_CACHE", tmp_path / "envs")
    base = tmp_path / "base"
    base.mkdir()
    (base / sides.PINS_FILE).write_text("no-such-package-rnnbench-test==0.0.1\n")
    (base / "pyproject.toml").write_text("[project]\nname = 'x'\nversion = '0'\n"
                                         "dependencies = ['no-such-package-rnnbench-test']\n")
    with pytest.raises(ConfigError) as err:
        sides.interpreter_for(base)
    assert "could not build the base's environment" in str(err.value)
    assert "no-such-package-rnnbench-test" in str(err.value)  # pip's own words, quoted
    assert not any((tmp_path / "envs").glob("*/.ready"))  # nothing half-built is kept as ready


def test_a_base_that_cannot_import_the_harness_is_quoted(tmp_path):
    from bench.plan.config import ConfigError
    from bench.gate.ab import ABSettings, run_side
    from bench.gate.sides import Side
    from bench.gate.tolerances import resolve_tolerances

    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "__init__.py").write_text("raise ImportError('this base is broken')\n")
    side = Side("base", tmp_path, sys.executable, "0" * 40, "a broken checkout")
    assert side.environ()["PYTHONPATH"].split(os.pathsep)[0] == str(tmp_path)  # its own code comes first
    settings = ABSettings(suite="regress", threshold=THRESHOLD, tolerances=resolve_tolerances(), min_rounds=2,
                          max_rounds=2, threads=1, out_dir=tmp_path)
    with pytest.raises(ConfigError, match="could not run `bench run --suite regress`") as err:
        run_side(side, settings, tmp_path / "r.jsonl")
    assert "this base is broken" in str(err.value)
