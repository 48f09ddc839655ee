"""Faults injected at the point a command writes a file, not at a moment in time.

:func:`failing_writes` makes every ``Path.open(..., "a")`` of one file name return a file that
writes ``records`` complete lines, then calls ``fail(handle, next_line)``: raise an ``OSError``
(a full disk), or write part of the line and kill the process (see the ``__main__`` block).
:func:`held_elsewhere` is a second process holding an output's lock.

Run as a script, ``python -m tests.cli.faults FILE_NAME RECORDS CUT ARGS...`` runs
``rationalizer ARGS`` in this process, which writes RECORDS lines to FILE_NAME, then the first
CUT characters of the next one, and dies by SIGKILL: a kill -9 in the middle of a record.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

Fail = Callable[[Any, str], None]


class FailingFile:
    """A text file that writes ``records`` lines, then calls ``fail`` with the next one."""

    def __init__(self, handle, records: int, fail: Fail) -> None:
        self.handle = handle
        self.left = records
        self.fail = fail

    def write(self, text: str) -> int:
        for line in text.splitlines(keepends=True):
            if self.left == 0:
                self.fail(self.handle, line)
            self.handle.write(line)
            self.left -= line.endswith("\n")
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str):
        return getattr(self.handle, name)

    def __enter__(self) -> FailingFile:
        return self

    def __exit__(self, *exc) -> None:
        self.handle.__exit__(*exc)


@contextlib.contextmanager
def failing_writes(name: str, records: int, fail: Fail) -> Iterator[None]:
    """Appends to files called ``name`` fail after ``records`` lines (see :class:`FailingFile`)."""
    real = pathlib.Path.open

    def patched(self, mode="r", *args, **kwargs):
        handle = real(self, mode, *args, **kwargs)
        return FailingFile(handle, records, fail) if self.name == name and "a" in mode else handle

    pathlib.Path.open = patched
    try:
        yield
    finally:
        pathlib.Path.open = real


def cut_and_kill(cut: int) -> Fail:
    """Write the first ``cut`` characters of the line, flush, and die by SIGKILL."""

    def fail(handle, line: str) -> None:
        handle.write(line[:cut])
        handle.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    return fail


@contextlib.contextmanager
def held_elsewhere(target: Path, lock: Path) -> Iterator[subprocess.Popen]:
    """Another process holds the lock ``lock`` of ``target`` (``rationalizer.outputs.writing``)
    for the block; yields that process, which lets go and ends when the block does."""
    code = (
        "import sys; from rationalizer.outputs import writing\n"
        "with writing(sys.argv[1], sys.argv[2]):\n"
        "    print('held', flush=True); sys.stdin.read()"
    )
    command = [sys.executable, "-c", code, str(target), str(lock)]
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as child:
        try:
            assert child.stdout.readline() == "held\n"
            yield child
        finally:
            child.communicate(timeout=120)  # closes its stdin: it lets go and ends


if __name__ == "__main__":
    name, records, cut, *arguments = sys.argv[1:]
    from rationalizer.cli import main

    sys.argv = ["rationalizer", *arguments]
    with failing_writes(name, int(records), cut_and_kill(int(cut))):
        main()
