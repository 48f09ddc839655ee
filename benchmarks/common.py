"""How every benchmark states its run: the command a user types and the JSON it writes.

Nothing here changes a measured number, so results do not name this module in their
provenance: a change to it leaves cached cells current.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def module_command(script: Path | str) -> str:
    """``python -m benchmarks.NAME`` for the benchmark ``script`` (its module file): how a user
    runs it, which its ``--help`` shows in place of the file name."""
    return f"python -m benchmarks.{Path(script).stem}"


def command_line(script: Path | str, argv: Sequence[str] | None = None) -> str:
    """:func:`module_command` with ``argv`` (the process's arguments when None): the command
    that repeats the run, as its results record it."""
    arguments = sys.argv[1:] if argv is None else argv
    return shlex.join([*module_command(script).split(), *arguments])


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON, its folder made first; values JSON does not know (paths)
    are written as text."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
