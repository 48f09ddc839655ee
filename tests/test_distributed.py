"""The process-group plumbing without a process group: devices, timeouts, shards, part files."""

from __future__ import annotations

import datetime

import pytest
import torch

from rationalizer import distributed
from rationalizer.distributed import Context
from rationalizer.errors import RationalizerError


@pytest.fixture
def rank_0_of_2(monkeypatch):
    """Pretend to be rank 0 of a two-process launch (nothing is joined)."""
    monkeypatch.setattr(distributed, "_current", Context(rank=0, world_size=2, local_rank=0))


def test_one_process_needs_no_launcher(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    with distributed.session("cpu") as context:
        assert context == Context() and not context.distributed and context.is_main
        assert distributed.broadcast("x", "a test") == "x"
        assert distributed.gather(1, "a test") == [1]
        distributed.barrier("a test")


def test_a_launch_that_makes_no_sense_is_refused(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "2")
    with (
        pytest.raises(RationalizerError, match="rank 2 of a world of 2"),
        distributed.session("cpu"),
    ):
        pass


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
@pytest.mark.parametrize("name", ["cuda", "cuda:3"])
def test_an_absent_gpu_is_refused_naming_the_flag_and_the_devices_there(name):
    with pytest.raises(RationalizerError, match=rf"--device {name}: .*available: cpu"):
        distributed.resolve_device(name)


def test_devices_resolve_and_typos_are_refused():
    assert distributed.resolve_device(None) == torch.device("cpu")
    assert distributed.resolve_device("cpu", flag="device") == torch.device("cpu")
    with pytest.raises(RationalizerError, match="device 'gpu' is not a device: use one of cpu"):
        distributed.resolve_device("gpu", flag="device")


def test_several_processes_refuse_a_gpu_index(rank_0_of_2):
    with pytest.raises(RationalizerError, match="give plain 'cuda'"):
        distributed.resolve_device("cuda:1")


def test_the_timeout_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(distributed.TIMEOUT_ENV, "12.5")
    assert distributed.timeout() == datetime.timedelta(seconds=12.5)
    monkeypatch.setenv(distributed.TIMEOUT_ENV, "soon")
    with pytest.raises(RationalizerError, match="positive number of seconds"):
        distributed.timeout()


def test_a_failed_collective_becomes_an_error_naming_the_rank(rank_0_of_2):
    failed = "rank 0 of 2 stopped during training: another"
    with pytest.raises(RationalizerError, match=failed), distributed.guard("training"):
        raise RuntimeError("[gloo] Connection reset by peer")
    # not a collective: unchanged
    with pytest.raises(RuntimeError, match="shape mismatch"), distributed.guard("training"):
        raise RuntimeError("shape mismatch")


def test_shards_take_turns():
    assert distributed.shard(list(range(7)), Context(1, 3, 1)) == [1, 4]
    assert distributed.shard(list(range(7))) == list(range(7))


def test_parts_merge_in_the_given_order_byte_for_byte(tmp_path, rank_0_of_2):
    out = tmp_path / "preds.jsonl"
    assert distributed.part_path(out).name == "preds.jsonl.part-0-of-2"
    other = distributed.part_path(out, Context(1, 2, 1))
    distributed.part_path(out).write_text('{"annotation_id": "b", "x": 1.50}\n')
    other.write_text('{"annotation_id": "a"}\n{"annotation_id": "c"}\n')
    with pytest.raises(RationalizerError, match="lack 1 of 4 records"):
        distributed.merge_parts(out, ["a", "b", "c", "d"])
    distributed.merge_parts(out, ["a", "b", "c"])
    assert out.read_text() == (
        '{"annotation_id": "a"}\n{"annotation_id": "b", "x": 1.50}\n{"annotation_id": "c"}\n'
    )
    assert not other.exists() and not distributed.part_path(out).exists()


def test_written_ids_drop_a_line_cut_short(tmp_path):
    part = tmp_path / "part"
    assert distributed.written_ids(part) == set()
    part.write_text('{"annotation_id": "a"}\n{"annotation_id": "b", "cut')
    assert distributed.written_ids(part) == {"a"}
    assert part.read_text() == '{"annotation_id": "a"}\n'
