"""rationalizer: self-explaining text classifiers, post-hoc explainers and rationale metrics.

The public API is small on purpose::

    import rationalizer
    test = rationalizer.load("movies", "test")
    scores = rationalizer.evaluate(test, rationalizer.read_results("preds.jsonl", test))
"""

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

__all__ = [
    "DataFormatError",
    "Dataset",
    "DatasetNotFoundError",
    "Document",
    "Evidence",
    "Example",
    "RationalizerError",
    "ResultRecord",
    "Span",
    "__version__",
    "available_datasets",
    "evaluate",
    "load",
    "read_results",
    "write_results",
]
