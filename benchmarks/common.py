"""How benchmarks state their runs: the command a user types, the machine and code lines of a
report, and the JSON they write.

Nothing here changes a measured number, so results do not name this module in their
provenance: a change to it leaves cached cells current.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rationalizer._environment import code_text

#: Where each benchmark writes its committed results, and its git-ignored runs and models.
RESULTS_DIR = Path(__file__).resolve().parent / "results"
CACHE_ROOT = Path(__file__).resolve().parent / ".cache"


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


def machine_and_code_lines(result: Mapping[str, Any], libraries: Sequence[str]) -> list[str]:
    """The closing Markdown lines of a timing report: the machine, with the versions of the
    ``libraries`` that did the timed work, and the code that made ``result``."""
    machine = result["machine"]
    versions = ", ".join(f"{name} {machine[name]}" for name in libraries)
    return [
        f"Machine: {machine['platform']}, {machine['processor']}, {machine['cpu_count']} CPUs "
        f"({machine['usable_cpus']} usable); Python {machine['python']}, {versions}.",
        "",
        f"Code: {code_text(result.get('provenance'))}.",
        "",
    ]
