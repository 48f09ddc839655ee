"""Records every training epoch in a log file, so the tests can tell which test trained.

Every training path (``rationalizer.train``, the CLI, shortcut discovery, distributed workers)
runs ``Trainer.fit``, which trains epoch by epoch in ``Trainer._train_epoch``; the epoch is what
is logged, since a fit that stops on a bad setting or finds its run already finished trains
nothing. ``tests/conftest.py`` installs the probe in the test process and puts this folder on
``PYTHONPATH``, so that its ``sitecustomize`` installs it in every Python process a test starts
as well; each epoch appends one line to the file named by :data:`LOG_ENV`.
"""

from __future__ import annotations

import os
import sys
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec, PathFinder
from types import ModuleType

LOG_ENV = "RATIONALIZER_TEST_TRAINING_LOG"
TRAINER_MODULE = "rationalizer.training.trainer"


def record_epochs(trainer_module: ModuleType) -> None:
    """Wrap ``Trainer._train_epoch`` of the loaded ``trainer_module`` so that each epoch is
    logged."""
    trainer_class = trainer_module.Trainer
    train_epoch = trainer_class._train_epoch

    def logged_train_epoch(self, *args, **kwargs):
        with open(os.environ[LOG_ENV], "a", encoding="utf-8") as log:
            log.write(f"{os.getpid()}\n")
        return train_epoch(self, *args, **kwargs)

    trainer_class._train_epoch = logged_train_epoch


class _TrainerProbe(MetaPathFinder):
    """Finds the trainer module as usual, and wraps its training epochs once it has loaded."""

    def find_spec(self, name: str, path=None, target=None) -> ModuleSpec | None:
        if name != TRAINER_MODULE:
            return None
        spec = PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module

        def load_and_probe(module: ModuleType) -> None:
            load(module)
            record_epochs(module)

        spec.loader.exec_module = load_and_probe
        return spec


def install() -> None:
    """Probe this process's trainer, now if it is loaded, else when it gets imported."""
    if TRAINER_MODULE in sys.modules:
        record_epochs(sys.modules[TRAINER_MODULE])
    else:
        sys.meta_path.insert(0, _TrainerProbe())
