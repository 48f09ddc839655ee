"""``rationalizer data``: list, download and describe the datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from rationalizer.cli._common import DataDirOption, console, console_err
from rationalizer.data import available_datasets, load, resolve_data_dir
from rationalizer.data.download import (
    DownloadError,
    Outcome,
    State,
    download_source,
    downloadable,
    folder_state,
    sources_for,
)
from rationalizer.data.registry import SPLITS, loader_class
from rationalizer.data.stats import SplitStats, split_stats
from rationalizer.errors import RationalizerError
from rationalizer.files import write_json

app = typer.Typer(
    help="Datasets with human rationales: what is available, downloading them, and what a "
    "split looks like.",
    no_args_is_help=True,
)


@app.command("list")
def list_command(data_dir: DataDirOption = None) -> None:
    """List the registered datasets: whether their files are downloaded (by [bold]rationalizer
    data download[/], verified), present (placed by hand) or missing, the download size, and
    the source.

    Example: [bold]rationalizer data list[/]
    """
    root = resolve_data_dir(data_dir)
    sources = downloadable()
    table = Table(title=f"Datasets (data directory: {root})")
    for column in ("name", "description", "files", "download", "source"):
        table.add_column(column, overflow="fold")
    for name, info in available_datasets().items():
        loader_cls = loader_class(name)
        size = ""
        if loader_cls.parametrised:
            status = "your path"
        elif loader_cls.folder is None:
            status = "[green]built in[/]"
        elif name in sources:
            source = sources[name]
            size = _size(source.download_size, exact=source.archive_size is not None)
            status = {
                State.DOWNLOADED: "[green]downloaded[/]",
                State.PRESENT: "[green]present[/] (placed by hand)",
                State.MISSING: f"[yellow]missing[/]: rationalizer data download {name}",
            }[folder_state(source, root)]
        else:
            present = (root / loader_cls.folder).is_dir()
            status = "[green]present[/]" if present else "[yellow]missing[/]"
        shown = f"{name}:PATH" if loader_cls.parametrised else name
        table.add_row(shown, info.description, status, size, info.url)
    console.print(table)


def _size(size: int, exact: bool) -> str:
    return f"{'' if exact else '~'}{size / 1e6:.{1 if exact else 0}f} MB"


@app.command("download")
def download_command(
    name: Annotated[
        str,
        typer.Argument(
            help="Dataset to download (movies, movies-zaidan, hatexplain, fever), or all.",
            show_default=False,
        ),
    ],
    data_dir: DataDirOption = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Download again and replace an existing dataset folder (needed when it does "
            "not match its pin).",
        ),
    ] = False,
) -> None:
    """Download a dataset from its pinned source, verify it, and install it in the data
    directory.

    Each dataset gets its own folder in the data directory (--data-dir, else
    $RATIONALIZER_DATA, else ~/.cache/rationalizer): movies-eraser/, movies-zaidan/,
    hatexplain-eraser/, fever-eraser/. Archives are downloaded to .downloads/ in the data
    directory and deleted once installed. ERASER's movies archive must match its pinned size
    and sha256 before it is extracted; GitHub generates its archives on request, so for those
    the sha256 of the extracted files is pinned instead. The folder appears only after it
    passed verification. An interrupted download resumes where it stopped when you run the
    command again; a folder that is already there and verified is left alone. Exit status 1
    when a download fails.

    Examples: [bold]rationalizer data download movies[/] ·
    [bold]rationalizer data download all --data-dir data[/]
    """
    root = resolve_data_dir(data_dir)
    failed = 0
    for dataset, source in sources_for(name):
        target = root / source.folder
        try:
            outcome = download_source(source, root, label=dataset, force=force, console=console_err)
        except DownloadError as error:
            console_err.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
            failed += 1
            continue
        message = {
            Outcome.DOWNLOADED: f"[green]downloaded and verified[/] into {target}",
            Outcome.VERIFIED: f"already in {target} and verified; nothing to do",
            Outcome.KEPT_UNVERIFIED: f"[yellow]{target} exists (placed by hand) and cannot be "
            "checked, since the source pins the archive's bytes; kept as is (--force replaces "
            "it with a fresh download)[/]",
        }[outcome]
        console.print(f"{dataset}: {message}", highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(1)


@app.command("stats")
def stats_command(
    name: Annotated[
        str,
        typer.Argument(help="Dataset name, e.g. movies, hatexplain, fever, synthetic, eraser:DIR."),
    ],
    split: Annotated[
        list[str] | None,
        typer.Option(
            "--split", "-s", help="Split(s) to describe; repeat the option. Default: all three."
        ),
    ] = None,
    max_length: Annotated[
        int | None,
        typer.Option(help="Also report what truncating to this many positions would drop."),
    ] = None,
    tokenizer: Annotated[
        str | None,
        typer.Option(
            help="Count --max-length in this tokenizer's positions: 'minilm' or a local HF "
            "tokenizer directory (default: count document words).",
        ),
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the statistics as JSON here.")
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Counts, label balance, lengths, rationale density and truncation loss of a dataset.

    Example: [bold]rationalizer data stats movies --split test --max-length 512[/]
    """
    if tokenizer is not None and max_length is None:
        raise RationalizerError("--tokenizer only matters together with --max-length")
    encoder = _load_encoder(tokenizer) if tokenizer else None
    splits = split or list(SPLITS)
    results: list[SplitStats] = []
    for one in splits:
        dataset = load(name, one, data_dir)
        results.append(split_stats(dataset, max_length=max_length, encoder=encoder))
    console.print(_stats_table(name, results))
    if json_out is not None:
        write_json(json_out, "data-stats", {"splits": [r.to_dict() for r in results]})
        console.print(f"wrote {json_out}", soft_wrap=True)


