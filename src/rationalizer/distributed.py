"""One process or several: devices and the torch.distributed plumbing of train, predict, explain.

``torchrun --standalone --nproc-per-node N -m rationalizer train ...`` starts N processes and
tells each its ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE`` (and where rank 0 listens).
:func:`session` reads them, joins the process group (gloo on CPU, NCCL on CUDA) and leaves it
at the end. Without those variables it is one process of one, joins nothing and needs no
torchrun: everything the commands did before multi-process support runs exactly as it did.

A process group waits at most ``RATIONALIZER_DIST_TIMEOUT`` seconds (default 1800) for the
others at a collective step; a process that dies or hangs makes the others stop with a
:class:`RationalizerError` saying so (:func:`guard`), never wait for ever.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from rationalizer.errors import RationalizerError
from rationalizer.outputs import RUN_LOCK, write_atomic, writing

TIMEOUT_ENV = "RATIONALIZER_DIST_TIMEOUT"
DEFAULT_TIMEOUT_SECONDS = 1800.0
DEVICE_KINDS = ("cpu", "cuda", "cuda:N", "mps")

T = TypeVar("T")


@dataclass(frozen=True)
class Context:
    """This process's place among the processes of one launch, and the device it computes on."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes files, logs and progress bars."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


_SINGLE = Context()
_current = _SINGLE


def current() -> Context:
    """The context of the running :func:`session` (one process of one outside any)."""
    return _current


def is_main() -> bool:
    return _current.is_main


def available_devices() -> list[str]:
    """The devices this machine can compute on, for error messages."""
    found = ["cpu"]
    if torch.cuda.is_available():
        found += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        found.append("mps")
    return found


def resolve_device(name: str | torch.device | None, flag: str = "--device") -> torch.device:
    """The torch device ``name`` (default cpu) for this process, checked to exist here.

    In a multi-process launch ``cuda`` means this process's own GPU, ``cuda:LOCAL_RANK``; an
    explicit index would put every process on the same GPU and is refused. ``flag`` names the
    option in error messages.
    """
    text = "cpu" if name is None else str(name)
    try:
        device = torch.device(text)
    except RuntimeError:
        raise RationalizerError(
            f"{flag} {text!r} is not a device: use one of {', '.join(DEVICE_KINDS)}"
        ) from None
    context = current()
    if device.type == "cuda" and context.distributed:
        if device.index is not None:
            raise RationalizerError(
                f"{flag} {text}: with {context.world_size} processes give plain 'cuda'; each "
                "process then takes the GPU of its local rank (cuda:LOCAL_RANK)"
            )
        device = torch.device("cuda", context.local_rank)
    available = available_devices()
    if device.type == "cuda":
        usable = torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count()
    else:
        usable = device.type in available and device.index in (None, 0)
    if not usable:
        raise RationalizerError(
            f"{flag} {text}: this machine has no such device; available: {', '.join(available)}"
        )
    return device


def timeout() -> datetime.timedelta:
    """How long a process waits for the others at a collective step (``RATIONALIZER_DIST_TIMEOUT``
    seconds)."""
    raw = os.environ.get(TIMEOUT_ENV)
    try:
        seconds = DEFAULT_TIMEOUT_SECONDS if raw is None else float(raw)
    except ValueError:
        seconds = -1.0
    if seconds <= 0:
        raise RationalizerError(f"{TIMEOUT_ENV}={raw!r}: give a positive number of seconds")
    return datetime.timedelta(seconds=seconds)


def _launch_context() -> Context:
    """The rank and world size torchrun (or any launcher setting its variables) gave us."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise RationalizerError(
            "RANK, LOCAL_RANK and WORLD_SIZE must be whole numbers (set by torchrun)"
        ) from None
    if world < 1 or not 0 <= rank < world:
        raise RationalizerError(f"rank {rank} of a world of {world} processes makes no sense")
    return Context(rank=rank, world_size=world, local_rank=local)


@contextlib.contextmanager
def session(device: str | None = None) -> Iterator[Context]:
    """Join the launch's process group for the block (nothing to join for one process).

    ``device`` picks the backend: NCCL for CUDA, gloo for everything else. A process group the
    caller set up already is used as it is. Sessions nest: an inner one is the outer one.
    """
    global _current
    context = _launch_context()
    if not context.distributed or _current.distributed:
        yield _current if _current.distributed else context
        return
    own = not dist.is_initialized()  # else the caller's: used, and left to the caller
    if own:
        wait = timeout()
        backend = "nccl" if torch.device(device or "cpu").type == "cuda" else "gloo"
        try:
            dist.init_process_group(
                backend, rank=context.rank, world_size=context.world_size, timeout=wait
            )
        except (RuntimeError, ValueError) as err:
            raise RationalizerError(
                f"rank {context.rank} could not join the {context.world_size} processes ({err}); "
                "start several processes with torchrun --standalone --nproc-per-node N -m "
                "rationalizer ..."
            ) from None
    _current = context
    try:
        yield context
    finally:
        _current = _SINGLE
        if own:
            dist.destroy_process_group()


@contextlib.contextmanager
def guard(what: str) -> Iterator[None]:
    """Turn a failed collective step (another process died, or stopped answering for longer
    than the timeout) into a RationalizerError naming this rank and what it was doing."""
    try:
        yield
    except RuntimeError as err:
        if not current().distributed or not _collective_failure(err):
            raise
        context = current()
        raise RationalizerError(
            f"rank {context.rank} of {context.world_size} stopped during {what}: another process "
            "failed, was killed or did not answer within the process-group timeout "
            f"({timeout().total_seconds():g} s, {TIMEOUT_ENV}); see the first error above. "
            f"Cause: {str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__}"
        ) from err


#: Words of the errors gloo and NCCL raise when a peer is gone or silent.
_COLLECTIVE_WORDS = ("gloo", "nccl", "connection", "timed out", "timeout", "peer")


def _collective_failure(err: RuntimeError) -> bool:
    text = str(err).lower()
    return isinstance(err, dist.DistError) or any(word in text for word in _COLLECTIVE_WORDS)


def barrier(what: str) -> None:
    """Wait until every process got here (no-op for one process)."""
    if current().distributed:
        with guard(what):
            dist.barrier()


def broadcast(value: T, what: str) -> T:
    """Rank 0's ``value`` on every process (any picklable object)."""
    if not current().distributed:
        return value
    box = [value]
    with guard(what):
        dist.broadcast_object_list(box, src=0)
    return box[0]


