"""``rationalizer shortcuts``: which tokens does an unsupervised rationalizer lean on?"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rationalizer.cli._common import DataDirOption, console, console_err


def shortcuts_command(
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset to examine.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the report (and the run).")],
    labeled_fraction: Annotated[
        float, typer.Option(help="Fraction of training examples with human rationales to use.")
    ] = 0.25,
    encoder: Annotated[
        str, typer.Option(help="gru, minilm or a local Hugging Face folder.")
    ] = "gru",
    epochs: Annotated[int | None, typer.Option(help="Epochs of the unsupervised run.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the run and of the annotated subset.")] = 0,
    reuse: Annotated[
        Path | None,
        typer.Option(
            help="An existing unsupervised (rnp) run directory to reuse instead of training."
        ),
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Discover shortcut tokens: selected by an unsupervised rationalizer, not by humans.

    Trains (or reuses) an unsupervised rationalizer on the training split, runs it on the
    annotated training examples, and reports the words it selects outside the human rationale,
    ranked by frequency with their label skew and example contexts (OUT/shortcuts.json and
    OUT/shortcuts.md). On the synthetic dataset it also scores discovery against the planted
    shortcut phrases.

    Example: [bold]rationalizer shortcuts -d movies --labeled-fraction 0.25 -o runs/shortcuts[/]
    """
    # Imported here so that `--help` does not pay for torch.
    from rationalizer.training.config import TrainConfig
    from rationalizer.training.discovery import REPORT_JSON, REPORT_MD, discover_shortcuts

    config = TrainConfig().with_overrides(
        dataset=dataset,
        # Any SSR method: discovery trains (or reuses) the matching unsupervised run.
        method="ssr-unif",
        labeled_fraction=labeled_fraction,
        encoder=encoder,
        epochs=epochs,
        seed=seed,
        shortcut_run=str(reuse) if reuse else None,
        data_dir=str(data_dir) if data_dir else None,
    )
    found = discover_shortcuts(config, out, console_err)
    console.print(found.report.rich_table())
    if found.scores is not None:
        scores = found.scores
        console.print(
            f"discovery vs planted shortcuts: token precision {scores['token_precision']:.3f}, "
            f"recall {scores['token_recall']:.3f}, phrase recall {scores['phrase_recall']:.3f}",
            soft_wrap=True,
        )
    console.print(f"report: {out / REPORT_MD} and {out / REPORT_JSON}", soft_wrap=True)
