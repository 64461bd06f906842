"""The record schema and the append-only store (partial lines, resume bookkeeping)."""

import copy
import importlib.util
import dataclasses
import json
import os
from pathlib import Path

import pytest

from bench.records.environment import source_digest
from bench.plan.jobs import Job
from bench.records.schema import Record, schema_markdown
from bench.records.typed import record_json
from bench.records.validation import record_problems
from bench.records.store import (SCHEMA_VERSION, RecordError, RecordStore, dumps, parse_record, read_records,
                                 validate_record)
from bench.run.runners.common import is_oom
from bench.run.worker import run_in_process

COMMITTED = Path(__file__).parent / "data" / "harness_records.jsonl"


@pytest.fixture(scope="module")
def fresh_record():
    """A record of a real job (torch, digits, one epoch), run in this process, as its JSON object."""
    job = Job(cell="mgu1", framework="torch", backend="torch", mode="eager", device="cpu", task="digits",
              measure="both", hidden_size=8, batch_size=64, epochs=1, lr=1e-2, target=0.2,
              warmup_steps=1, timed_steps=3)
    return job, record_json(run_in_process(job, threads=1))


def test_a_real_record_follows_the_schema(fresh_record):
    job, record = fresh_record
    assert record["status"] == "ok", record["error"]
    validate_record(record)
    assert set(record) == {f.name for f in dataclasses.fields(Record) if not f.metadata.get("internal")}
    assert record["schema_version"] == SCHEMA_VERSION
    assert record["job_id"] == job.job_id and Job.from_identity(record["identity"]) == job
    train = record["train"]
    assert [e["epoch"] for e in train["epochs"]] == [1]
    for key in ("train_loss", "train_metric", "val_loss", "val_metric", "wall_s"):
        assert isinstance(train["epochs"][0][key], float)
    assert train["metric"] == "accuracy" and 0.0 <= train["test_metric"] <= 1.0
    assert train["sizes"]["train"] > 0 and train["seq_len"] == 8 and train["input_size"] == 8
    for step in ("train_step", "inference_step"):
        stats = record["timing"][step]
        assert stats["n"] == 3 and stats["warmup_n"] == 1 and stats["median_s"] > 0
    assert record["memory"]["kind"] == "max_rss" and record["memory"]["peak_bytes"] > 10 * 2**20
    env = record["environment"]
    assert env["versions"]["torch"] and env["versions"]["numpy"] and env["cpu"]
    assert env["threads"]["intra_op"] == 1 and env["threads_requested"] == 1
    assert "commit" in env["git"]
    assert env["source_digest"] == source_digest()
    import torch  # the precision a GPU's tensor cores may use, as this process set it
    assert env["tf32"] == {"matmul": torch.backends.cuda.matmul.allow_tf32, "cudnn": torch.backends.cudnn.allow_tf32}
    json.loads(dumps(record))  # one standard JSON line


def test_parameter_counts_match_the_spec(fresh_record):
    _, record = fresh_record
    params = record["params"]
    assert params["recurrent"] == params["recurrent_expected"] > 0
    assert params["framework"] > params["recurrent"]  # plus the head


@pytest.mark.parametrize("mode", ["eager", "compiled"])
def test_a_job_too_large_for_memory_is_recorded_as_oom_with_what_to_do(mode):
    # an LSTM of 2**23 units needs 1 PiB of weights, beyond the 128 TiB a process maps by default: refused at
    # once, never paged in
    job = Job(cell="lstm", framework="torch", backend="torch", mode=mode, device="cpu", task="digits",
              measure="timing", hidden_size=2**23, batch_size=16, seq_len=4, input_size=8, warmup_steps=1,
              timed_steps=2)
    record = run_in_process(job, threads=1)
    assert record.status == "oom", record.error
    assert record.error.startswith("out of cpu memory at batch 16, hidden 8388608: a smaller --batch-size")
    assert "can't allocate memory" in record.error and record.memory.peak_bytes > 0
    validate_record(record_json(record))