def _load_encoder(spec: str):
    from rationalizer.data.pretrained import resolve_model_path
    from rationalizer.data.tokenization import SubwordTokenizer

    return SubwordTokenizer.from_pretrained(resolve_model_path(spec))


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _stats_table(name: str, results: list[SplitStats]) -> Table:
    table = Table(title=f"{name}: split statistics (lengths in document words; query not counted)")
    table.add_column("statistic")
    for r in results:
        table.add_column(r.split, justify="right")
    rows: list[tuple[str, list[str]]] = [
        ("examples", [f"{r.examples:,}" for r in results]),
        *(
            (f"label {label}", [f"{r.label_counts.get(label, 0):,}" for r in results])
            for label in results[0].label_counts
        ),
        ("mean tokens", [_fmt(r.mean_tokens, 1) for r in results]),
        (
            "median / min / max tokens",
            [f"{r.median_tokens:g} / {r.min_tokens} / {r.max_tokens}" for r in results],
        ),
        ("mean query tokens", [_fmt(r.mean_query_tokens, 1) for r in results]),
        ("with gold rationale", [f"{r.with_rationale:,}" for r in results]),
        ("spans per rationale example", [_fmt(r.spans_per_rationale_example, 2) for r in results]),
        (
            "rationale tokens per rationale example",
            [_fmt(r.rationale_tokens_per_rationale_example, 1) for r in results],
        ),
        ("density micro (rationale examples)", [_fmt(r.density_micro) for r in results]),
        ("density macro (rationale examples)", [_fmt(r.density_macro) for r in results]),
        ("density over all examples", [_fmt(r.density_all_examples) for r in results]),
    ]
    # One max_length for every split: all of them were truncated, or none.
    truncations = [r.truncation for r in results if r.truncation is not None]
    if len(truncations) == len(results):
        unit = truncations[0].unit
        rows += [
            (
                f"truncated at {truncations[0].max_length} {unit}",
                [f"{t.truncated_examples:,}" for t in truncations],
            ),
            ("  tokens dropped", [f"{t.dropped_token_fraction:.1%}" for t in truncations]),
            (
                "  rationale tokens dropped",
                [f"{t.dropped_rationale_fraction:.1%}" for t in truncations],
            ),
        ]
    for label, values in rows:
        table.add_row(label, *values)
    return table
