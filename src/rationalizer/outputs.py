"""Files the commands write: one writer at a time, files replaced in one step, failed writes as
one clear line.

Two processes writing the same results file or run directory would interleave their records or
mix two runs' weights, so a writer holds an exclusive lock for its whole run: ``FILE.lock`` next
to a results file, ``RUN_DIR/.lock`` in a run directory. The lock is :func:`fcntl.flock` on that
file, which the operating system releases when the holder dies, so a killed run never blocks its
own resume; the file only says who holds it (its pid), for the error the second writer gets.

A full disk or a read-only folder surfaces as an ``OSError`` deep in a write; :func:`writing`
turns it into a :class:`~rationalizer.errors.RationalizerError` naming the file, and since the
writers append records or replace whole files (:func:`write_atomic`), what was written before
stays intact for the rerun that continues it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from rationalizer.errors import RationalizerError

#: The lock file in a run directory.
RUN_LOCK = ".lock"

#: How a failed write fails: no room, no permission, a read-only or over-quota file system.
_WRITE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM}
)

#: Locks this process holds (by resolved lock path) with their descriptor and nesting depth:
#: a lock taken again inside its own block (a run directory, then the trainer in it) is shared.
_held: dict[Path, tuple[int, int]] = {}


class OutputLockedError(RationalizerError):
    """Another living process holds the lock of the output this one was asked to write."""


def lock_path(target: Path) -> Path:
    """The lock of a results file: ``FILE.lock`` beside it."""
    return target.with_name(f"{target.name}.lock")


@contextlib.contextmanager
def writing(target: str | Path, lock: str | Path | None = None) -> Iterator[None]:
    """Hold the exclusive lock of ``target`` (``lock``, default :func:`lock_path`) for the
    block, and report a write the file system refuses (full, read-only) as one line."""
    target = Path(target)
    with _reported(target), _exclusive(target, Path(lock) if lock else lock_path(target)):
        yield


@contextlib.contextmanager
def _reported(target: Path) -> Iterator[None]:
    try:
        yield
    except OSError as err:
        if err.errno not in _WRITE_ERRNOS:
            raise
        raise RationalizerError(
            f"cannot write {err.filename or target}: {err.strerror or os.strerror(err.errno)}; "
            "what was written before is kept: free space or fix the permissions and rerun the "
            "same command to continue"
        ) from None


@contextlib.contextmanager
def _exclusive(target: Path, lock: Path) -> Iterator[None]:
    key = lock.resolve()
    if key in _held:
        descriptor, depth = _held[key]
        _held[key] = descriptor, depth + 1
    else:
        _held[key] = _acquire(target, lock), 1
    try:
        yield
    finally:
        descriptor, depth = _held.pop(key)
        if depth > 1:
            _held[key] = descriptor, depth - 1
        else:
            # Removed while still held: a process that opened it meanwhile finds its lock on
            # a file no longer at the path and tries again (see _acquire).
            lock.unlink(missing_ok=True)
            os.close(descriptor)


def _acquire(target: Path, lock: Path) -> int:
    """The descriptor of ``lock``, exclusively flocked by this process, with our pid in it."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    while True:
        descriptor = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(descriptor, 64).decode("utf-8", "replace").strip()
            os.close(descriptor)
            raise OutputLockedError(
                f"{target} is being written by another process "
                f"({f'pid {holder}' if holder.isdigit() else 'pid unknown'}, lock {lock}): wait "
                "for it to finish, or write elsewhere"
            ) from None
        try:
            current = os.stat(lock)
        except FileNotFoundError:
            current = None
        if current is not None and os.path.samestat(os.fstat(descriptor), current):
            break
        os.close(descriptor)  # its holder removed it as we opened it: take the new one
    os.ftruncate(descriptor, 0)
    os.write(descriptor, f"{os.getpid()}\n".encode())
    return descriptor


def write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Write ``path`` through ``write(temporary path)`` and move it into place in one step, so
    a killed process or a full disk leaves the old file or the new one, never half of one."""
    # A fresh name in the same folder, so that the move cannot cross file systems.
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        write(temporary)
        with temporary.open("rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
