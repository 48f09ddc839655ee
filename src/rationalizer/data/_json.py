"""Strict JSON parsing whose errors name the file, line and field.

Every reader of user files (ERASER annotations, user jsonl, results files) reads them with
:func:`read_text` or :func:`numbered_lines` and parses them with :func:`parse_json`, so all of
them report bad input the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from pydantic import TypeAdapter, ValidationError

from rationalizer.errors import DataFormatError

T = TypeVar("T")

# pydantic's wording for the common problems, said in terms of the file format
_FRIENDLY_MESSAGES = {
    "missing": "required field is missing",
    "missing_argument": "required field is missing",
    "extra_forbidden": "unknown field (not part of the format)",
    "unexpected_keyword_argument": "unknown field (not part of the format)",
}


#: what ``errors="surrogateescape"`` decodes a byte that is not UTF-8 to
_UNDECODABLE = re.compile("[\udc80-\udcff]")


def checked_utf8(text: str, path: str | Path | None, *, line: int = 1) -> str:
    """``text``, read with ``errors="surrogateescape"``, if every byte of it was UTF-8.

    Python's own decoding error names a byte offset into a read buffer, not the file's line;
    this one names the line (``text`` starts on ``line``) and the byte.
    """
    bad = _UNDECODABLE.search(text)
    if bad is None:
        return text
    line += text.count("\n", 0, bad.start())
    byte = ord(bad.group()) - 0xDC00
    raise DataFormatError(path, f"not UTF-8 text (byte 0x{byte:02X})", line=line)


def read_text(path: Path) -> str:
    """A whole UTF-8 file (universal newlines)."""
    return checked_utf8(path.read_text(encoding="utf-8", errors="surrogateescape"), path)


def numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The 1-based number and the text of every non-blank line of a UTF-8 file."""
    with path.open(encoding="utf-8", errors="surrogateescape") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, checked_utf8(line, path, line=number)


#: characters that keep a key from being written plainly in a field path
_NOT_PLAIN = re.compile(r"[\s.\[\]'\"]")


def field_path(loc: Sequence[str | int]) -> str:
    """``('rationales', 0, 'docid')`` → ``'rationales[0].docid'``.

    A key from the file (a label in a scores object, a misspelt field) that is empty, has
    whitespace, brackets, dots, quotes or unprintable characters is quoted as Python quotes it,
    ``scores['a b']``, so that a line break in it cannot break the one-line message.
    """
    out = ""
    for part in loc:
        if isinstance(part, int) or not part.isprintable() or _NOT_PLAIN.search(part or " "):
            out += f"[{part!r}]"
        else:
            out += f".{part}" if out else part
    return out


def parse_json(
    adapter: TypeAdapter[T], data: str | bytes, path: str | Path | None, *, line: int | None = None
) -> T:
    """Parse and type-check JSON (a whole file, or one jsonl ``line``).

    The first problem becomes a :class:`DataFormatError` naming file, line and field.
    """
    try:
        return adapter.validate_json(data.rstrip() if line is not None else data)
    except ValidationError as exc:
        err = exc.errors()[0]
        if err["type"] == "json_invalid":
            message = err["msg"]
            if line is not None:  # the parser numbers lines within the one line it was given
                message = re.sub(r" at line 1 column (\d+)", r" at column \1", message)
            raise DataFormatError(path, f"not valid JSON ({message})", line=line) from None
        if err["type"] == "value_error":  # our own validators' messages, without pydantic's prefix
            message = str(err["ctx"]["error"])
        else:
            message = _FRIENDLY_MESSAGES.get(err["type"], err["msg"])
        raise DataFormatError(
            path, message, line=line, field=field_path(err["loc"]) or None
        ) from None
