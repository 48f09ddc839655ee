"""Datasets with human rationales: the data model, loaders and the results format."""

from rationalizer.data.example import (
    Dataset,
    DatasetInfo,
    Document,
    Evidence,
    Example,
    Span,
    mask_to_spans,
    merge_spans,
    spans_to_mask,
)
from rationalizer.data.registry import (
    DATA_ENV_VAR,
    DatasetLoader,
    available_datasets,
    get_loader,
    load,
    resolve_data_dir,
)
from rationalizer.data.results import ResultRecord, read_results, write_results

__all__ = [
    "DATA_ENV_VAR",
    "Dataset",
    "DatasetInfo",
    "DatasetLoader",
    "Document",
    "Evidence",
    "Example",
    "ResultRecord",
    "Span",
    "available_datasets",
    "get_loader",
    "load",
    "mask_to_spans",
    "merge_spans",
    "read_results",
    "resolve_data_dir",
    "spans_to_mask",
    "write_results",
]
