"""MNIST from the real IDX files: shapes, values, class counts, splits, refused files, IDX headers."""

import gzip
import shutil
import struct

import numpy as np
import pytest

import datasets
from datasets import DataIntegrityError, DataNotFoundError
from datasets.idx import parse_idx, read_idx_gz
from datasets_fixtures import MNIST_FILES, isolated_env, require_data  # noqa: F401

# Images per digit in the 60,000 training and 10,000 test images (LeCun's published counts).
TRAIN_CLASS_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_CLASS_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
# A stratified split keeps each class's share to within one image per class.
STRATIFY_TOLERANCE = 1


@pytest.fixture(scope="module")
def data_dir():
    return require_data(*(f"mnist/{name}" for name in MNIST_FILES))


@pytest.fixture(scope="module")
def mnist(data_dir):
    return datasets.load("mnist", data_dir=data_dir, seed=0)


def test_shapes_dtypes_and_pixel_range(mnist):
    assert mnist.sizes() == {"train": 55_000, "val": 5_000, "test": 10_000}
    assert (mnist.kind, mnist.num_outputs, mnist.input_size, mnist.seq_len) == ("classify", 10, 28, 28)
    for split in ("train", "val", "test"):
        x, y, lengths = mnist.split(split)
        assert x.dtype == np.float32 and x.shape[1:] == (28, 28)
        assert y.dtype == np.int64 and lengths is None
        assert x.min() == 0.0 and x.max() == 1.0
    # 255 / 255 is exactly representable, and scaling must not be skipped (values would be up to 255)
    assert len(np.unique(mnist.x_test[0])) > 2


def test_class_counts_are_mnists(mnist):
    train_and_val = np.concatenate([mnist.y_train, mnist.y_val])
    assert np.bincount(train_and_val, minlength=10).tolist() == TRAIN_CLASS_COUNTS
    assert np.bincount(mnist.y_test, minlength=10).tolist() == TEST_CLASS_COUNTS
    expected_val = np.array(TRAIN_CLASS_COUNTS) * 5_000 / 60_000
    assert np.abs(np.bincount(mnist.y_val, minlength=10) - expected_val).max() <= STRATIFY_TOLERANCE


def test_train_and_val_partition_the_training_file(mnist):
    train, val = mnist.indices["train"], mnist.indices["val"]
    assert len(np.intersect1d(train, val)) == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, val])), np.arange(60_000))
    # MNIST has no exact duplicate images, so no image may appear in two splits
    seen = {row.tobytes() for row in mnist.x_train}
    assert not any(row.tobytes() in seen for row in mnist.x_val)
    assert not any(row.tobytes() in seen for row in mnist.x_test)


def test_split_is_deterministic_per_seed_and_varies_with_it(mnist, data_dir):
    same = datasets.load("mnist", data_dir=data_dir, seed=0, limit_test=10)
    np.testing.assert_array_equal(same.indices["val"], mnist.indices["val"])
    np.testing.assert_array_equal(same.x_val, mnist.x_val)
    other = datasets.load("mnist", data_dir=data_dir, seed=1, limit_test=10)
    assert not np.array_equal(np.sort(other.indices["val"]), np.sort(mnist.indices["val"]))


def test_val_size_and_limits(data_dir):
    task = datasets.load("mnist", data_dir=data_dir, val_size=1000, limit_train=2000, limit_test=500)
    assert task.sizes() == {"train": 2000, "val": 1000, "test": 500}


def test_info_records_verified_files(mnist, data_dir):
    files = mnist.info["files"]
    assert sorted(files) == sorted(f"mnist/{name}" for name in MNIST_FILES)
    sums = dict(reversed(line.split()) for line in (data_dir / "SHA256SUMS").read_text().splitlines()
                if "mnist/" in line and "notmnist" not in line)
    for relpath, entry in files.items():
        assert entry["sha256"] == sums[f"./{relpath}"]
        assert entry["origin"] == "data_dir argument"


def _copy_mnist(src, dest):
    (dest / "mnist").mkdir(parents=True)
    for name in MNIST_FILES:
        shutil.copyfile(src / "mnist" / name, dest / "mnist" / name)
    return dest / "mnist"


