"""rationalizer: self-explaining text classifiers, post-hoc explainers and rationale metrics.

The public API is small on purpose::

    import rationalizer
    rationalizer.train(dataset="movies", method="ssr-unif", out="runs/ssr")
    model = rationalizer.Rationalizer.load("runs/ssr")
    model.predict(["an uneven but often thrilling ride ."])

    test = rationalizer.load("movies", "test")
    scores = rationalizer.evaluate(test, model.predict_dataset(test))

``train``, ``Rationalizer`` and ``discover_shortcuts`` import torch on first use, so that
loading data and scoring results files stays light.
"""

from typing import TYPE_CHECKING

from rationalizer.data import (
    Dataset,
    Document,
    Evidence,
    Example,
    ResultRecord,
    Span,
    available_datasets,
    load,
    read_results,
    write_results,
)
from rationalizer.errors import DataFormatError, DatasetNotFoundError, RationalizerError
from rationalizer.metrics import evaluate

__version__ = "0.1.0"

_TRAINING_API = {
    "train": "rationalizer.training.run",
    "Rationalizer": "rationalizer.training.inference",
    "Prediction": "rationalizer.training.inference",
    "discover_shortcuts": "rationalizer.training.discovery",
}

if TYPE_CHECKING:
    from rationalizer.training.discovery import discover_shortcuts
    from rationalizer.training.inference import Prediction, Rationalizer
    from rationalizer.training.run import train


def __getattr__(name: str):
    if name in _TRAINING_API:
        import importlib

        return getattr(importlib.import_module(_TRAINING_API[name]), name)
    raise AttributeError(f"module 'rationalizer' has no attribute {name!r}")


__all__ = [
    "DataFormatError",
    "Dataset",
    "DatasetNotFoundError",
    "Document",
    "Evidence",
    "Example",
    "Prediction",
    "Rationalizer",
    "RationalizerError",
    "ResultRecord",
    "Span",
    "__version__",
    "available_datasets",
    "discover_shortcuts",
    "evaluate",
    "load",
    "read_results",
    "train",
    "write_results",
]
