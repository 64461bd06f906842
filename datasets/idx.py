"""Read gzip-compressed IDX files (the MNIST format), checking the header against the payload.

IDX: two zero bytes, a type code (0x08 = unsigned byte, the only one MNIST-style
files use), the number of dimensions, one big-endian int32 per dimension, then the
data. A header that disagrees with the payload size is refused, never truncated or
padded.
"""

from __future__ import annotations

import functools
import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from .errors import DataIntegrityError

_UBYTE = 0x08  # IDX type code of unsigned bytes


def read_idx_gz(path: Path) -> np.ndarray:
    """The uint8 array stored in a gzip-compressed IDX file (read-only)."""
    try:
        raw = gzip.decompress(Path(path).read_bytes())
    except (OSError, EOFError, zlib.error) as err:
        raise DataIntegrityError(f"{path} is not a readable gzip file ({err}); provide the original file.") from None
    return parse_idx(raw, str(path))


def parse_idx(raw: bytes, label: str = "IDX data") -> np.ndarray:
    """The uint8 array in uncompressed IDX bytes; `label` names the source in errors."""
    if len(raw) < 4:
        raise DataIntegrityError(f"{label}: {len(raw)} bytes is too short for an IDX header.")
    zero, type_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or type_code != _UBYTE or ndim < 1:
        raise DataIntegrityError(
            f"{label}: bad IDX magic {raw[:4].hex()} (expected 0000 08 followed by the number of dimensions); "
            f"this is not an unsigned-byte IDX file.")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataIntegrityError(f"{label}: IDX header is cut short ({len(raw)} bytes, needs {header}).")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(dims, dtype=np.int64))
    actual = len(raw) - header
    if actual != expected:
        raise DataIntegrityError(
            f"{label}: the IDX header promises shape {dims} = {expected} bytes of data but the file has "
            f"{actual}; the file is truncated or altered.")
    array = np.frombuffer(raw, np.uint8, offset=header).reshape(dims)
    array.flags.writeable = False  # shared by the in-process cache
    return array


@functools.lru_cache(maxsize=8)
def read_verified_idx(path: Path, sha256: str) -> np.ndarray:
    """`read_idx_gz`, cached per (path, verified digest) so a process parses each file once."""
    return read_idx_gz(path)


def check_images(images: np.ndarray, labels: np.ndarray, label: str, rows: int = 28, cols: int = 28,
                 count: int | None = None, classes: int = 10) -> None:
    """Refuse an image/label pair whose shapes, counts or label range are not what the dataset has."""
    if images.ndim != 3 or images.shape[1:] != (rows, cols):
        raise DataIntegrityError(f"{label}: images must be (N, {rows}, {cols}), the file holds {images.shape}.")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataIntegrityError(f"{label}: {len(images)} images but labels of shape {labels.shape}.")
    if count is not None and len(images) != count:
        raise DataIntegrityError(f"{label}: expected {count} images, the file holds {len(images)}.")
    if labels.size and labels.max() >= classes:
        raise DataIntegrityError(f"{label}: labels must be 0..{classes - 1}, found {int(labels.max())}.")
