"""Which commit's code made a record (bench.records.provenance), and the replication reports' `code` column."""

from __future__ import annotations

import dataclasses
import subprocess

import pandas as pd
import pytest

from bench.plan.config import REPO_ROOT
from bench.records.environment import CODE_PATHS, source_digest
from bench.records.provenance import code_history, made_by
from bench.records.schema import Git
from bench.records.store import read_records
from bench.replication.side_by_side import COMMITTED, UNCOMMITTED, code_cell

REPLICATION_DIR = REPO_ROOT / "reports" / "replication"


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def history():
    found = code_history()
    if found is None or _git("rev-parse", "--is-shallow-repository") == "true":
        pytest.skip("needs the project's whole git history (a full clone)")
    return found


@pytest.fixture(scope="module")
def a_record():
    return read_records(REPLICATION_DIR / "noise_source" / "records.jsonl")[0]


def test_head_and_its_source_digest_are_in_the_history(history):
    head = _git("rev-parse", "HEAD")
    assert head in history.commits and head in history.by_digest.values()
    if _git("status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS):
        pytest.skip("the working tree's code has uncommitted changes: its digest is no commit's")
    # the digest of the checked-out files, by the rule records use, is the one computed from git's objects
    assert history.by_digest[source_digest()] == head


def test_a_record_is_identified_by_its_clean_commit_or_by_its_digest_else_not(history, a_record):
    head = _git("rev-parse", "HEAD")
    digest_of_head = next(d for d, c in history.by_digest.items() if c == head)
    env = a_record.environment

    def with_git(commit, dirty, digest):
        return dataclasses.replace(a_record, environment=dataclasses.replace(
            env, git=Git(commit=commit, dirty=dirty), source_digest=digest))

    assert made_by(with_git(head, False, None), history) == head
    assert made_by(with_git(head, True, digest_of_head), history) == head  # dirty, but the changes were committed
    assert made_by(with_git(head, True, "0" * 16), history) is None  # code no commit holds
    assert made_by(with_git(head, True, None), history) is None  # dirty and no digest: unknowable
    assert made_by(with_git("f" * 40, False, None), history) is None  # a commit not in this history
    assert made_by(a_record, None) is None  # no git history at all: nothing is identified


def test_a_rows_code_says_how_many_of_its_runs_no_commit_holds():
    assert code_cell(pd.DataFrame({"made_by": ["abc", "def"]})) == COMMITTED
    assert code_cell(pd.DataFrame({"made_by": ["abc", None, None]})) == f"{UNCOMMITTED}: 2 of 3 runs"
    assert code_cell(pd.DataFrame({"made_by": []})) == "—"


def test_the_committed_side_by_side_tables_code_column_is_what_the_records_give(history):
    """Recomputed from each experiment's committed records and this repository's history."""
    from bench.replication.catalog import get_experiment
    from bench.replication.side_by_side import own_runs, rows_frame, side_by_side_table, _ok_train_records

    checked = 0
    for csv in sorted(REPLICATION_DIR.glob("*/side_by_side.csv")):
        experiment = get_experiment(csv.parent.name)
        records = own_runs(experiment, _ok_train_records(read_records(csv.parent / "records.jsonl")))
        table = side_by_side_table(experiment, rows_frame(records))
        committed = pd.read_csv(csv, keep_default_na=False)
        assert committed["code"].tolist() == table["code"].tolist(), csv.parent.name
        checked += committed["code"].str.startswith(UNCOMMITTED).sum()
    assert checked > 0  # the committed tables do flag rows resting on uncommitted code



def test_rerun_unidentified_picks_only_records_no_commit_made(history, a_record, monkeypatch):
    import bench.commands.replicate
    import bench.records.environment

    monkeypatch.setattr(bench.records.environment, "git_commit", lambda: {"commit": "0" * 40, "dirty": False})
    pick = bench.commands.replicate._unidentified_picker()
    assert made_by(a_record, history) is not None and not pick(a_record)
    unknown = dataclasses.replace(a_record, environment=dataclasses.replace(
        a_record.environment, git=Git(commit=a_record.environment.git.commit, dirty=True), source_digest="f" * 64))
    assert pick(unknown)
