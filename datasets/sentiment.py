"""`sentiment`: positive/negative text classification over token ids.

Pipeline: read the corpus, tokenize, drop empty and duplicate texts (so no text is in
two splits), split stratified by domain and label, build the vocabulary from the
training split only, encode to int64 ids (0 padding, 1 out of vocabulary) cut to
`max_len` tokens and padded at the END; `lengths_*` give the true lengths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import OptionError
from .files import DataSource
from .registry import register
from .sentiment_files import AMAZON_DOMAINS, UCI_DOMAINS, Document, read_documents
from .splits import check_fraction, three_way
from .task import Task
from .text import OOV_ID, build_vocab, encode, tokenize

CORPORA = {"amazon": AMAZON_DOMAINS, "uci": UCI_DOMAINS}
SOURCES = {
    "amazon": "Multi-Domain Sentiment Dataset, sorted_data_acl labelled reviews (Blitzer, Dredze, Pereira, ACL 2007)",
    "uci": "Sentiment Labelled Sentences (Kotzias et al., KDD 2015), UCI, CC BY 4.0",
}
READOUTS = {"dense": None, "relu_dense": "relu_last"}  # the readout option -> Task.readout (None: a dense head)


@dataclass(frozen=True)
class SentimentOptions:
    """Options of the `sentiment` task."""

    source: str = "amazon"  # "amazon": 8,000 product reviews; "uci": 3,000 short sentences (small variant)
    domains: tuple[str, ...] | None = None  # subset of the corpus's domains (see CORPORA); None: all
    vocab_size: int = 10000  # ids in all, including 0 (padding) and 1 (out of vocabulary)
    max_len: int = 200  # tokens kept per text (its first ones)
    test_fraction: float = 0.2  # share of the texts held out for test
    val_fraction: float = 0.1  # share of the remaining texts held out for validation
    # "dense": a dense layer reads the last valid step; "relu_dense": the same on its ReLU (a source's head)
    readout: str = "dense"

    def __post_init__(self) -> None:
        if self.source not in CORPORA:
            raise OptionError(f"source must be one of {sorted(CORPORA)}, got {self.source!r}")
        valid = CORPORA[self.source]
        if self.domains is not None:
            unknown = sorted(set(self.domains) - set(valid))
            if unknown or not self.domains:
                raise OptionError(f"domains of source {self.source!r} must be a non-empty subset of "
                                  f"{list(valid)}; got {list(self.domains)}")
        if self.vocab_size < 3:
            raise OptionError(f"vocab_size must be at least 3 (padding, out-of-vocabulary, one word), "
                              f"got {self.vocab_size}")
        if self.max_len < 1:
            raise OptionError(f"max_len must be at least 1, got {self.max_len}")
        check_fraction("test_fraction", self.test_fraction)
        check_fraction("val_fraction", self.val_fraction)
        if self.readout not in READOUTS:
            raise OptionError(f"readout must be one of {', '.join(READOUTS)}, got {self.readout!r}")


@register("sentiment", SentimentOptions,
          "binary sentiment of Amazon reviews (4 domains) or UCI sentences, token ids", needs_files=True)
def load_sentiment(options: SentimentOptions, source: DataSource, seed: int) -> Task:
    """The sentiment task; `indices` are positions in `read_documents(options.source, ...)`."""
    docs, found = read_documents(options.source, source)
    domains = list(CORPORA[options.source]) if options.domains is None else list(options.domains)
    tokens = [tokenize(doc.text) for doc in docs]
    rows, counts = _distinct_rows(docs, tokens, set(domains))
    strata = np.asarray([domains.index(d.domain) * 2 + d.label if d.domain in domains else -1 for d in docs])
    split = three_way(rows, options.test_fraction, options.val_fraction, seed, strata)
    cut = [t[: options.max_len] for t in tokens]
    vocab = build_vocab((cut[r] for r in split["train"]), options.vocab_size)
    width = max(len(cut[r]) for r in rows)
    labels = np.asarray([d.label for d in docs], np.int64)
    arrays = {}
    oov = {}
    for name, picked in split.items():
        ids, lengths = encode([cut[r] for r in picked], vocab, width)
        arrays[f"x_{name}"], arrays[f"y_{name}"], arrays[f"lengths_{name}"] = ids, labels[picked], lengths
        oov[name] = round(float((ids == OOV_ID).sum() / lengths.sum()), 4)
    info = {
        "source": SOURCES[options.source],
        "files": {f.relpath: {"path": str(f.path), "sha256": f.sha256, "origin": f.origin} for f in found.values()},
        "domains": domains,
        **counts,
        "truncated_texts": int(sum(len(tokens[r]) > options.max_len for r in rows)),
        "oov_rate": oov,
        "padding": "id 0 at the end; lengths give the valid steps",
    }
    return Task(name="sentiment", kind="classify", num_outputs=2, input_size=None, seq_len=None,
                vocab_size=len(vocab), vocab=vocab, indices=split, info=info, readout=READOUTS[options.readout],
                **arrays)


def _distinct_rows(docs: tuple[Document, ...], tokens: list[list[str]],
                   domains: set[str]) -> tuple[np.ndarray, dict[str, int]]:
    """Rows of the chosen domains with a non-empty token list seen for the first time."""
    first_label: dict[tuple[str, ...], int] = {}
    rows: list[int] = []
    empty = duplicates = conflicting = 0
    for row, (doc, toks) in enumerate(zip(docs, tokens)):
        if doc.domain not in domains:
            continue
        if not toks:
            empty += 1
            continue
        key = tuple(toks)
        if key in first_label:
            duplicates += 1
            conflicting += first_label[key] != doc.label
            continue
        first_label[key] = doc.label
        rows.append(row)
    counts = {"texts_read": sum(d.domain in domains for d in docs), "empty_dropped": empty,
              "duplicates_dropped": duplicates, "duplicates_with_other_label": conflicting}
    return np.asarray(rows, np.int64), counts