def receive(kind: type[T], what: str) -> T:
    """Rank 0's :func:`broadcast` of a ``kind``, on the other processes (which have none)."""
    value = broadcast(None, what)
    if not isinstance(value, kind):
        raise RationalizerError(f"{what}: rank 0 sent {type(value).__name__}, not {kind.__name__}")
    return value


def gather(value: T, what: str) -> list[T]:
    """Every process's ``value``, by rank, on every process."""
    context = current()
    if not context.distributed:
        return [value]
    values: list[Any] = [None] * context.world_size
    with guard(what):
        dist.all_gather_object(values, value)
    return values


def shard(items: Sequence[T], context: Context | None = None) -> list[T]:
    """This process's share of ``items``: every ``world_size``-th item from its rank on."""
    context = context or current()
    return list(items[context.rank :: context.world_size])


def part_path(out: Path, context: Context | None = None) -> Path:
    """Where this process writes its part of the results file ``out`` (merged by rank 0)."""
    context = context or current()
    return out.with_name(f"{out.name}.part-{context.rank}-of-{context.world_size}")


def output_lock(out: Path) -> contextlib.AbstractContextManager[None]:
    """What this process holds while it writes the results file ``out``
    (:func:`rationalizer.outputs.writing`): rank 0, which merges the parts into ``out``, its lock;
    every other rank the lock of its own part file. A second launch on the same ``out`` is then
    refused instead of interleaving its records with the first's."""
    return writing(out if is_main() else part_path(out))


def run_dir_lock(run_dir: Path) -> contextlib.AbstractContextManager[None]:
    """What this process holds while it trains into ``run_dir``: rank 0, the one that writes
    the run, its lock (``RUN_DIR/.lock``); nothing on the other ranks."""
    return writing(run_dir, run_dir / RUN_LOCK) if is_main() else contextlib.nullcontext()


def written_ids(path: Path, key: str = "annotation_id") -> set[str]:
    """The ids of the JSON lines an earlier, maybe interrupted, process wrote to ``path``; a
    last line cut short by the interruption is removed from the file."""
    if not path.is_file():
        return set()
    with path.open("rb+") as handle:
        content = handle.read()
        if content and not content.endswith(b"\n"):
            handle.truncate(content.rfind(b"\n") + 1)
            content = content[: content.rfind(b"\n") + 1]
    return {json.loads(line)[key] for line in content.decode("utf-8").splitlines() if line.strip()}


def merge_parts(out: Path, ids: Sequence[str], key: str = "annotation_id") -> None:
    """Rank 0 joins every process's part file into ``out``, lines in the order of ``ids`` (each
    line a JSON object whose ``key`` is its id), and removes the parts. Lines are copied
    byte for byte, so ``out`` is the file one process would have written."""
    context = current()
    parts = [part_path(out, Context(r, context.world_size, r)) for r in range(context.world_size)]
    lines: dict[str, str] = {}
    for part in parts:
        for line in part.read_text(encoding="utf-8").splitlines(keepends=True):
            if line.strip():
                lines[json.loads(line)[key]] = line
    missing = [i for i in ids if i not in lines]
    if missing:
        raise RationalizerError(
            f"the part files of {out} lack {len(missing)} of {len(ids)} records "
            f"(e.g. {missing[0]!r}); rerun the same command to complete them"
        )
    text = "".join(lines[i] for i in ids)
    write_atomic(out, lambda temporary: temporary.write_text(text, encoding="utf-8"))
    for part in parts:
        part.unlink()
