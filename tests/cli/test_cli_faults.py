"""Faults the writing commands survive: kill -9 in the middle of a record (then the same command
resumes to the file an uninterrupted run writes, byte for byte), a full disk or a read-only
folder (one line naming the file, earlier results intact), and a second process writing the same
results file or run directory (refused by the first one's lock)."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tests.cli.cli_helpers import invoke
from tests.cli.faults import failing_writes, held_elsewhere

from rationalizer.data import load, write_results
from rationalizer.errors import RationalizerError
from rationalizer.outputs import OutputLockedError
from rationalizer.training.inference import Rationalizer

FAULTS = Path(__file__).with_name("faults.py")
ROOT = Path(__file__).resolve().parents[2]
#: The longest a command may take before it counts as a hang.
HANG_SECONDS = 240
PREDICT = ("predict", "-s", "validation", "--batch-size", "4")
EXPLAIN = ("explain", "-x", "occlusion", "-d", "synthetic", "-s", "validation", "--limit", "10")
EXPLAIN += ("--batch-size", "3")


def killed(name: str, records: int, cut: int, *args: str) -> int:
    """Run ``rationalizer ARGS`` in a new process, killed by SIGKILL once it wrote ``records``
    lines and ``cut`` characters of the next to the file called ``name``; return its pid."""
    command = [sys.executable, str(FAULTS), name, str(records), str(cut), *args]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    with subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True) as child:
        _, error = child.communicate(timeout=HANG_SECONDS)
    assert child.returncode == -signal.SIGKILL, error[-3000:]
    return child.pid


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def assert_cut(path: Path, records: int, cut: int) -> None:
    """``path`` holds ``records`` whole lines and ``cut`` characters of the next."""
    written = path.read_text(encoding="utf-8")
    assert written.count("\n") == records and len(written.rsplit("\n", 1)[1]) == cut


@pytest.mark.slow
@pytest.mark.parametrize("cut", [0, 25], ids=["between-records", "mid-record"])
def test_predict_killed_then_resumed_writes_the_uninterrupted_file(tiny_run_dir, tmp_path, cut):
    straight, out = tmp_path / "straight.jsonl", tmp_path / "out.jsonl"
    invoke(*PREDICT, "-r", str(tiny_run_dir), "-o", str(straight))
    part, lock = tmp_path / "out.jsonl.part-0-of-1", tmp_path / "out.jsonl.lock"
    # 6 records: one batch of 4 and half the next; the kill cuts the 7th short (or before it).
    pid = killed(part.name, 6, cut, *PREDICT, "-r", str(tiny_run_dir), "-o", str(out))
    assert_cut(part, 6, cut)
    assert not out.exists()  # the results appear whole or not at all
    assert lock.read_text() == f"{pid}\n"  # the dead process's lock is left, and blocks nothing
    output = invoke(*PREDICT, "-r", str(tiny_run_dir), "-o", str(out))
    assert "resuming: 6 predictions already in" in output
    assert out.read_bytes() == straight.read_bytes()
    assert not part.exists() and not lock.exists()
    # ... and it is the file the library writes.
    library = tmp_path / "library.jsonl"
    data = load("synthetic", "validation")
    write_results(library, Rationalizer.load(tiny_run_dir).predict_dataset(data, batch_size=4))
    assert out.read_bytes() == library.read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("cut", [0, 40], ids=["between-records", "mid-record"])
def test_explain_killed_then_resumed_writes_the_uninterrupted_file(tiny_run_dir, tmp_path, cut):
    straight, out = tmp_path / "straight.jsonl", tmp_path / "out.jsonl"
    invoke(*EXPLAIN, "-m", str(tiny_run_dir), "-o", str(straight))
    # 4 records: the first chunk of 3 and one of the second, cut short in its second record.
    pid = killed(out.name, 4, cut, *EXPLAIN, "-m", str(tiny_run_dir), "-o", str(out))
    assert_cut(out, 4, cut)
    assert (tmp_path / "out.jsonl.lock").read_text() == f"{pid}\n"
    invoke(*EXPLAIN, "-m", str(tiny_run_dir), "-o", str(out))
    assert out.read_bytes() == straight.read_bytes()
    assert not (tmp_path / "out.jsonl.lock").exists()


def no_space(handle, line: str) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.slow
def test_a_full_disk_is_one_line_and_keeps_what_was_written(tiny_run_dir, tmp_path):
    out = tmp_path / "out.jsonl"
    invoke(*PREDICT, "-r", str(tiny_run_dir), "-o", str(out))
    before = out.read_bytes()  # an earlier complete run: a failed rerun must not touch it
    part = tmp_path / "out.jsonl.part-0-of-1"
    with failing_writes(part.name, 5, no_space), pytest.raises(RationalizerError) as error:
        invoke(*PREDICT, "-r", str(tiny_run_dir), "-o", str(out))
    message = str(error.value)
    assert message == (
        f"cannot write {out}: No space left on device; what was written before is kept: free "
        "space or fix the permissions and rerun the same command to continue"
    )
    assert out.read_bytes() == before
    assert len(lines(part)) == 5 and set(lines(part)) <= set(lines(out))
    invoke(*PREDICT, "-r", str(tiny_run_dir), "-o", str(out))
    assert out.read_bytes() == before


@pytest.mark.slow
def test_a_folder_made_read_only_midway_is_one_line_and_keeps_what_was_written(
    tiny_run_dir, tmp_path
):
    out = tmp_path / "out.jsonl"

    def refused(handle, line: str) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(out))

    with failing_writes(out.name, 2, refused), pytest.raises(RationalizerError) as error:
        invoke(*EXPLAIN, "-m", str(tiny_run_dir), "-o", str(out))
    assert str(error.value).startswith(f"cannot write {out}: Permission denied; what was")
    assert len(lines(out)) == 2
    kept = out.read_bytes()
    invoke(*EXPLAIN, "-m", str(tiny_run_dir), "-o", str(out))
    assert out.read_bytes().startswith(kept) and len(lines(out)) == 10


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder anyway")
def test_a_read_only_folder_is_one_line(tiny_run_dir, tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    (folder / "out.jsonl").write_text("earlier\n")
    folder.chmod(0o555)
    try:
        with pytest.raises(RationalizerError, match=r"^cannot write .*out\.jsonl\.lock: Perm"):
            invoke(*PREDICT, "-r", str(tiny_run_dir), "-o", str(folder / "out.jsonl"))
    finally:
        folder.chmod(0o755)
    assert (folder / "out.jsonl").read_text() == "earlier\n"


@pytest.mark.slow
def test_a_second_predict_on_the_same_file_is_refused(tiny_run_dir, tmp_path):
    out = tmp_path / "out.jsonl"
    with held_elsewhere(out, tmp_path / "out.jsonl.lock") as other:
        with pytest.raises(OutputLockedError) as error:
            invoke(*PREDICT, "-r", str(tiny_run_dir), "-o", str(out))
        assert sorted(path.name for path in tmp_path.iterdir()) == ["out.jsonl.lock"]
    assert str(error.value) == (
        f"{out} is being written by another process (pid {other.pid}, lock {out}.lock): wait "
        "for it to finish, or write elsewhere"
    )
    invoke(*PREDICT, "-r", str(tiny_run_dir), "-o", str(out))  # once it is gone
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.jsonl"]


@pytest.mark.slow
def test_a_second_explain_on_the_same_file_is_refused(tiny_run_dir, tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("")
    with held_elsewhere(out, tmp_path / "out.jsonl.lock") as other:
        with pytest.raises(OutputLockedError, match=f"pid {other.pid}"):
            invoke(*EXPLAIN, "-m", str(tiny_run_dir), "-o", str(out))
        assert out.read_text() == ""


@pytest.mark.slow
def test_a_second_training_into_the_same_run_directory_is_refused(tmp_path, tiny_config):
    run = tmp_path / "run"
    with held_elsewhere(run, run / ".lock") as other:
        with pytest.raises(OutputLockedError, match=f"^{run} is being written .*pid {other.pid}"):
            invoke("train", "--config", str(tiny_config), "--out", str(run))
        assert sorted(path.name for path in run.iterdir()) == [".lock"]
