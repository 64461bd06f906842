"""Read the two sentiment corpora into `Document`s (no tokenizing, no splitting).

- Amazon multi-domain reviews (Blitzer et al., ACL 2007): a tar.gz of pseudo-XML files
  `sorted_data_acl/<domain>/{positive,negative}.review`, 1,000 reviews each. Not real
  XML (no root element, bare "&"), so reviews are cut out with regular expressions.
- UCI labelled sentences (Kotzias et al., KDD 2015): three "sentence<TAB>label" files of
  1,000 lines. Lines are split on "\\n" only: imdb_labelled.txt contains U+0085, which
  `str.splitlines` would wrongly treat as a line break.
"""

from __future__ import annotations

import functools
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

from .errors import DataIntegrityError
from .files import DataSource, FoundFile

GROUP = "sentiment"  # folder in the data dir
AMAZON_ARCHIVE = "amazon_multidomain_sorted_data_acl.tar.gz"
# short name -> folder in the archive
AMAZON_DOMAINS = {"books": "books", "dvd": "dvd", "electronics": "electronics", "kitchen": "kitchen_&_housewares"}
UCI_DOMAINS = {"amazon_cells": "amazon_cells_labelled.txt", "imdb": "imdb_labelled.txt",
               "yelp": "yelp_labelled.txt"}
PER_FILE = 1000  # documents in every review file and every UCI file
HOW_TO_GET = {
    "amazon": ("The archive is shared/data/sentiment/amazon_multidomain_sorted_data_acl.tar.gz: the labelled "
               "part of sorted_data_acl from https://www.cs.jhu.edu/~mdredze/datasets/sentiment/ repackaged, "
               "so only that exact file has the expected digest."),
    "uci": ("The files come from the UCI 'Sentiment Labelled Sentences' archive "
            "(https://archive.ics.uci.edu/dataset/331/sentiment+labelled+sentences); shared/data/sentiment/ "
            "holds verified copies."),
}
_REVIEW = re.compile(r"<review>(.*?)</review>", re.S)
_FIELD = {name: re.compile(rf"<{name}>\s*(.*?)\s*</{name}>", re.S) for name in ("review_text", "rating")}


@dataclass(frozen=True)
class Document:
    """One labelled text."""

    text: str  # the review text or the sentence
    label: int  # 1 positive, 0 negative
    domain: str  # short domain name: a key of AMAZON_DOMAINS or UCI_DOMAINS
    rating: float | None  # Amazon: the review's star rating (positive 4-5, negative 1-2); UCI: None


def read_documents(corpus: str, source: DataSource) -> tuple[tuple[Document, ...], dict[str, FoundFile]]:
    """Every document of `corpus` ("amazon" or "uci") in a fixed order, and the verified files read."""
    if corpus == "amazon":
        found = source.fetch(GROUP, [AMAZON_ARCHIVE], how_to_get=HOW_TO_GET["amazon"])
        hit = found[AMAZON_ARCHIVE]
        return _read_amazon(hit.path, hit.sha256), found
    found = source.fetch(GROUP, list(UCI_DOMAINS.values()), how_to_get=HOW_TO_GET["uci"])
    docs: list[Document] = []
    for domain, name in UCI_DOMAINS.items():
        docs.extend(_read_uci(found[name].path, found[name].sha256, domain))
    return tuple(docs), found


@functools.lru_cache(maxsize=2)
def _read_amazon(path: Path, sha256: str) -> tuple[Document, ...]:
    """Domains in AMAZON_DOMAINS order, negative file before positive; cached per verified file."""
    docs: list[Document] = []
    with tarfile.open(path, "r:gz") as archive:
        for domain, folder in AMAZON_DOMAINS.items():
            for label, polarity in ((0, "negative"), (1, "positive")):
                member = f"sorted_data_acl/{folder}/{polarity}.review"
                try:
                    raw = archive.extractfile(member).read()
                except (KeyError, AttributeError):
                    raise DataIntegrityError(f"{path}: the archive lacks {member}") from None
                reviews = _REVIEW.findall(raw.decode("utf-8", errors="replace"))
                if len(reviews) != PER_FILE:
                    raise DataIntegrityError(f"{path}: {member} holds {len(reviews)} reviews, expected {PER_FILE}")
                docs.extend(Document(_field(r, "review_text", member), label, domain,
                                     float(_field(r, "rating", member))) for r in reviews)
    return tuple(docs)


def _field(review: str, name: str, member: str) -> str:
    match = _FIELD[name].search(review)
    if match is None:
        raise DataIntegrityError(f"a review in {member} has no <{name}> element")
    return match.group(1)


@functools.lru_cache(maxsize=4)
def _read_uci(path: Path, sha256: str, domain: str) -> tuple[Document, ...]:
    docs: list[Document] = []
    lines = path.read_text(encoding="utf-8").split("\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        text, sep, label = line.rpartition("\t")
        if not sep or label.strip() not in ("0", "1"):
            raise DataIntegrityError(f"{path} line {number}: expected 'sentence<TAB>0 or 1', got {line[:80]!r}")
        docs.append(Document(text.strip(), int(label), domain, None))
    if len(docs) != PER_FILE:
        raise DataIntegrityError(f"{path}: {len(docs)} sentences, expected {PER_FILE}")
    return tuple(docs)
