"""One writer per output, released when its holder dies; failed writes as one line."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest
from tests.cli.faults import held_elsewhere

from rationalizer.errors import RationalizerError
from rationalizer.outputs import OutputLockedError, write_atomic, writing


@pytest.mark.slow  # starts another process
def test_a_killed_holder_leaves_its_lock_file_but_blocks_nothing(tmp_path):
    out, lock = tmp_path / "out.jsonl", tmp_path / "out.jsonl.lock"
    with held_elsewhere(out, lock) as other:
        with pytest.raises(OutputLockedError, match=f"pid {other.pid}"), writing(out):
            pass
        other.kill()
        other.wait()
        assert lock.read_text() == f"{other.pid}\n"
        with writing(out):
            assert lock.read_text() == f"{os.getpid()}\n"
    assert not lock.exists()


@pytest.mark.slow  # starts another process
def test_a_lock_taken_again_inside_its_block_is_shared_and_refused_elsewhere(tmp_path):
    run = tmp_path / "run"
    with writing(run, run / ".lock"):
        with writing(run, run / ".lock"):
            pass
        assert (run / ".lock").read_text() == f"{os.getpid()}\n"  # still held
        code = "import sys, rationalizer.outputs as o; o.writing(*sys.argv[1:]).__enter__()"
        other = subprocess.run(
            [sys.executable, "-c", code, str(run), str(run / ".lock")],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert other.returncode == 1
        assert f"{run} is being written by another process (pid {os.getpid()}" in other.stderr
    assert not (run / ".lock").exists()


@pytest.mark.parametrize(
    ("code", "words"),
    [(errno.ENOSPC, "No space left on device"), (errno.EROFS, "Read-only file system")],
)
def test_a_refused_write_is_one_line_naming_the_file(tmp_path, code, words):
    out = tmp_path / "out.jsonl"
    with pytest.raises(RationalizerError) as error, writing(out):
        raise OSError(code, os.strerror(code))
    assert str(error.value).startswith(f"cannot write {out}: {words}; what was written before")
    assert "\n" not in str(error.value)
    with pytest.raises(FileNotFoundError), writing(out):  # not a refused write: as it is
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "data.jsonl")


def test_a_failed_atomic_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "record.json"
    path.write_text("old\n")

    def full(temporary):
        temporary.write_text("half of the new")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(OSError):
        write_atomic(path, full)
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]
    assert path.read_text() == "old\n"
