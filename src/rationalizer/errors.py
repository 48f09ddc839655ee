"""Errors that users see.

Every failure caused by user input is one of these, so the CLI can print a one-line message
instead of a traceback, and library users can catch one base class.
"""

from __future__ import annotations

from pathlib import Path


class RationalizerError(Exception):
    """Base class of every error caused by user input or configuration."""


class DataFormatError(RationalizerError, ValueError):
    """A file's content does not have the documented shape.

    The message always names the file, and where known the 1-based line and the field,
    e.g. ``results.jsonl, line 12, field 'rationales[0].docid': unknown docid 'x'``.
    """

    def __init__(
        self,
        path: str | Path | None,
        message: str,
        *,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        self.field = field
        self.reason = message
        where = [self.path or "<input>"]
        if line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field '{field}'")
        super().__init__(f"{', '.join(where)}: {message}")


class DatasetNotFoundError(RationalizerError, FileNotFoundError):
    """A dataset's files are not where we looked; the message says where to get them.

    ``dataset`` and ``folder`` name a registered dataset whose whole folder is missing (not
    a file missing inside a present folder), so callers such as the test suite can tell "this
    machine has no copy" apart from "this copy is broken".
    """

    def __init__(
        self, message: str, *, dataset: str | None = None, folder: Path | None = None
    ) -> None:
        self.dataset = dataset
        self.folder = folder
        super().__init__(message)

    def __str__(self) -> str:  # FileNotFoundError would otherwise format errno-style
        return str(self.args[0])


class UnknownNameError(RationalizerError, KeyError):
    """A name (dataset, metric, method...) is not registered; the message lists valid ones."""

    def __init__(self, kind: str, name: str, known: list[str] | tuple[str, ...]) -> None:
        self.kind = kind
        self.name = name
        self.known = tuple(known)
        super().__init__(f"unknown {kind} {name!r}; choose one of: {', '.join(sorted(known))}")

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])
