"""The JSON files rationalizer writes and reads back: one envelope, one writer, one reader.

Every such file is one JSON object ``{"format": "rationalizer.<kind>", "version": N, ...}``
with the payload's fields beside the two envelope fields, so a file says what it is and which
layout it has, and a newer layout is refused with a clear message instead of being misread.
:data:`KINDS` is the one place that lists each kind's current version and how to read its older
versions: files written before the envelope existed (no ``format``, or no ``version``) are
version 0 of their kind, the legacy ``format_version`` key stands for ``version``, and the
shortcut report's old ``format`` name and nested ``report`` object are upgraded on reading.

Not enveloped, because their format is someone else's or not a single JSON object: ERASER
results files and the ``metrics.jsonl`` log (JSON lines), a transformer's Hugging Face
``config.json``, model cards, and ``train.json``, a settings file for ``rationalizer train
--config`` that people write by hand as well (JSON or TOML).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import TypeAdapter

from rationalizer.data._json import parse_json, read_text
from rationalizer.errors import DataFormatError
from rationalizer.outputs import write_atomic

T = TypeVar("T")

#: The prefix of every envelope's ``format``.
FORMAT_PREFIX = "rationalizer."
#: The envelope's own fields, never part of a payload.
ENVELOPE_FIELDS = frozenset({"format", "version"})

#: Turns one version's payload into the next version's; a DataFormatError it raises names the
#: field, and the reader adds the file.
Upgrade = Callable[[dict[str, Any]], dict[str, Any]]


def _unchanged(payload: dict[str, Any]) -> dict[str, Any]:
    """An upgrade for a version whose payload reads as the next one (only the envelope or
    defaults for newer fields differ)."""
    return payload


def _unnest_report(payload: dict[str, Any]) -> dict[str, Any]:
    """Shortcut reports up to version 3 kept the report in a nested ``report`` object."""
    report = payload.pop("report", None)
    if not isinstance(report, dict):
        raise DataFormatError(
            None, "expected the report object of a version 3 file", field="report"
        )
    return report | payload


@dataclass(frozen=True)
class FileKind:
    """One kind of file: its current version and, for each older version still readable, the
    function that turns that version's payload into the next version's."""

    version: int
    upgrades: Mapping[int, Upgrade] = field(default_factory=dict)
    #: the ``format`` this kind was written with before the ``rationalizer.<kind>`` names
    legacy_format: str | None = None

    def reads_unenveloped(self) -> bool:
        """Whether files of this kind were once written without any envelope (version 0)."""
        return 0 in self.upgrades


#: Every kind of file, with its current version and how to read older ones.
KINDS: Mapping[str, FileKind] = {
    "run": FileKind(1),  # config.json of a run directory
    "resume": FileKind(1),  # resume.json of an interrupted run
    "word-vocabulary": FileKind(1),  # vocab.json of a GloVe model
    "summary": FileKind(1, {0: _unchanged}),  # summary.json of a finished run
    # shortcuts.json; version 1 had no rank_by, versions 1-2 no label-skew filter, versions 1-4
    # no evidence rates, versions 1-5 no evidence filter (defaults)
    "shortcut-report": FileKind(
        6,
        {1: _unchanged, 2: _unchanged, 3: _unnest_report, 4: _unchanged, 5: _unchanged},
        legacy_format="rationalizer-shortcut-report",
    ),
    "discovery-scores": FileKind(1, {0: _unchanged}),  # shortcut-discovery-scores.json
    "evaluation": FileKind(1, {0: _unchanged}),  # evaluate --json, a saved model's evaluation
    "data-stats": FileKind(1),  # data stats --json
    "download": FileKind(1, {0: _unchanged}),  # the marker of a downloaded dataset folder
    "download-progress": FileKind(1, {0: _unchanged}),  # the sidecar of a partial download
}


def format_name(kind: str) -> str:
    """The ``format`` value of ``kind``'s files."""
    return f"{FORMAT_PREFIX}{kind}"


