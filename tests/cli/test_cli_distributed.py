"""``torchrun -m rationalizer predict|explain`` on two CPU processes writes the file one process
writes; devices and precisions reach the model."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace

import pytest
import torch
from tests.cli.cli_helpers import invoke
from tests.cli.conftest import TINY_TOML

from rationalizer.data import load
from rationalizer.errors import RationalizerError
from rationalizer.explain.adapters import load_adapter
from rationalizer.training.inference import Rationalizer

#: The longest a two-process command may take before it counts as a hang.
HANG_SECONDS = 240


def torchrun(*args: str) -> None:
    """``torchrun --standalone --nproc-per-node 2 -m rationalizer ARGS``, checked to succeed."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc-per-node", "2", "-m", "rationalizer", *args]
    env = os.environ | {"OMP_NUM_THREADS": "1", "RATIONALIZER_DIST_TIMEOUT": "60"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=HANG_SECONDS)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.slow
def test_two_processes_predict_the_file_one_process_writes_and_resume_their_parts(
    tiny_run_dir, tmp_path
):
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    invoke("predict", "-r", str(tiny_run_dir), "-s", "validation", "-o", str(one))
    # Rank 0 was interrupted after its first record, in the middle of the second.
    model = Rationalizer.load(tiny_run_dir)
    data = load("synthetic", "validation")
    first = data[model.prediction_batches(data)[0][0]].id
    written = {line.split('"', 4)[3]: line for line in one.read_text().splitlines(True)}
    part = tmp_path / "two.jsonl.part-0-of-2"
    part.write_text(written[first] + '{"annotation_id": "cut sh')
    torchrun("predict", "-r", str(tiny_run_dir), "-s", "validation", "-o", str(two))
    assert two.read_bytes() == one.read_bytes()
    assert not list(tmp_path.glob("two.jsonl.part-*"))


@pytest.mark.slow
def test_two_processes_explain_the_file_one_process_writes(tiny_run_dir, tmp_path):
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    args = ["explain", "-m", str(tiny_run_dir), "-x", "occlusion", "-d", "synthetic"]
    args += ["-s", "validation", "--limit", "10", "--batch-size", "3"]
    invoke(*args, "-o", str(one))
    torchrun(*args, "-o", str(two))
    assert two.read_bytes() == one.read_bytes()
    assert not list(tmp_path.glob("two.jsonl.part-*"))


def test_device_and_precision_reach_the_model(tiny_run_dir):
    model = Rationalizer.load(tiny_run_dir, device="cpu", precision="bf16")
    assert model.device == torch.device("cpu") and model.autocast_dtype is torch.bfloat16
    data = load("synthetic", "validation")
    [record] = model.predict_dataset(replace(data, examples=data.examples[:1]))
    assert sum(record.comprehensiveness_classification_scores.values()) == pytest.approx(1, 1e-2)
    assert Rationalizer.load(tiny_run_dir).autocast_dtype is None  # the run's own: a GRU in fp32
    adapter = load_adapter(tiny_run_dir, device="cpu", precision="fp16")
    assert adapter.autocast_to is torch.float16
    instance = adapter.prepare("a fine film .")
    assert adapter.probabilities(instance, [[1, 1, 1, 1]]).sum() == pytest.approx(1, abs=1e-3)
    assert load_adapter(tiny_run_dir).autocast_to is None  # explanations stay float32 by default
    with pytest.raises(RationalizerError, match="precision 'fp8' is not one of auto, fp32"):
        Rationalizer.load(tiny_run_dir, precision="fp8")
    with pytest.raises(RationalizerError, match="device 'gpu' is not a device"):
        load_adapter(tiny_run_dir, device="gpu")


@pytest.mark.slow
def test_two_processes_train_ssr_with_its_shortcut_discovery(tmp_path):
    """Discovery trains on both processes, rank 0's shortcut masks serve both, rank 0 writes."""
    config = tmp_path / "ssr.toml"
    config.write_text(
        TINY_TOML.replace('method = "semi"', 'method = "ssr-unif"') + "allow_no_shortcuts = true\n"
    )
    torchrun("train", "--config", str(config), "--batch-size", "8", "--out", str(tmp_path / "run"))
    written = ("summary.json", "shortcuts.json", "shortcuts.md", "shortcut-discovery/summary.json")
    for name in written:
        assert (tmp_path / "run" / name).is_file(), name
