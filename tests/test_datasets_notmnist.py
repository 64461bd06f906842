"""notMNIST in both forms: the verified IDX sample, and a PNG folder with unreadable files."""

import numpy as np
import pytest
from PIL import Image

import datasets
from datasets import DataNotFoundError, OptionError
from datasets.idx import read_idx_gz
from datasets_fixtures import NOTMNIST_FILES, isolated_env, require_data  # noqa: F401

SAMPLE = 10_000
UNIQUE_IN_SAMPLE = 9_804  # the sample repeats one blank glyph 141 times, plus a few other repeats
PER_LETTER = 12  # PNGs written per letter in the folder test
LETTERS = "ABCDEFGHIJ"


@pytest.fixture(scope="module")
def data_dir():
    return require_data(*(f"notmnist_small_10k/{name}" for name in NOTMNIST_FILES))


@pytest.fixture(scope="module")
def sample(data_dir):
    """(images uint8, labels) of the IDX sample, read directly."""
    folder = data_dir / "notmnist_small_10k"
    return read_idx_gz(folder / NOTMNIST_FILES[0]), read_idx_gz(folder / NOTMNIST_FILES[1]).astype(np.int64)


def test_idx_sample_shapes_values_and_80_20_split(data_dir, isolated_env):  # noqa: F811
    task = datasets.load("notmnist", data_dir=data_dir)
    sizes = task.sizes()
    assert sum(sizes.values()) == UNIQUE_IN_SAMPLE
    assert task.info["duplicates_dropped"] == SAMPLE - UNIQUE_IN_SAMPLE
    assert sizes["test"] == round(0.2 * UNIQUE_IN_SAMPLE)
    assert sizes["val"] == round(0.1 * (UNIQUE_IN_SAMPLE - sizes["test"]))
    assert (task.num_outputs, task.input_size, task.seq_len) == (10, 28, 28)
    for split in ("train", "val", "test"):
        x, y, _ = task.split(split)
        assert x.dtype == np.float32 and x.shape[1:] == (28, 28)
        assert x.min() == 0.0 and x.max() == 1.0
        assert set(np.unique(y)) == set(range(10))
    assert task.info["form"] == "idx" and task.info["skipped_images"] == 0


def test_idx_sample_splits_share_no_image_and_keep_their_labels(data_dir, sample, isolated_env):  # noqa: F811
    images, labels = sample
    task = datasets.load("notmnist", data_dir=data_dir, seed=4)
    seen = set()
    for split in ("train", "val", "test"):
        x, y, _ = task.split(split)
        rows = task.indices[split]
        np.testing.assert_array_equal(y, labels[rows])
        np.testing.assert_array_equal(np.rint(x * 255).astype(np.uint8), images[rows])
        keys = {row.tobytes() for row in images[rows]}
        assert not keys & seen
        seen |= keys


def test_without_dedupe_all_10000_load(data_dir, isolated_env):  # noqa: F811
    task = datasets.load("notmnist", data_dir=data_dir, dedupe=False)
    assert sum(task.sizes().values()) == SAMPLE
    counts = np.bincount(np.concatenate([task.y_train, task.y_val, task.y_test]))
    assert counts.tolist() == [1000] * 10


def test_the_sources_protocol_trains_on_all_of_the_80_and_validates_on_the_20(data_dir, isolated_env):  # noqa: F811
    task = datasets.load("notmnist", data_dir=data_dir, dedupe=False, val_is_test=True, seed=1000)
    np.testing.assert_array_equal(task.indices["val"], task.indices["test"])
    assert (len(task.indices["train"]), len(task.indices["test"])) == (8000, 2000)
    assert not set(task.indices["train"]) & set(task.indices["test"])
    assert np.bincount(task.y_test).tolist() == [200] * 10  # stratified by letter


def test_seed_changes_the_split_and_repeats_it(data_dir, isolated_env):  # noqa: F811
    a = datasets.load("notmnist", data_dir=data_dir, seed=1)
    b = datasets.load("notmnist", data_dir=data_dir, seed=1)
    c = datasets.load("notmnist", data_dir=data_dir, seed=2)
    np.testing.assert_array_equal(a.indices["test"], b.indices["test"])
    assert not np.array_equal(np.sort(a.indices["test"]), np.sort(c.indices["test"]))


def _png_folder(root, images, labels):
    """notMNIST_small/<letter>/*.png from the first distinct PER_LETTER images of each letter, plus 3 broken files."""
    folder = root / "notMNIST_small"
    expected = {}
    for index, letter in enumerate(LETTERS):
        (folder / letter).mkdir(parents=True)
        picked = 0
        for row in np.flatnonzero(labels == index):
            key = images[row].tobytes()
            if key in expected:
                continue
            Image.fromarray(images[row]).save(folder / letter / f"img{row:05d}.png")
            expected[key] = index
            picked += 1
            if picked == PER_LETTER:
                break
    good = (folder / "A").glob("*.png").__next__().read_bytes()
    (folder / "A" / "empty.png").write_bytes(b"")
    (folder / "B" / "truncated.png").write_bytes(good[: len(good) // 2])
    (folder / "C" / "notes.png").write_text("this is not an image\n")
    Image.fromarray(np.full((20, 20), 7, np.uint8)).save(folder / "D" / "small.png")
    return folder, expected


def test_png_folder_loads_readable_images_and_counts_the_rest(tmp_path, sample, isolated_env):  # noqa: F811
    folder, expected = _png_folder(tmp_path, *sample)
    with pytest.warns(RuntimeWarning, match="skipped 4 unreadable"):
        task = datasets.load("notmnist", folder=str(folder))
    assert task.info["form"] == "png"
    assert task.info["skipped_images"] == 4
    assert task.info["images_read"] == 10 * PER_LETTER
    skipped = " ".join(task.info["skipped_files"])
    for name in ("A/empty.png", "B/truncated.png", "C/notes.png", "D/small.png"):
        assert name in skipped
    assert sum(task.sizes().values()) == 10 * PER_LETTER
    for split in ("train", "val", "test"):
        x, y, _ = task.split(split)
        for image, label in zip(np.rint(x * 255).astype(np.uint8), y):
            assert expected[image.tobytes()] == label  # the pixels and letter of a PNG that was written


def test_png_folder_is_found_in_the_data_dir(tmp_path, sample, isolated_env):  # noqa: F811
    _png_folder(tmp_path, *sample)
    with pytest.warns(RuntimeWarning):
        task = datasets.load("notmnist", data_dir=tmp_path, source="png")
    assert task.info["folder"] == str(tmp_path / "notMNIST_small")


def test_png_folder_missing_a_letter_is_refused(tmp_path, sample, isolated_env):  # noqa: F811
    folder, _ = _png_folder(tmp_path, *sample)
    for path in (folder / "J").iterdir():
        path.unlink()
    (folder / "J").rmdir()
    with pytest.raises(DataNotFoundError, match="one sub-folder per class.*missing: J"):
        datasets.load("notmnist", folder=str(folder))


def test_png_source_without_a_folder_says_how_to_provide_one(tmp_path, isolated_env):  # noqa: F811
    with pytest.raises(DataNotFoundError, match=r"notMNIST PNG folder not found.*notMNIST_small/A/\*\.png"):
        datasets.load("notmnist", data_dir=tmp_path, source="png")


def test_folder_with_idx_source_is_contradictory(tmp_path):
    with pytest.raises(OptionError, match="cannot go with source='idx'"):
        datasets.load("notmnist", source="idx", folder=str(tmp_path))
