"""The training entry point: :func:`train` (the Python API of ``rationalizer train``) and
:func:`train_run`, which discovers shortcuts first for the methods that need them.

import rationalizer
result = rationalizer.train(dataset="movies", method="ssr-unif", out="runs/movies-ssr")
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from rationalizer import distributed
from rationalizer.data import load
from rationalizer.training.config import TrainConfig
from rationalizer.training.discovery import discover_shortcuts
from rationalizer.training.trainer import Trainer, TrainResult, limit_examples


def train(out: str | Path, console: Console | None = None, **settings) -> TrainResult:
    """Train a rationalizer (``settings`` are :class:`TrainConfig` fields) into ``out``; under
    torchrun, on every process of the launch (see :mod:`rationalizer.distributed`)."""
    config = TrainConfig(**settings)
    with distributed.session(config.device):
        return train_run(config, Path(out), console=console)


def train_run(config: TrainConfig, out: Path, console: Console | None = None) -> TrainResult:
    """Train ``config`` into ``out``, discovering shortcuts first for SSR methods."""
    console = console or Console(stderr=True)
    train = limit_examples(load(config.dataset, "train", config.data_dir), config)
    masks = None
    with distributed.run_dir_lock(out):  # from discovery on: it writes its report into ``out``
        if config.uses_shortcuts:
            masks = discover_shortcuts(config, out, console, train).masks
        return Trainer(config, out, shortcut_masks=masks, console=console, train=train).fit()
