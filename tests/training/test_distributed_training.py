"""Training on two CPU processes (gloo): equivalent to one process, resumable, fails loudly.

The processes are started as torchrun starts them (RANK, WORLD_SIZE and rank 0's address in
the environment) by ``distributed_worker.py``; one test goes through torchrun itself.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from rich.console import Console

from rationalizer.training.checkpoint import load_checkpoint
from rationalizer.training.config import TrainConfig
from rationalizer.training.trainer import Trainer

pytestmark = pytest.mark.slow

WORKER = Path(__file__).with_name("distributed_worker.py")
#: Per-process batch B; the one-process reference trains with 2B. 65 examples make the last
#: global batch a single example, so one rank trains on a stand-in with weight 0.
SETTINGS = {
    "dataset": "synthetic",
    "max_train_examples": 65,
    "max_length": 128,
    "hidden_size": 16,
    "epochs": 3,
    "lr": 0.01,
}
B = 8
#: A process group gives up on a dead peer after this many seconds (it usually notices at once).
TIMEOUT_SECONDS = 30
#: The longest a two-process test run may take before it counts as a hang.
HANG_SECONDS = 240


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def launch(config: TrainConfig, run_dir: Path, scenario: str = "train") -> list[tuple[int, str]]:
    """Two worker processes on ``config``; their (exit status, standard error) by rank."""
    config_path = run_dir.with_name(run_dir.name + ".json")
    config_path.write_text(config.model_dump_json(), encoding="utf-8")
    port = str(_free_port())
    processes = []
    for rank in range(2):
        env = os.environ | {
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": "2",
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": port,
            "RATIONALIZER_DIST_TIMEOUT": str(TIMEOUT_SECONDS),
            "OMP_NUM_THREADS": "1",
        }
        processes.append(
            subprocess.Popen(
                [sys.executable, str(WORKER), str(config_path), str(run_dir), scenario],
                env=env,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    results = []
    for process in processes:
        try:
            _, err = process.communicate(timeout=HANG_SECONDS)
        except subprocess.TimeoutExpired:
            for other in processes:
                other.kill()
            pytest.fail(f"a training process hung for {HANG_SECONDS} s")
        results.append((process.returncode, err))
    return results


def train_one_process(config: TrainConfig, run_dir: Path) -> None:
    Trainer(config, run_dir, console=Console(quiet=True)).fit()


def last_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    """The weights after the last epoch (the resume state's), whatever epoch was selected."""
    return load_checkpoint(run_dir).resume_model_state


def final_accuracy(run_dir: Path) -> float:
    last = (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()[-1]
    return json.loads(last)["validation"]["accuracy"]


def test_two_processes_match_one_process_with_twice_the_batch_without_noise(tmp_path):
    """Without sampling noise (full-text: no Gumbel selection; dropout 0) the two runs take
    the same steps on the same global batches with the same schedule, and each rank's mean
    loss is weighed by its share of the batch, so the averaged gradient is the one-process
    gradient. What remains is the order of floating-point sums (the gradient all-reduce, the
    split of each batch and its padding), of the order of float32 rounding, 1e-6 relative per
    step: after 15 steps of AdamW every weight is within 1e-4 (relative and absolute)."""
    config = TrainConfig(method="full-text", dropout=0.0, batch_size=B, **SETTINGS)
    results = launch(config, tmp_path / "two")
    assert [code for code, _ in results] == [0, 0], results
    train_one_process(config.model_copy(update={"batch_size": 2 * B}), tmp_path / "one")
    two, one = last_weights(tmp_path / "two"), last_weights(tmp_path / "one")
    assert two.keys() == one.keys()
    moved = 0.0
    for name in one:
        torch.testing.assert_close(two[name], one[name], rtol=1e-4, atol=1e-4, msg=name)
        moved = max(moved, float((one[name] - two[name]).abs().max()))
    assert moved > 0  # the two runs are really different computations


def test_two_processes_reach_the_validation_accuracy_of_one_process(tmp_path):
    """With sampling noise (semi: Gumbel selection, dropout 0.1) the runs cannot be equal: each
    rank draws its own noise for its half of the batch at its own padded length, so they are two
    draws of the same training. Their validation accuracy after 3 epochs must agree within 0.1:
    less than the spread over seeds of this tiny setting (one process, seeds 0-2: 0.65, 0.50,
    0.50; seed 0 has learned, the others not yet), so a two-process run that learns nothing
    (0.50 on the 400 balanced validation examples) fails; measured: 0.65 and 0.63."""
    config = TrainConfig(method="semi", batch_size=B, **SETTINGS)
    results = launch(config, tmp_path / "two")
    assert [code for code, _ in results] == [0, 0], results
    train_one_process(config.model_copy(update={"batch_size": 2 * B}), tmp_path / "one")
    accuracy = {name: final_accuracy(tmp_path / name) for name in ("one", "two")}
    assert abs(accuracy["one"] - accuracy["two"]) <= 0.1, accuracy


def torchrun_train(config: TrainConfig, run_dir: Path) -> None:
    """``torchrun --standalone --nproc-per-node 2 -m rationalizer train --config ... --out ...``"""
    config_path = run_dir.with_name(run_dir.name + "-torchrun.json")
    config_path.write_text(config.model_dump_json(), encoding="utf-8")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc-per-node", "2", "-m", "rationalizer", "train"]
    command += ["--config", str(config_path), "--out", str(run_dir)]
    env = os.environ | {"RATIONALIZER_DIST_TIMEOUT": str(TIMEOUT_SECONDS), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=HANG_SECONDS)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "best epoch" in done.stdout  # printed once, by rank 0
    assert done.stdout.count("best epoch") == 1


def logged_epochs(run_dir: Path) -> list[int]:
    lines = (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["epoch"] for line in lines]


def test_a_killed_two_process_run_resumes_on_two_or_one_processes(tmp_path):
    config = TrainConfig(method="semi", batch_size=B, **SETTINGS)
    killed = tmp_path / "killed"
    (rank0, _), (rank1, error) = launch(config, killed, "die-after-first-checkpoint")
    assert rank0 == 3  # killed right after writing the checkpoint of epoch 1
    assert rank1 == 2 and "rank 1 of 2 stopped during validation of epoch 1" in error, error
    assert load_checkpoint(killed).resume.epoch == 1
    assert not (killed / "summary.json").exists()
    shutil.copytree(killed, tmp_path / "killed-copy")

    # Two processes again, through torchrun and the command line: the run it would have been.
    torchrun_train(config, killed)
    uninterrupted = tmp_path / "uninterrupted"
    assert [code for code, _ in launch(config, uninterrupted)] == [0, 0]
    resumed, straight = last_weights(killed), last_weights(uninterrupted)
    assert all(torch.equal(resumed[name], straight[name]) for name in straight)
    assert logged_epochs(killed) == [1, 2, 3]
    assert json.loads((killed / "summary.json").read_text())["epochs_run"] == 2

    # One process: an epoch now has twice the steps; the schedule goes on from the same share.
    one = tmp_path / "killed-copy"
    train_one_process(config, one)
    resume = load_checkpoint(one).resume
    assert resume.epoch == 3
    assert resume.scheduler["last_epoch"] == 3 * -(-65 // B)
    assert logged_epochs(one) == [1, 2, 3]


def test_a_failing_rank_stops_the_other_with_an_error_instead_of_a_hang(tmp_path):
    config = TrainConfig(method="semi", batch_size=B, **SETTINGS)
    (rank0, error0), (rank1, error1) = launch(config, tmp_path / "run", "rank-1-raises")
    assert rank1 == 2 and "rank 1 failed on purpose" in error1
    assert rank0 == 2, error0
    assert "error: rank 0 of 2 stopped during training: another process failed" in error0
    assert "RATIONALIZER_DIST_TIMEOUT" in error0
