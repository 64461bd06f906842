"""`mnist`: the four original IDX files, 28 rows of 28 pixels in [0, 1].

Test is the official 10,000-image test set; validation is carved (stratified, by
seed) from the 60,000 training images, the rest is training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import OptionError
from .files import DataSource
from .idx import check_images, read_verified_idx
from .registry import register
from .splits import hold_out
from .task import Task

GROUP = "mnist"  # folder in the data dir and the cache
TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"
FILES = [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS]
TRAIN_COUNT, TEST_COUNT = 60_000, 10_000
# Public mirrors of LeCun's files (torchvision's and TFDS's); every download is digest-checked.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
HOW_TO_GET = ("MNIST is the four gz files of http://yann.lecun.com/exdb/mnist/ "
              "(also in torchvision's and TFDS's mirrors); shared/data/mnist/ holds verified copies.")


@dataclass(frozen=True)
class MnistOptions:
    """Options of the `mnist` task."""

    val_size: int = 5000  # training images held out for validation (stratified by digit)

    def __post_init__(self) -> None:
        if not 1 <= self.val_size < TRAIN_COUNT:
            raise OptionError(f"val_size must be between 1 and {TRAIN_COUNT - 1}, got {self.val_size}")


@register("mnist", MnistOptions, "MNIST handwritten digits, 28 rows of 28 pixels, 10 classes", needs_files=True)
def load_mnist(options: MnistOptions, source: DataSource, seed: int) -> Task:
    """The MNIST task; `indices` of train/val are rows of the training file, of test rows of the test file."""
    found = source.fetch(GROUP, FILES, MIRRORS, HOW_TO_GET)
    train_x, train_y = _pair(found[TRAIN_IMAGES], found[TRAIN_LABELS], TRAIN_COUNT)
    test_x, test_y = _pair(found[TEST_IMAGES], found[TEST_LABELS], TEST_COUNT)
    train_rows, val_rows = hold_out(np.arange(TRAIN_COUNT), options.val_size, seed, train_y)
    test_rows = np.arange(TEST_COUNT)
    return Task(
        name="mnist", kind="classify", num_outputs=10, input_size=28, seq_len=28,
        x_train=_scale(train_x[train_rows]), y_train=train_y[train_rows],
        x_val=_scale(train_x[val_rows]), y_val=train_y[val_rows],
        x_test=_scale(test_x), y_test=test_y,
        indices={"train": train_rows, "val": val_rows, "test": test_rows},
        info={"source": "MNIST (LeCun, Cortes, Burges), original IDX files, CC BY-SA 3.0",
              "files": {f.relpath: {"path": str(f.path), "sha256": f.sha256, "origin": f.origin}
                        for f in found.values()},
              "pixel_scale": "divided by 255"},
    )


def _pair(images_file, labels_file, count: int) -> tuple[np.ndarray, np.ndarray]:
    images = read_verified_idx(images_file.path, images_file.sha256)
    labels = read_verified_idx(labels_file.path, labels_file.sha256)
    check_images(images, labels, f"{images_file.path} + {labels_file.path}", count=count)
    return images, labels.astype(np.int64)


def _scale(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float32) / np.float32(255.0)
