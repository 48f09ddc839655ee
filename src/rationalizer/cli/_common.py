"""Pieces shared by the subcommands: consoles and common options."""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from rationalizer.errors import RationalizerError

if TYPE_CHECKING:
    from rationalizer.data import Dataset

console = Console()
console_err = Console(stderr=True, soft_wrap=True)

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Folder holding the datasets (default: $RATIONALIZER_DATA, else "
        "~/.cache/rationalizer).",
        show_default=False,
    ),
]


DeviceOption = Annotated[
    str | None,
    typer.Option(
        "--device",
        help="Where the model computes: cpu, cuda (the first GPU; under torchrun each "
        "process's own GPU), cuda:N or mps. An unavailable device is refused with the list of "
        "those this machine has. Default: cpu.",
        show_default=False,
    ),
]
PrecisionOption = Annotated[
    str | None,
    typer.Option(
        "--precision",
        help="fp32, bf16 or fp16: the dtype of the matrix products (autocast; weights stay "
        "float32). bf16 is about twice as fast for transformers on CPUs with AMX/AVX512-BF16 "
        "and on recent GPUs; fp16 is for GPUs without bfloat16. Default: the run's own "
        "precision setting.",
        show_default=False,
    ),
]


LabelMapOption = Annotated[
    str | None,
    typer.Option(
        "--label-map",
        help="Read the dataset's labels as the model's: MODEL=DATASET pairs, e.g. "
        "neg=NEG,pos=POS. Labels that differ only in case are matched without it, with a note.",
        show_default=False,
    ),
]


def labels_matched(
    data: Dataset, labels: Sequence[str], label_map: str | None, of: str = "the model"
) -> Dataset:
    """``data`` with the labels of ``of`` (``--label-map`` applied, a match by case noted)."""
    from rationalizer.data.labels import match_labels, parse_label_map

    mapping = None if label_map is None else parse_label_map(label_map)
    matched, note = match_labels(data, labels, mapping, option="--label-map", of=of)
    if note is not None:
        process_console().print(f"[yellow]note:[/yellow] {note}")
    return matched


def evaluate_hint(dataset: str, split: str, out: Path, label_map: str | None) -> str:
    """The command that scores a results file just written, with the label map it needs."""
    mapped = "" if label_map is None else f" --label-map {label_map}"
    return f"score them with: rationalizer evaluate -d {dataset} -s {split} -p {out}{mapped}"


def process_console() -> Console:
    """Standard error for rank 0 (or a plain run); a silent console for the other processes
    of a torchrun launch, so that messages and progress bars appear once."""
    from rationalizer import distributed

    return console_err if distributed.is_main() else Console(stderr=True, quiet=True)


def reflow(doc: str) -> str:
    """A docstring as ``--help`` text: the lines of each paragraph joined, so that the terminal
    wraps them instead of breaking them where the source did. Blank lines separate paragraphs."""
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


def reflow_help(app: typer.Typer) -> None:
    """Give every command of ``app`` its reflowed docstring as help."""
    for command in app.registered_commands:
        if command.help is None and command.callback is not None and command.callback.__doc__:
            command.help = reflow(command.callback.__doc__)


def explainer_options(items: list[str] | None, batch_size: int | None) -> dict[str, Any]:
    """An explainer's ``--option KEY=VALUE`` pairs (a value is read as JSON when it parses, else
    as text), with ``--batch-size`` as its ``batch_size``."""
    options: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise RationalizerError(f"--option {item!r}: write KEY=VALUE, e.g. n_steps=32")
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value
    if batch_size is not None and options.setdefault("batch_size", batch_size) != batch_size:
        raise RationalizerError("give the batch size once: --batch-size or --option batch_size")
    return options
