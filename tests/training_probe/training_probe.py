"""Records every ``Trainer.fit`` call in a log file, so the tests can tell which test trained.

Every training path (``rationalizer.train``, the CLI, shortcut discovery, distributed workers)
ends in ``Trainer.fit``. ``tests/conftest.py`` installs the probe in the test process and puts
this folder on ``PYTHONPATH``, so that its ``sitecustomize`` installs it in every Python process
a test starts as well; each call appends one line to the file named by :data:`LOG_ENV`.
"""

from __future__ import annotations

import os
import sys
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec, PathFinder
from types import ModuleType

LOG_ENV = "RATIONALIZER_TEST_TRAINING_LOG"
TRAINER_MODULE = "rationalizer.training.trainer"


def record_fits(trainer_module: ModuleType) -> None:
    """Wrap ``Trainer.fit`` of the loaded ``trainer_module`` so that each call is logged."""
    trainer_class = trainer_module.Trainer
    fit = trainer_class.fit

    def logged_fit(self):
        with open(os.environ[LOG_ENV], "a", encoding="utf-8") as log:
            log.write(f"{os.getpid()}\n")
        return fit(self)

    trainer_class.fit = logged_fit


class _TrainerProbe(MetaPathFinder):
    """Finds the trainer module as usual, and wraps ``Trainer.fit`` once it has loaded."""

    def find_spec(self, name: str, path=None, target=None) -> ModuleSpec | None:
        if name != TRAINER_MODULE:
            return None
        spec = PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module

        def load_and_probe(module: ModuleType) -> None:
            load(module)
            record_fits(module)

        spec.loader.exec_module = load_and_probe
        return spec


def install() -> None:
    """Probe this process's trainer, now if it is loaded, else when it gets imported."""
    if TRAINER_MODULE in sys.modules:
        record_fits(sys.modules[TRAINER_MODULE])
    else:
        sys.meta_path.insert(0, _TrainerProbe())
