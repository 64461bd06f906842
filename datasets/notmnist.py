"""`notmnist`: letters A–J in many fonts, 28 rows of 28 pixels in [0, 1], 10 classes.

Two forms of the data are accepted:
- "idx": the 10,000-glyph IDX sample (notmnist_small_10k/, labels 0–9 = A–J), digest-checked;
- "png": the original `notMNIST_small/` folder (A/…png … J/…png), which holds some
  unreadable images: they are skipped, counted in `info["skipped_images"]` and warned about.
Exact duplicate images are dropped before splitting (`dedupe`), so no glyph lands in
two splits (the sample repeats one blank image 141 times). Then 80/20 train/test as in
the source experiment, and validation carved from the 80% (stratified, by seed); or, with
`val_is_test`, the source's own protocol: the 20% part is the validation set it scored.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataNotFoundError, OptionError
from .files import DataSource
from .idx import check_images, read_verified_idx
from .png_folder import read_png_folder
from .registry import register
from .splits import check_fraction, hold_out, three_way
from .task import Task

LETTERS = list("ABCDEFGHIJ")
GROUP = "notmnist_small_10k"  # folder of the IDX sample in the data dir and the cache
IMAGES = "t10k-images-idx3-ubyte.gz"
LABELS = "t10k-labels-idx1-ubyte.gz"
SAMPLE_COUNT = 10_000
PNG_FOLDER = "notMNIST_small"  # name of the original PNG folder looked for in the data dirs
MIRRORS = ("https://raw.githubusercontent.com/davidflanagan/notMNIST-to-MNIST/"
           "17823f4d4a3acd8317c07866702d2eb2ac79c7a0/",)
HOW_TO_GET = ("The IDX sample comes from github.com/davidflanagan/notMNIST-to-MNIST (t10k-*.gz); "
              "shared/data/notmnist_small_10k/ holds verified copies. For the original PNG folder use "
              "source='png' with notMNIST_small/ in a data dir or folder=<path>.")
MAX_SKIPPED_LISTED = 50  # skipped file names kept in info; the count is always exact


@dataclass(frozen=True)
class NotMnistOptions:
    """Options of the `notmnist` task."""

    # "idx": the IDX sample; "png": the original notMNIST_small PNG folder;
    # None: "png" when `folder` is given, else "idx"
    source: str | None = None
    folder: str | None = None  # path of a notMNIST_small PNG folder; None: searched in the data dirs
    test_fraction: float = 0.2  # the source's 80/20 train/test split (stratified by letter)
    val_fraction: float = 0.1  # share of the 80% training part held out for validation
    dedupe: bool = True  # drop exact duplicate images before splitting, so no image is in two splits
    # the source experiment's protocol: nothing carved from the 80% for validation; the 20% part is scored as
    # validation after every epoch and as test (val_fraction is then unused)
    val_is_test: bool = False

    def __post_init__(self) -> None:
        if self.source not in (None, "idx", "png"):
            raise OptionError(f"source must be 'idx' or 'png', got {self.source!r}")
        if self.folder is not None and self.source == "idx":
            raise OptionError("folder is a PNG folder, so it cannot go with source='idx'; drop one of them")
        check_fraction("test_fraction", self.test_fraction)
        check_fraction("val_fraction", self.val_fraction)


@register("notmnist", NotMnistOptions, "notMNIST letters A-J, 28 rows of 28 pixels, 10 classes", needs_files=True)
def load_notmnist(options: NotMnistOptions, source: DataSource, seed: int) -> Task:
    """The notMNIST task; `indices` are rows of the readable images in file order."""
    if options.source == "png" or (options.source is None and options.folder is not None):
        images, labels, info = _from_png(options, source)
    else:
        images, labels, info = _from_idx(source)
    rows = np.arange(len(labels))
    if options.dedupe:
        flat = images.reshape(len(images), -1)
        _, first = np.unique(flat, axis=0, return_index=True)
        rows = np.sort(first)
    info["duplicates_dropped"] = int(len(labels) - len(rows))
    if options.val_is_test:
        train, test = hold_out(rows, options.test_fraction, seed, labels)
        split = {"train": train, "val": test, "test": test}
    else:
        split = three_way(rows, options.test_fraction, options.val_fraction, seed, labels)
    arrays = {}
    for name, picked in split.items():
        arrays[f"x_{name}"] = images[picked].astype(np.float32) / np.float32(255.0)
        arrays[f"y_{name}"] = labels[picked]
    info["letters"] = "".join(LETTERS)
    info["pixel_scale"] = "divided by 255"
    return Task(name="notmnist", kind="classify", num_outputs=10, input_size=28, seq_len=28,
                indices=split, info=info, **arrays)


def _from_idx(source: DataSource) -> tuple[np.ndarray, np.ndarray, dict]:
    found = source.fetch(GROUP, [IMAGES, LABELS], MIRRORS, HOW_TO_GET)
    images = read_verified_idx(found[IMAGES].path, found[IMAGES].sha256)
    labels = read_verified_idx(found[LABELS].path, found[LABELS].sha256)
    check_images(images, labels, f"{found[IMAGES].path} + {found[LABELS].path}", count=SAMPLE_COUNT)
    info = {"source": "notMNIST_small sample of 10,000 glyphs (Yaroslav Bulatov), IDX form "
                      "from davidflanagan/notMNIST-to-MNIST",
            "form": "idx",
            "files": {f.relpath: {"path": str(f.path), "sha256": f.sha256, "origin": f.origin}
                      for f in found.values()},
            "skipped_images": 0}
    return images, labels.astype(np.int64), info


def _from_png(options: NotMnistOptions, source: DataSource) -> tuple[np.ndarray, np.ndarray, dict]:
    folder = Path(options.folder).expanduser() if options.folder is not None else source.find_dir(PNG_FOLDER)
    if folder is None or not folder.is_dir():
        looked = [str(p.root / PNG_FOLDER) for p in source.places() if p.root is not None]
        where = str(folder) if folder is not None else "; ".join(looked) or "no data dir is configured"
        raise DataNotFoundError(
            f"notMNIST PNG folder not found (looked in: {where}). Unpack notMNIST_small.tar.gz so that "
            f"<dir>/{PNG_FOLDER}/A/*.png … J/*.png exist and pass data_dir=<dir> or folder=<dir>/{PNG_FOLDER}, "
            f"or use source='idx' for the verified IDX sample.")
    read = read_png_folder(folder, LETTERS, (28, 28))
    if read.skipped:
        warnings.warn(f"notMNIST: skipped {len(read.skipped)} unreadable image(s) in {folder}, "
                      f"e.g. {read.skipped[0]}", RuntimeWarning, stacklevel=3)
    info = {"source": "notMNIST_small (Yaroslav Bulatov), original PNG folder (no published digest)",
            "form": "png", "folder": str(folder),
            "images_read": int(len(read.labels)),
            "skipped_images": len(read.skipped),
            "skipped_files": read.skipped[:MAX_SKIPPED_LISTED]}
    return read.images, read.labels, info
