"""Read a folder of per-class PNG images (notMNIST's `A/…png … J/…png`), skipping unreadable ones.

The original notMNIST_small archive contains images that no decoder can read; they are
skipped and counted rather than failing the whole load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DataIntegrityError, DataNotFoundError


@dataclass
class PngFolder:
    """The readable images of a class-per-folder tree."""

    images: np.ndarray  # uint8 (N, rows, cols), in (class, file name) order
    labels: np.ndarray  # int64 (N,): index of the class folder
    skipped: list[str] = field(default_factory=list)  # "class/file: reason" of each unreadable file


def read_png_folder(folder: Path, classes: list[str], shape: tuple[int, int]) -> PngFolder:
    """Every `folder/<class>/*.png` as grayscale, skipping files that cannot be decoded or have another shape."""
    from PIL import Image  # Pillow comes with matplotlib; imported here so other tasks never pay for it

    folder = Path(folder)
    absent = [c for c in classes if not (folder / c).is_dir()]
    if absent:
        raise DataNotFoundError(f"{folder} must hold one sub-folder per class ({', '.join(classes)}); "
                                f"missing: {', '.join(absent)}.")
    images: list[np.ndarray] = []
    labels: list[int] = []
    skipped: list[str] = []
    for index, name in enumerate(classes):
        for path in sorted((folder / name).glob("*.png")):
            try:
                with Image.open(path) as image:
                    pixels = np.asarray(image.convert("L"))  # convert() forces a full decode
            except Exception as err:  # noqa: BLE001 - any decoder failure means "unreadable", whatever its type
                skipped.append(f"{name}/{path.name}: {type(err).__name__}: {err}")
                continue
            if pixels.shape != shape:
                skipped.append(f"{name}/{path.name}: shape {pixels.shape}, expected {shape}")
                continue
            images.append(pixels)
            labels.append(index)
    if not images:
        raise DataIntegrityError(f"{folder}: no readable {shape[0]}x{shape[1]} PNG images in "
                                 f"{', '.join(classes)} ({len(skipped)} unreadable).")
    return PngFolder(np.stack(images), np.asarray(labels, np.int64), skipped)
