"""Sentiment from the real Amazon reviews and UCI sentences: parsing, token ids, vocabulary, splits."""

from collections import Counter

import numpy as np
import pytest

import datasets
from datasets import OptionError
from datasets.files import DataSource
from datasets.sentiment_files import read_documents
from datasets.text import OOV_ID, PAD_ID, tokenize
from datasets_fixtures import require_data

AMAZON = ["sentiment/amazon_multidomain_sorted_data_acl.tar.gz"]
UCI = ["sentiment/amazon_cells_labelled.txt", "sentiment/imdb_labelled.txt", "sentiment/yelp_labelled.txt"]
MAX_LEN = 120  # short enough that many reviews are cut, long enough to keep the test fast


@pytest.fixture(scope="module")
def amazon_dir():
    return require_data(*AMAZON)


@pytest.fixture(scope="module")
def uci_dir():
    return require_data(*UCI)


@pytest.fixture(scope="module")
def amazon_docs(amazon_dir):
    return read_documents("amazon", DataSource.from_env(amazon_dir, download=False))[0]


@pytest.fixture(scope="module")
def amazon(amazon_dir):
    return datasets.load("sentiment", data_dir=amazon_dir, max_len=MAX_LEN, seed=0)


def test_amazon_reviews_are_read_with_labels_matching_their_stars(amazon_docs):
    assert len(amazon_docs) == 8000
    counts = Counter((d.domain, d.label) for d in amazon_docs)
    assert counts == {(domain, label): 1000 for domain in ("books", "dvd", "electronics", "kitchen")
                      for label in (0, 1)}
    # the label comes from the file name, the rating from inside the review: they must agree
    assert all(d.rating >= 4 for d in amazon_docs if d.label == 1)
    assert all(d.rating <= 2 for d in amazon_docs if d.label == 0)
    assert any("Sphere by Michael Crichton" in d.text for d in amazon_docs if d.domain == "books")
    assert not any("<" in d.text and "review_text>" in d.text for d in amazon_docs)


def test_amazon_task_is_padded_token_ids(amazon):
    assert (amazon.kind, amazon.num_outputs, amazon.input_size, amazon.seq_len) == ("classify", 2, None, None)
    assert amazon.vocab_size == 10000 and len(amazon.vocab) == amazon.vocab_size
    assert amazon.vocab[:2] == ["<pad>", "<oov>"]
    for split in ("train", "val", "test"):
        x, y, lengths = amazon.split(split)
        assert x.dtype == np.int64 and x.shape[1] == MAX_LEN
        assert lengths.max() <= MAX_LEN and lengths.min() >= 1
        steps = np.arange(x.shape[1])
        assert (x[steps >= lengths[:, None]] == PAD_ID).all()  # padding only at the end
        assert (x[steps < lengths[:, None]] != PAD_ID).all()
        assert abs(y.mean() - 0.5) < 0.05  # stratified: classes stay balanced
    assert amazon.info["truncated_texts"] > 0


def test_amazon_ids_decode_to_the_reviews_first_tokens(amazon, amazon_docs):
    for split in ("train", "test"):
        x, y, lengths = amazon.split(split)
        for i in range(0, len(x), 397):
            doc = amazon_docs[amazon.indices[split][i]]
            words = [w if w in amazon.vocab else "<oov>" for w in tokenize(doc.text)[:MAX_LEN]]
            assert [amazon.vocab[t] for t in x[i, : lengths[i]]] == words
            assert y[i] == doc.label


def test_splits_are_disjoint_texts_stratified_by_domain(amazon, amazon_docs):
    seen = set()
    for split in ("train", "val", "test"):
        keys = {tuple(tokenize(amazon_docs[r].text)) for r in amazon.indices[split]}
        assert len(keys) == len(amazon.indices[split])  # duplicates were dropped
        assert not keys & seen
        seen |= keys
    test_domains = Counter(amazon_docs[r].domain for r in amazon.indices["test"])
    assert max(test_domains.values()) - min(test_domains.values()) <= 0.05 * len(amazon.indices["test"])
    assert amazon.info["duplicates_dropped"] == 8000 - sum(amazon.sizes().values())


def test_vocabulary_comes_from_the_training_split_only(uci_dir):
    task = datasets.load("sentiment", source="uci", data_dir=uci_dir, vocab_size=10**6)
    assert (task.x_train == OOV_ID).sum() == 0  # every training word made it into the vocabulary
    assert (task.x_test == OOV_ID).sum() > 0  # words seen only in test are out of vocabulary
    assert task.vocab_size < 10**6  # sized to the words actually present
    small = datasets.load("sentiment", source="uci", data_dir=uci_dir, vocab_size=50)
    assert small.vocab_size == 50 and small.x_train.max() == 49
    assert small.vocab[2:5] == ["the", "and", "i"]  # most frequent words first


def test_uci_source_and_domains(uci_dir):
    task = datasets.load("sentiment", source="uci", data_dir=uci_dir)
    total = sum(task.sizes().values())
    assert total == 3000 - task.info["duplicates_dropped"]
    assert task.info["texts_read"] == 3000
    labels = np.concatenate([task.y_train, task.y_val, task.y_test])
    assert abs(labels.mean() - 0.5) < 0.01
    yelp = datasets.load("sentiment", source="uci", data_dir=uci_dir, domains=["yelp"], max_len=16)
    assert yelp.info["texts_read"] == 1000 and yelp.x_train.shape[1] == 16
    assert yelp.readout is None  # a dense head on the last step, unless a ReLU is asked for
    assert datasets.load("sentiment", source="uci", data_dir=uci_dir, readout="relu_dense").readout == "relu_last"


@pytest.mark.parametrize("options, message", [
    ({"source": "imdb"}, "source must be one of"),
    ({"domains": ["books"], "source": "uci"}, "domains of source 'uci' must be a non-empty subset"),
    ({"vocab_size": 2}, "vocab_size must be at least 3"),
    ({"readout": "softmax"}, "readout must be one of dense, relu_dense"),
])
def test_bad_options(options, message):
    with pytest.raises(OptionError, match=message):
        datasets.load("sentiment", **options)