def test_out_of_memory_is_recognised_in_every_framework():
    import torch

    assert is_oom(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    if importlib.util.find_spec("tensorflow"):  # the GPU machine has none
        import tensorflow as tf

        assert is_oom(tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape[8,8]"))
    assert is_oom(RuntimeError("RESOURCE_EXHAUSTED: Out of memory allocating 13194139533312 bytes."))  # JAX/XLA
    assert is_oom(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 8 bytes"))
    assert not is_oom(RuntimeError("mat1 and mat2 shapes cannot be multiplied (4x3 and 4x3)"))
    assert not is_oom(ValueError("gru0 expects input (batch, time, 28), got (4, 28)"))


def test_a_keras_record_names_its_backend_and_native_path():
    job = Job(cell="lstm_native", framework="keras", backend="tensorflow", mode="graph", device="cpu",
              task="digits", measure="both", hidden_size=8, batch_size=64, epochs=1, lr=1e-2,
              warmup_steps=1, timed_steps=3)
    record = run_in_process(job, threads=1)
    assert record.status == "ok", record.error
    validate_record(record_json(record))
    assert record.job.backend == "tensorflow" and record.environment.versions["keras"]
    assert record.native_path.startswith("generic")  # no GPU here: Keras's own loop, not cuDNN
    assert record.params.recurrent == record.params.recurrent_expected == 4 * (8 * 8 + 8 * 8 + 8)
    assert record.timing.inference_step.n == 3


def test_committed_records_follow_the_schema_and_the_spec_counts():
    records = read_records(COMMITTED)
    assert len(records) >= 20
    for record in records:
        validate_record(record_json(record))
        if record.params:
            assert record.params.recurrent == record.params.recurrent_expected, record.identity


@pytest.mark.parametrize("mutate, message", [
    (lambda r: r.pop("environment"), "missing environment"),
    (lambda r: r.update(status="melted"), "status 'melted' is not one of"),
    (lambda r: r.update(status="error", error=None), "needs an error message"),
    (lambda r: r.update(schema_version=SCHEMA_VERSION + 1), "written by another version"),
    (lambda r: r.update(duration_s="long"), "duration_s must be float, got str"),
    (lambda r: r.update(timing=None), "an ok timing job needs its 'timing'"),
])
def test_invalid_records_are_refused_with_the_reason(fresh_record, mutate, message):
    record = copy.deepcopy(fresh_record[1])
    mutate(record)
    with pytest.raises(RecordError, match=message):
        validate_record(record)


def test_non_finite_numbers_are_written_as_null(fresh_record):
    record = copy.deepcopy(fresh_record[1])
    record["train"]["epochs"][0]["train_loss"] = float("nan")
    assert json.loads(dumps(record))["train"]["epochs"][0]["train_loss"] is None


def test_a_half_written_line_is_skipped_and_the_next_append_starts_a_new_line(fresh_record, tmp_path):
    first = copy.deepcopy(fresh_record[1])
    second = copy.deepcopy(first)
    second["job_id"] = "0123456789abcdef"
    store = RecordStore(tmp_path / "r.jsonl")
    store.append(first)
    with store.path.open("a") as fh:  # what a writer killed mid-line leaves
        fh.write(dumps(second)[:57])
    with pytest.warns(UserWarning, match="r.jsonl:2: skipping an unreadable record, not JSON .a run killed mid-write"):
        assert [r.job_id for r in store.load()] == [first["job_id"]]
    assert store.skipped_lines == [2]
    store.append(second)
    with pytest.warns(UserWarning):
        assert [r.job_id for r in store.load()] == [first["job_id"], second["job_id"]]


def test_a_record_of_another_schema_version_is_skipped_as_such(fresh_record, tmp_path):
    future = copy.deepcopy(fresh_record[1])
    future["schema_version"] += 1
    path = tmp_path / "r.jsonl"
    path.write_text(dumps(future) + "\n")
    with pytest.warns(UserWarning, match=r"r.jsonl:1: skipping an unreadable record, not a valid record: .*"
                                         r"schema_version \d+ is not \d+; .*another version of rnnbench"):
        assert RecordStore(path).load() == []


def test_a_records_file_that_cannot_be_locked_is_still_written_with_a_warning(fresh_record, tmp_path, monkeypatch):
    import errno

    import bench.records.store

    class NoLocks:  # as on a network mount without locking
        def __init__(self, *args, **kwargs):
            pass

        def acquire(self):
            raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(bench.records.store, "FileLock", NoLocks)
    store = RecordStore(tmp_path / "r.jsonl")
    with pytest.warns(UserWarning, match="cannot lock the records file .*No locks available"):
        with store.held():
            store.append(fresh_record[1])
    assert [r.job_id for r in store.load()] == [fresh_record[1]["job_id"]]


def test_finished_ids_use_the_latest_record_and_can_retry_failures(fresh_record, tmp_path):
    ok = copy.deepcopy(fresh_record[1])
    failed = copy.deepcopy(ok)
    failed.update(job_id="feedfacefeedface", status="error", error="boom")
    store = RecordStore(tmp_path / "r.jsonl")
    store.append(ok)
    store.append(failed)
    assert store.finished_ids() == {ok["job_id"], "feedfacefeedface"}
    assert store.finished_ids(retry_failed=True) == {ok["job_id"]}
    rerun = copy.deepcopy(ok)
    rerun["job_id"] = "feedfacefeedface"  # the retried job succeeded: its latest record counts
    store.append(rerun)
    assert store.finished_ids(retry_failed=True) == {ok["job_id"], "feedfacefeedface"}


def test_append_refuses_an_invalid_record(tmp_path):
    store = RecordStore(tmp_path / "r.jsonl")
    with pytest.raises(RecordError):
        store.append({"job_id": "x"})
    assert not store.path.exists()


def test_the_source_digest_names_the_code_and_only_the_code(tmp_path):
    """Records carry it because git cannot always tell (a copied tree reports a stale commit)."""
    (tmp_path / "bench").mkdir()
    module = tmp_path / "bench" / "a.py"
    module.write_text("x = 1\n")
    before = source_digest(tmp_path)
    (tmp_path / "bench" / "notes.txt").write_text("not code")
    assert source_digest.__wrapped__(tmp_path) == before
    module.write_text("x = 2\n")
    assert source_digest.__wrapped__(tmp_path) != before


@pytest.mark.parametrize("framework, backend, mode, cell", [("torch", "torch", "eager", "gru4"),
                                                           ("keras", "tensorflow", "graph", "gru4")])
def test_a_chosen_float32_precision_is_set_in_the_job_recorded_and_reported_apart(framework, backend, mode, cell,
                                                                                  tmp_path):
    """On a CPU the switches change no result, but the job must set them, say so, and stay a job of its own."""
    import torch

    from bench.records.store import RecordStore
    from bench.report.frame import load_frame

    from bench.plan.config import TimingConfig
    from bench.plan.jobs import Axes, expand

    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    jobs = expand(Axes(tasks=("digits",), measure="timing", cells=(cell,), frameworks=(framework,), modes=(mode,),
                       keras_backend=backend if framework == "keras" else None, hidden_sizes=(8,), batch_sizes=(16,),
                       timing=TimingConfig(warmup_steps=1, timed_steps=2), float32=("default", "fp32")))
    store = RecordStore(tmp_path / "r.jsonl")
    try:
        for job in jobs:
            record = run_in_process(job, threads=1)
            assert record.status == "ok", record.error
            store.append(record)
        tf32 = record.environment.tf32  # the fp32 job's, read back in its process
        assert not any(tf32.values()), tf32
    finally:  # the jobs ran in this process: give the other tests the switches they had
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before
        if backend == "tensorflow":
            import tensorflow as tf

            tf.config.experimental.enable_tensor_float_32_execution(True)
    flat, _ = load_frame(store.path)
    assert sorted(flat["mode"]) == [mode, f"{mode}·fp32"]


def test_a_real_record_with_a_wrong_nested_field_is_named_by_its_path(fresh_record):
    _, good = fresh_record
    assert record_problems(good) == []
    bad = copy.deepcopy(good)
    bad["train"]["epochs"][0]["val_metric"] = "high"
    bad["train"]["test_metrc"] = 0.5  # a writer's typo
    del bad["identity"]["cell"]
    bad["identity"]["weight_decay"] = "none"
    bad["environment"]["git"] = {"commit": "abc"}
    problems = record_problems(bad)
    assert problems == ["train.epochs[0].val_metric must be float, got str", "train.test_metrc is not a field of Train",
                        "missing environment.git.dirty", "missing identity.cell", "identity.weight_decay must be float, got str"]
    with pytest.raises(RecordError, match="train.test_metrc is not a field of Train"):
        validate_record(bad)


def test_the_published_schema_is_the_one_generated_from_the_record_classes():
    from pathlib import Path

    text = (Path(__file__).parents[1] / "docs" / "harness.md").read_text()
    start, end = "<!-- schema: generated by bench.records.schema.schema_markdown -->", "<!-- end of schema -->"
    assert text.split(start)[1].split(end)[0].strip() == schema_markdown().strip(), \
        "docs/harness.md's record schema is stale: paste bench.records.schema.schema_markdown() between its markers"


def test_dirty_means_the_code_differs_not_that_a_records_file_grew(tmp_path):
    """A sweep appends to a committed records file: its next records must still name a clean commit."""
    import shutil
    import subprocess
    import sys

    from bench.plan.config import REPO_ROOT

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO_ROOT), str(clone)], check=True)
    for name in subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "bench"], cwd=REPO_ROOT,
                               capture_output=True, text=True, check=True).stdout.split():
        if (REPO_ROOT / name).is_file():  # the code under test, committed or not
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name, clone / name)
    subprocess.run(["git", "add", "-A"], cwd=clone, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "--quiet", "--allow-empty",
                    "-m", "code under test"], cwd=clone, check=True)
    ask = [sys.executable, "-c", "import json; from bench.records.environment import git_commit; print(json.dumps(git_commit()))"]

    def dirty() -> bool:
        return json.loads(subprocess.run(ask, cwd=clone, capture_output=True, text=True, check=True,
                                         env={**os.environ, "PYTHONPATH": str(clone)}).stdout)["dirty"]

    assert dirty() is False
    with (clone / "reports" / "baseline" / "regress.jsonl").open("a") as fh:
        fh.write("\n")
    assert dirty() is False
    with (clone / "bench" / "plan" / "config.py").open("a") as fh:
        fh.write("# a change to the code\n")
    assert dirty() is True


