"""How benchmarks state their runs: the command a user types, the machine and code lines of a
report, and the JSON they write.

Nothing here changes a measured number, so results do not name this module in their
provenance: a change to it leaves cached cells current.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rationalizer._environment import code_text
from rationalizer.errors import RationalizerError
from rationalizer.outputs import write_atomic

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


def read_json(path: Path) -> Any:
    """The JSON at ``path``, or None where there is no file yet (a cache not filled)."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise RationalizerError(f"{path}: invalid JSON at line {err.lineno}: {err.msg}") from None


def write_json(path: Path, data: Any, *, sort_keys: bool = False) -> None:
    """Write ``data`` as indented JSON in one step (a killed run leaves the file whole or
    absent), its folder made first; values JSON does not know (paths) are written as text."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2, default=str, sort_keys=sort_keys) + "\n"
    write_atomic(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def cpu_text(machine: Mapping[str, Any]) -> str:
    """The CPU of a result's machine for Markdown: its model and numeric instruction sets, or
    the bare architecture for results recorded before those were."""
    if not machine.get("cpu"):
        return str(machine["processor"])
    features = machine.get("cpu_features") or []
    return f"{machine['cpu']} ({', '.join(features)})" if features else str(machine["cpu"])


def machine_and_code_lines(result: Mapping[str, Any], libraries: Sequence[str]) -> list[str]:
    """The closing Markdown lines of a timing report: the machine, with the versions of the
    ``libraries`` that did the timed work, and the code that made ``result``."""
    machine = result["machine"]
    versions = ", ".join(f"{name} {machine[name]}" for name in libraries)
    return [
        f"Machine: {machine['platform']}, {cpu_text(machine)}, {machine['cpu_count']} CPUs "
        f"({machine['usable_cpus']} usable); Python {machine['python']}, {versions}.",
        "",
        f"Code: {code_text(result.get('provenance'))}.",
        "",
    ]


#: Fields of /proc/stat's ``cpu`` line that count as busy: user, nice, system, irq, softirq,
#: steal (idle and iowait are not).
_BUSY_FIELDS = (0, 1, 2, 5, 6, 7)


@dataclass(frozen=True)
class CpuSnapshot:
    """What the CPUs had done up to a moment: every process's busy seconds (None where the
    system does not say, off Linux), this process tree's own, and the wall clock."""

    machine_busy: float | None
    own: float
    wall: float


def _descendants_cpu_seconds(root: int) -> float:
    """Busy seconds of the live processes below ``root`` (servers and their workers a benchmark
    started), from ``/proc``; 0 where the system does not say."""
    children: dict[int, list[int]] = {}
    seconds: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # the command name in brackets may hold spaces: the fields start after its ")"
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while we read
        pid = int(stat.parent.name)
        children.setdefault(int(fields[1]), []).append(pid)
        seconds[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    total, pending = 0.0, list(children.get(root, []))
    while pending:
        pid = pending.pop()
        total += seconds[pid]
        pending += children.get(pid, [])
    return total


def cpu_snapshot() -> CpuSnapshot:
    """The CPU time used so far, by the whole machine and by this process tree: this process
    (all its threads), its children that have ended, and those still running."""
    times = os.times()
    own = times.user + times.system + times.children_user + times.children_system
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        ticks = sum(int(fields[i]) for i in _BUSY_FIELDS)
        busy: float | None = ticks / os.sysconf("SC_CLK_TCK")
        own += _descendants_cpu_seconds(os.getpid())
    except (OSError, ValueError, IndexError):
        busy = None
    return CpuSnapshot(busy, own, time.monotonic())


def other_busy_cpus(start: CpuSnapshot, end: CpuSnapshot) -> float | None:
    """How many CPUs processes outside the benchmark's tree kept busy on average between two
    snapshots: the load a timing shared the machine with (0 on an otherwise idle machine;
    None where unknown)."""
    wall = end.wall - start.wall
    if start.machine_busy is None or end.machine_busy is None or wall <= 0:
        return None
    other = (end.machine_busy - start.machine_busy) - (end.own - start.own)
    return max(other, 0.0) / wall


def load_sentence(other_cpus: float | None, usable_cpus: int) -> str:
    """What a report says about the machine's other load during its timing."""
    if other_cpus is None:
        return "Other load on the machine during the timing was not measured."
    if other_cpus < 0.1:
        return (
            f"The machine was otherwise idle during the timing (other processes kept "
            f"{other_cpus:.2f} CPUs busy on average)."
        )
    return (
        f"The machine was **shared**: other processes kept {other_cpus:.1f} of its "
        f"{usable_cpus} usable CPUs busy on average during the timing, so absolute numbers are "
        "noisy."
    )
