"""A simple tokenizer and a training-split vocabulary for the token tasks.

Ids: 0 = padding, 1 = out of vocabulary, 2.. = words by falling training frequency
(ties broken alphabetically, so the vocabulary is deterministic).
"""

from __future__ import annotations

import html
import re
from collections import Counter
from typing import Iterable

import numpy as np

PAD_ID = 0  # padding after the end of a sequence
OOV_ID = 1  # any word not in the vocabulary
RESERVED = ["<pad>", "<oov>"]  # the words of ids 0 and 1
# lower-case words and numbers, keeping inner apostrophes ("don't", "it's")
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)*")


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens of `text`, HTML entities decoded, punctuation dropped."""
    return _TOKEN.findall(html.unescape(text).lower())


def build_vocab(token_lists: Iterable[list[str]], size: int) -> list[str]:
    """The `size` words of ids 0..size-1 (fewer if the texts have fewer distinct words)."""
    counts = Counter(token for tokens in token_lists for token in tokens)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return RESERVED + [word for word, _ in ranked[: max(size - len(RESERVED), 0)]]


def encode(token_lists: list[list[str]], vocab: list[str], width: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids int64 (N, width) padded with PAD_ID at the end, lengths int64 (N,)); longer texts keep their start."""
    index = {word: i for i, word in enumerate(vocab) if i >= len(RESERVED)}
    ids = np.full((len(token_lists), width), PAD_ID, np.int64)
    lengths = np.zeros(len(token_lists), np.int64)
    for row, tokens in enumerate(token_lists):
        kept = tokens[:width]
        ids[row, : len(kept)] = [index.get(token, OOV_ID) for token in kept]
        lengths[row] = len(kept)
    return ids, lengths
