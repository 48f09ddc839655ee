"""One process of a multi-process training test, started by the tests the way torchrun starts
one (RANK, WORLD_SIZE, MASTER_ADDR/PORT in the environment), without torchrun's agent, which
would kill the other processes itself when one fails.

``python distributed_worker.py CONFIG_JSON RUN_DIR SCENARIO``; SCENARIO is ``train``,
``die-after-first-checkpoint`` (rank 0 exits hard right after saving epoch 1: a killed run) or
``rank-1-raises`` (rank 1 fails in its first training step). Errors end the process as the
command line does: ``error: ...`` on standard error, exit status 2.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from rich.console import Console

from rationalizer import distributed
from rationalizer.errors import RationalizerError
from rationalizer.training import trainer
from rationalizer.training.config import TrainConfig


def die_after_first_checkpoint() -> None:
    save = trainer.save_checkpoint

    def save_then_die(*args, **kwargs) -> None:
        save(*args, **kwargs)
        os._exit(3)

    trainer.save_checkpoint = save_then_die


def rank_1_raises() -> None:
    forward = trainer.TrainingStep.forward

    def failing(self, batch):
        if distributed.current().rank == 1:
            raise RationalizerError("rank 1 failed on purpose")
        return forward(self, batch)

    trainer.TrainingStep.forward = failing


SCENARIOS = {
    "train": lambda: None,
    "die-after-first-checkpoint": die_after_first_checkpoint,
    "rank-1-raises": rank_1_raises,
}


def main() -> int:
    config_path, run_dir, scenario = sys.argv[1:]
    SCENARIOS[scenario]()
    config = TrainConfig.model_validate_json(Path(config_path).read_text(encoding="utf-8"))
    try:
        trainer.Trainer(config, run_dir, console=Console(quiet=True)).fit()
    except RationalizerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
