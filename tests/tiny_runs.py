"""Tiny training runs shared by the whole test session, built once per distinct settings.

Training is the slowest thing the tests do, so every test that needs a trained run asks the
``tiny_run`` fixture (see ``tests/conftest.py``) for one instead of training its own: runs with
the same settings are trained once per session, even under pytest-xdist, and tests that change
a run copy it first (``shutil.copytree``).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from filelock import FileLock

from rationalizer.data import Dataset, load

#: Settings of a run that trains in seconds: a few synthetic reviews, a tiny GRU, one epoch.
TINY_SETTINGS: dict[str, Any] = {
    "dataset": "synthetic",
    "method": "semi",
    "max_train_examples": 48,
    "max_length": 64,
    "hidden_size": 16,
    "batch_size": 16,
    "epochs": 1,
}
#: A short SSR run whose shortcut report has phrases (every candidate counts as a shortcut).
SSR_SETTINGS: dict[str, Any] = {
    "method": "ssr-unif",
    "max_train_examples": 96,
    "epochs": 2,
    "shortcut_min_skew": 0.0,
}
#: A tiny semi MiniLM run on HateXplain reading 32 positions, so some posts are truncated and
#: most words split into subwords.
MINILM_SETTINGS: dict[str, Any] = {
    "dataset": "hatexplain",
    "method": "semi",
    "encoder": "minilm",
    "max_train_examples": 16,
    "max_length": 32,
    "validation_size": 8,
}
DONE_MARKER = ".built"


def spread(dataset: Dataset, size: int) -> Dataset:
    """``size`` examples evenly spread over the split (sorted splits then cover every label)."""
    return replace(dataset, examples=dataset.examples[:: max(len(dataset) // size, 1)][:size])


def built_once(tmp_path_factory, name: str, build: Callable[[Path], None]) -> Path:
    """The folder ``name`` that ``build`` fills, built by one process of the test session.

    Under pytest-xdist every worker has its own base temporary folder inside one folder per
    session; that parent is shared, and a file lock lets exactly one worker build.
    """
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = shared / name
    with FileLock(str(shared / f"{name}.lock")):
        if not (folder / DONE_MARKER).is_file():
            folder.mkdir(parents=True, exist_ok=True)
            build(folder)
            (folder / DONE_MARKER).touch()
    return folder


def train_tiny(folder: Path, settings: dict[str, Any], validation_size: int | None) -> None:
    """Train ``settings`` into ``folder``; ``validation_size`` validates on that many examples
    spread over the validation split (real datasets' full splits would dominate the time)."""
    from rich.console import Console

    import rationalizer
    from rationalizer.training.config import TrainConfig
    from rationalizer.training.trainer import Trainer, limit_examples

    console = Console(file=io.StringIO())
    if validation_size is None:
        rationalizer.train(folder, console=console, **settings)
        return
    config = TrainConfig(**settings)
    train = limit_examples(load(config.dataset, "train"), config)
    validation = spread(load(config.dataset, "validation"), validation_size)
    Trainer(config, folder, train=train, validation=validation, console=console).fit()


class TinyRuns:
    """``tiny_runs(validation_size=None, **settings)``: the run directory of
    :data:`TINY_SETTINGS` updated with ``settings``, trained on first request."""

    def __init__(self, tmp_path_factory) -> None:
        self.tmp_path_factory = tmp_path_factory

    def __call__(self, validation_size: int | None = None, **settings: Any) -> Path:
        settings = TINY_SETTINGS | settings
        key = json.dumps([settings, validation_size], sort_keys=True, default=str)
        name = f"tiny-run-{settings['dataset']}-{settings['method']}-"
        name += hashlib.sha256(key.encode()).hexdigest()[:12]
        folder = built_once(
            self.tmp_path_factory,
            name,
            lambda path: train_tiny(path / "run", settings, validation_size),
        )
        return folder / "run"