def test_truncated_file_is_refused(data_dir, tmp_path, isolated_env):  # noqa: F811
    folder = _copy_mnist(data_dir, tmp_path / "data")
    target = folder / "train-labels-idx1-ubyte.gz"
    target.write_bytes(target.read_bytes()[:10_000])
    with pytest.raises(DataIntegrityError, match=r"train-labels-idx1-ubyte\.gz \(10000 bytes\).*SHA-256.*truncated"):
        datasets.load("mnist", data_dir=tmp_path / "data")


def test_altered_file_is_refused(data_dir, tmp_path, isolated_env):  # noqa: F811
    folder = _copy_mnist(data_dir, tmp_path / "data")
    target = folder / "t10k-images-idx3-ubyte.gz"
    raw = bytearray(target.read_bytes())
    raw[5_000] ^= 0xFF
    target.write_bytes(bytes(raw))
    with pytest.raises(DataIntegrityError, match=r"t10k-images-idx3-ubyte\.gz.*expected 8d422c7b"):
        datasets.load("mnist", data_dir=tmp_path / "data")


def test_a_wrong_file_is_not_skipped_for_a_good_one_later_in_the_search(data_dir, tmp_path, monkeypatch,
                                                                         isolated_env):  # noqa: F811
    folder = _copy_mnist(data_dir, tmp_path / "data")
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not mnist")
    monkeypatch.setenv("RNNBENCH_DATA_DIR", str(data_dir))  # a good copy, searched second
    with pytest.raises(DataIntegrityError, match="t10k-labels"):
        datasets.load("mnist", data_dir=tmp_path / "data")


def test_missing_files_offline_name_files_places_and_remedy(tmp_path, isolated_env):  # noqa: F811
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataNotFoundError) as err:
        datasets.load("mnist", data_dir=empty)
    message = str(err.value)
    for name in MNIST_FILES:
        assert f"mnist/{name}" in message
    assert f"{empty / 'mnist'}/" in message
    assert "$RNNBENCH_DATA_DIR: (not set)" in message
    assert f"{isolated_env / 'mnist'}/" in message
    assert "Downloading is off" in message
    assert "data_dir=<dir>" in message and "RNNBENCH_DATA_DIR=<dir>" in message


def test_env_data_dir_is_searched(data_dir, monkeypatch, isolated_env):  # noqa: F811
    monkeypatch.setenv("RNNBENCH_DATA_DIR", str(data_dir))
    task = datasets.load("mnist", limit_train=10, limit_val=10, limit_test=10)
    assert {e["origin"] for e in task.info["files"].values()} == {"$RNNBENCH_DATA_DIR"}


def _idx(dims, payload, type_code=0x08):
    return struct.pack(">HBB", 0, type_code, len(dims)) + struct.pack(f">{len(dims)}I", *dims) + payload


def test_idx_parser_reads_a_well_formed_file(tmp_path):
    values = np.random.default_rng(1).integers(0, 256, (3, 4, 5), dtype=np.uint8)
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(_idx((3, 4, 5), values.tobytes())))
    np.testing.assert_array_equal(read_idx_gz(path), values)


@pytest.mark.parametrize("raw, message", [
    (_idx((3, 4), bytes(11)), r"promises shape \(3, 4\) = 12 bytes of data but the file has 11"),
    (_idx((3, 4), bytes(13)), "12 bytes of data but the file has 13"),
    (_idx((2,), bytes(2), type_code=0x0D), "bad IDX magic"),
    (b"\x00\x00\x08\x03\x00", "header is cut short"),
    (b"\x00", "too short"),
])
def test_idx_parser_refuses_a_header_that_disagrees(raw, message):
    with pytest.raises(DataIntegrityError, match=message):
        parse_idx(raw)


def test_idx_reader_refuses_a_broken_gzip_stream(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(_idx((4,), bytes(4)))[:-6])
    with pytest.raises(DataIntegrityError, match="not a readable gzip file"):
        read_idx_gz(path)