def test_every_committed_record_loads_typed_and_writes_back_the_same_json():
    """The typed record is lossless: each committed file's records, read into the schema's classes and written
    back, are the JSON objects on disk, key for key (absent keys stay absent, nulls stay null)."""
    from bench.plan.config import REPO_ROOT
    from bench.records.schema import Epoch, Train

    paths = sorted(REPO_ROOT.glob("reports/**/*.jsonl")) + [COMMITTED]
    checked = 0
    for path in paths:
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        for raw, record in zip(lines, RecordStore(path).load(), strict=True):
            assert record_json(record) == raw, (path, raw["job_id"])
            assert record.job.job_id == record.job_id  # the identity, rebuilt as a Job, hashes to the same id
            if record.train is not None:
                assert isinstance(record.train, Train) and all(isinstance(e, Epoch) for e in record.train.epochs)
            checked += 1
    assert checked > 3000  # every committed report's records, not a sample


def test_a_field_path_that_is_not_in_the_schema_fails_where_it_is_named():
    from bench.records.typed import field_path

    assert field_path("timing", "train_step", "median_s") == "timing.train_step.median_s"
    assert field_path("environment", "versions", "torch") == "environment.versions.torch"  # an open map's key
    with pytest.raises(KeyError, match="train.test_metrc is not a record field; Train has loss, metric"):
        field_path("train", "test_metrc")


