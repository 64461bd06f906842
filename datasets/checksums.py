"""SHA-256 digests of every data file the loaders read, and the check against them.

Paths are relative to a data dir (the layout of shared/data: `mnist/…gz`,
`notmnist_small_10k/…gz`, `sentiment/…`). The digests are those of shared/data's
SHA256SUMS; the MNIST ones equal the TFDS url_checksums of LeCun's originals.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from .errors import DataIntegrityError

SHA256 = {
    "mnist/train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "mnist/train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "mnist/t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "mnist/t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    "notmnist_small_10k/t10k-images-idx3-ubyte.gz": "70ae9e06201f2827e5b0a3781a3169d735dd2efc69996b9eeaee7f10ed4044d7",
    "notmnist_small_10k/t10k-labels-idx1-ubyte.gz": "1fa03836e01c862542f8eb83463bb951bebec6fcb3efa28dad748c6b38a9021b",
    "sentiment/amazon_multidomain_sorted_data_acl.tar.gz":
        "06a81eeec45a084c300c21567f47278674436ce43151189e3de36fb841c1add5",
    "sentiment/amazon_cells_labelled.txt": "47003fc0a0d4840b00e96e715b6189bad09e7443a3da41c4cbe12ffc79f86ae3",
    "sentiment/imdb_labelled.txt": "aef2e49e3da25714d61175e3a6e68eeef74a20a2f914318dc3be9947ea86512d",
    "sentiment/yelp_labelled.txt": "c76468b7b5c6e56a0804d728345c5f84aa2142ddb214420f61cc9cfd4c00d2ea",
}

_CHUNK = 1 << 20  # hash in 1 MiB reads so a large file never sits in memory twice


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def expected_digest(relpath: str) -> str:
    """The known digest of a data file (a KeyError here is a loader bug)."""
    return SHA256[relpath]


def verify(path: Path, relpath: str) -> str:
    """Raise DataIntegrityError unless `path` has the known digest of `relpath`; return it."""
    expected = expected_digest(relpath)
    actual = sha256_of(path)
    if actual != expected:
        size = path.stat().st_size
        raise DataIntegrityError(
            f"{path} ({size} bytes) is not the expected {relpath}: its SHA-256 is {actual}, "
            f"expected {expected}. The file is truncated, altered or a different version; "
            f"nothing was loaded from it. Delete it and provide the original file "
            f"(or let the loader download it again into the cache).")
    return actual
