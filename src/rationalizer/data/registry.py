"""Dataset loaders register themselves by name; :func:`load` is the one entry point.

A loader subclasses :class:`DatasetLoader`, sets ``name`` (and ``splits``, ``info``), and
implements :meth:`DatasetLoader.load_split`. Names containing a colon (``eraser:PATH``,
``jsonl:PATH``) are parametrised: the part after the colon is passed as ``argument``.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from rationalizer.data.example import Dataset, DatasetInfo
from rationalizer.errors import DatasetNotFoundError, RationalizerError, UnknownNameError

DATA_ENV_VAR = "RATIONALIZER_DATA"
SPLITS = ("train", "validation", "test")
# Accept the names ERASER files and common habits use for the validation split.
SPLIT_ALIASES = {"val": "validation", "dev": "validation", "valid": "validation"}

_LOADERS: dict[str, type[DatasetLoader]] = {}


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """Explicit ``data_dir`` → ``$RATIONALIZER_DATA`` → ``~/.cache/rationalizer``."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "rationalizer"


def normalize_split(split: str) -> str:
    name = SPLIT_ALIASES.get(split.lower(), split.lower())
    if name not in SPLITS:
        raise UnknownNameError("split", split, SPLITS)
    return name


class DatasetLoader(ABC):
    """Base class of dataset loaders; subclasses register under their ``name``."""

    name: ClassVar[str]
    #: folder under the data directory holding this dataset's files (None: needs no files)
    folder: ClassVar[str | None] = None
    info: ClassVar[DatasetInfo]
    #: whether the name takes an argument after a colon (``eraser:PATH``)
    parametrised: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            _LOADERS[cls.name] = cls

    def __init__(self, data_dir: str | Path | None = None, argument: str | None = None) -> None:
        self.data_dir = resolve_data_dir(data_dir)
        self.argument = argument

    def root(self) -> Path:
        """The folder holding this dataset's files; a clear error when it is missing."""
        if self.folder is None:
            raise RationalizerError(f"dataset {self.name!r} needs no files")
        path = self.data_dir / self.folder
        if not path.is_dir():
            raise DatasetNotFoundError(
                f"dataset {self.name!r} not found: looked for folder {path} "
                f"(data directory from --data-dir, ${DATA_ENV_VAR} or ~/.cache/rationalizer). "
                f"Get it with `rationalizer data download {self.name} --data-dir "
                f"{self.data_dir}` (source: "
                f"{self.info.url}), or point ${DATA_ENV_VAR} at the folder that contains it.",
                dataset=self.name,
                folder=path,
            )
        return path

    @abstractmethod
    def load_split(self, split: str) -> Dataset:
        """Load one split (``train``, ``validation`` or ``test``)."""


def available_datasets() -> dict[str, DatasetInfo]:
    """Registered dataset names with their descriptions."""
    _import_builtin_loaders()
    return {name: cls.info for name, cls in sorted(_LOADERS.items())}


def loader_class(name: str) -> type[DatasetLoader]:
    """The loader registered under ``name`` (the part before any colon)."""
    _import_builtin_loaders()
    key = name.partition(":")[0]
    cls = _LOADERS.get(key)
    if cls is None:
        known = [n + (":PATH" if c.parametrised else "") for n, c in _LOADERS.items()]
        raise UnknownNameError("dataset", name, known)
    return cls


def get_loader(name: str, data_dir: str | Path | None = None) -> DatasetLoader:
    key, _, argument = name.partition(":")
    cls = loader_class(name)
    if cls.parametrised and not argument:
        raise RationalizerError(f"dataset {key!r} needs a path: use '{key}:PATH'")
    if argument and not cls.parametrised:
        raise RationalizerError(f"dataset {key!r} takes no argument, got {name!r}")
    return cls(data_dir=data_dir, argument=argument or None)


def load(name: str, split: str, data_dir: str | Path | None = None) -> Dataset:
    """Load ``split`` of dataset ``name`` (e.g. ``load("movies", "test")``)."""
    return get_loader(name, data_dir).load_split(normalize_split(split))


def _import_builtin_loaders() -> None:
    # Imported for their registration side effect.
    from rationalizer.data import (  # noqa: F401
        eraser,
        fever,
        hatexplain,
        hf,
        jsonl,
        movies,
        synthetic,
    )