def test_a_record_built_in_code_leaves_out_what_may_be_absent_and_was_not_set(fresh_record):
    from bench.records.schema import Epoch

    assert record_json(Epoch(epoch=1, train_loss=0.5)) == {"epoch": 1, "train_loss": 0.5}
    job, data = fresh_record
    record = parse_record(copy.deepcopy(data))
    record.train.epochs[0].train_loss = 1.25  # typed edits reach the JSON
    assert record_json(record)["train"]["epochs"][0]["train_loss"] == 1.25
    assert record.job == job and record.train.metric == data["train"]["metric"]


def test_a_record_whose_identity_is_no_job_of_this_version_is_skipped_saying_so(fresh_record, tmp_path):
    """A mode or setting this version lacks (a record from a newer or an older suite): named, never half-read."""
    retired = copy.deepcopy(fresh_record[1])
    retired["identity"]["mode"] = "warp"
    with pytest.raises(RecordError, match="its identity is not a job this version of rnnbench knows .*warp"):
        parse_record(retired)
    path = tmp_path / "r.jsonl"
    path.write_text(dumps(retired) + "\n" + dumps(fresh_record[1]) + "\n")
    with pytest.warns(UserWarning, match="r.jsonl:1: skipping an unreadable record, not a valid record"):
        assert [r.job_id for r in RecordStore(path).load()] == [fresh_record[1]["job_id"]]
