"""Strict JSON parsing whose errors name the file, line and field.

Every reader of user files (ERASER annotations, user jsonl, results files) goes through
:func:`parse_json`, so all of them report bad input the same way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
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


def field_path(loc: Sequence[str | int]) -> str:
    """``('rationales', 0, 'docid')`` → ``'rationales[0].docid'``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
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