def write_json(
    path: str | Path, kind: str, payload: Mapping[str, Any], *, version: int | None = None
) -> Path:
    """Write ``payload`` in ``kind``'s envelope (its current version unless ``version``),
    replacing ``path`` in one step so that a reader never sees half a file."""
    path = Path(path)
    clash = ENVELOPE_FIELDS & payload.keys()
    if clash:
        raise ValueError(f"payload fields {sorted(clash)} would overwrite the envelope")
    if version is None:
        version = KINDS[kind].version
    envelope = {"format": format_name(kind), "version": version}
    text = json.dumps(envelope | dict(payload), indent=2, ensure_ascii=False) + "\n"
    write_atomic(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))
    return path


def read_json(path: str | Path, kind: str) -> dict[str, Any]:
    """The payload of ``kind``'s file at ``path``, upgraded to the current version.

    Raises :class:`DataFormatError` naming the file (and the field) for a file that cannot be
    read, is not JSON or not an object, is of another kind, or comes from a newer version of
    rationalizer than this one.
    """
    path = Path(path)
    try:
        text = read_text(path)
    except FileNotFoundError:
        raise DataFormatError(path, "no such file") from None
    except OSError as err:
        raise DataFormatError(path, f"cannot read ({err.strerror})") from None
    try:
        content = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataFormatError(path, f"not valid JSON ({err.msg})", line=err.lineno) from None
    except RecursionError:
        raise DataFormatError(path, "not valid JSON (nested too deeply)") from None
    return _payload(content, path, kind)


def parsed_payload(content: Any, kind: str, source: str | Path) -> dict[str, Any]:
    """The payload of ``kind``'s file content parsed already (``json.load`` of a file, or the
    same object built in memory), checked and upgraded as :func:`read_json` does; errors name
    ``source``."""
    return _payload(content, Path(source), kind)


def _payload(content: Any, path: Path, kind: str) -> dict[str, Any]:
    """``content`` without its envelope, checked against ``kind`` and upgraded."""
    expected = KINDS[kind]
    if not isinstance(content, dict):
        raise DataFormatError(
            path,
            f"expected a JSON object (a rationalizer {kind} file), found {_json_type(content)}",
        )
    payload = dict(content)
    if ENVELOPE_FIELDS.isdisjoint(payload) and expected.reads_unenveloped():
        version = 0
    else:
        found = payload.pop("format", None)
        if found is None or found not in (format_name(kind), expected.legacy_format):
            raise DataFormatError(
                path,
                f"not a rationalizer {kind} file (expected {format_name(kind)!r}, found {found!r})",
                field="format",
            )
        version = payload.pop("version", payload.pop("format_version", 0))
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise DataFormatError(path, f"expected a whole number, found {version!r}", field="version")
    if version > expected.version:
        raise DataFormatError(
            path,
            f"written by a newer rationalizer ({kind} version {version}; this one reads up to "
            f"version {expected.version}): upgrade rationalizer to read it",
            field="version",
        )
    for older in range(version, expected.version):
        if older not in expected.upgrades:
            raise DataFormatError(
                path,
                f"{kind} version {older} is no longer readable (this version of rationalizer "
                f"reads versions {_readable(expected)})",
                field="version",
            )
        try:
            payload = expected.upgrades[older](payload)
        except DataFormatError as err:  # raised without the path, which only the reader knows
            raise DataFormatError(path, err.reason, field=err.field) from None
    return payload


def validated(adapter: TypeAdapter[T], payload: Mapping[str, Any], path: str | Path) -> T:
    """``payload`` checked by ``adapter`` as the JSON it was read from (strict types read
    arrays as tuples there); the first problem names the file and the field."""
    return parse_json(adapter, json.dumps(payload), path)


def file_kind(path: str | Path) -> str | None:
    """The kind an enveloped file at ``path`` declares (current or legacy ``format`` name), or
    None for a missing, unreadable, non-JSON or foreign file: for recognising inputs by their
    content."""
    try:
        content = json.loads(read_text(Path(path)))
    except (OSError, ValueError, RecursionError):
        return None
    return declared_kind(content)


def declared_kind(content: Any) -> str | None:
    """The kind parsed JSON ``content`` declares in its ``format``, or None."""
    found = content.get("format") if isinstance(content, dict) else None
    if found is None:
        return None
    return next(
        (kind for kind, spec in KINDS.items() if found in (format_name(kind), spec.legacy_format)),
        None,
    )


def _readable(kind: FileKind) -> str:
    return ", ".join(str(v) for v in (*sorted(kind.upgrades), kind.version))


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )
