"""What the fuzz tests share: their settings profile, JSON strategies, and the error contract.

The contract every reader of user files keeps: any input gives either a valid object or a
:class:`~rationalizer.errors.DataFormatError` whose one-line message names the file (and the
line where the file has lines), never another exception.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from rationalizer.errors import DataFormatError

T = TypeVar("T")

# Bounded so that the whole fuzz suite stays well under a minute, and derandomized so that the
# suite gives the same verdict on every run (a test that fails now and then is a flaky test).
# Search further and at random locally: RATIONALIZER_FUZZ_EXAMPLES=2000 RATIONALIZER_FUZZ_RANDOM=1.
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("RATIONALIZER_FUZZ_EXAMPLES", "100")),
    derandomize=not os.environ.get("RATIONALIZER_FUZZ_RANDOM"),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ = settings(settings.get_profile("fuzz"))

#: A string of every kind: control characters, non-BMP characters, lone surrogates (which JSON
#: can escape but UTF-8 cannot hold), and now and then one too long for a file name (the ERASER
#: docs/ layout makes docids file names).
any_text = st.one_of(
    st.text(max_size=12),
    st.text(st.characters(min_codepoint=0xD7F0, max_codepoint=0xE010, exclude_categories=())),
    st.text(min_size=256, max_size=300),
)

#: Any JSON value, NaN and infinities (which Python's json writes) included.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-3, max_value=12)
    | st.floats()
    | any_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every position inside a JSON value, itself included."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _paths(item, (*prefix, i))
    return found


@st.composite
def _mutated_once(draw: st.DrawFn, value: Any) -> Any:
    value = json.loads(json.dumps(value))  # a deep copy the mutation can change
    path = draw(st.sampled_from(_paths(value)))
    if not path:
        return draw(json_values)
    *parents, last = path
    parent = value
    for part in parents:
        parent = parent[part]
    action = draw(st.sampled_from(["replace", "remove", "add"]))
    if action == "replace":
        parent[last] = draw(json_values)
    elif action == "remove":
        del parent[last]
    elif isinstance(parent, dict):
        parent[draw(st.text(max_size=8))] = draw(json_values)
    else:
        parent.insert(last, draw(json_values))
    return value


@st.composite
def mutated(draw: st.DrawFn, value: Any) -> Any:
    """``value`` (a valid JSON record) with up to three parts replaced, removed or added."""
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        value = draw(_mutated_once(value))
    return value


def jsonl_lines(records: list[Any]) -> st.SearchStrategy[list[str]]:
    """The records as jsonl lines, each mutated, now and then one replaced by arbitrary text."""
    line = st.builds(
        lambda record, ascii: json.dumps(record, ensure_ascii=ascii),
        st.one_of(*[mutated(record) for record in records]),
        st.booleans(),
    )
    return st.lists(line | st.text(max_size=40), min_size=1, max_size=4)


#: Raw file content: text (JSON-looking or not) or bytes that need not be UTF-8.
raw_bytes = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass")),
    json_values.map(lambda value: json.dumps(value).encode()),
)


def write_lines(path: Path, lines: list[str]) -> dict[Path, int]:
    """``lines`` as a UTF-8 file, and the file with its line count for :func:`valid_or_error`.

    A lone surrogate (which UTF-8 cannot hold) is written as the bytes Python writes for it with
    ``surrogatepass``, so the file is not UTF-8 there.
    """
    return write_bytes(
        path, "".join(line + "\n" for line in lines).encode("utf-8", "surrogatepass")
    )


def write_bytes(path: Path, content: bytes) -> dict[Path, int]:
    """``content`` as the file ``path``, and the file with its line count (a lone ``\\r`` ends
    a line too) for :func:`valid_or_error`."""
    path.write_bytes(content)
    return {path: content.count(b"\n") + content.count(b"\r") + 1}


def valid_or_error(read: Callable[[], T], files: dict[Path, int | None]) -> T | None:
    """``read()``'s result, or None where it raised a DataFormatError that keeps the contract:
    one line, naming one of ``files``, and a line number within that file's line count (None:
    a file without lines, such as a whole-JSON document) where it gives one."""
    try:
        return read()
    except DataFormatError as error:
        message = str(error)
        assert len(message.splitlines()) == 1, error
        assert error.path in {str(path) for path in files}, error
        assert message.startswith(error.path), error
        if error.line is not None:
            lines = files[Path(error.path)]
            assert lines is not None and 1 <= error.line <= lines, error
        return None
