"""``rationalizer shortcuts``: which tokens does an unsupervised rationalizer lean on?"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rationalizer.cli._common import DataDirOption, DeviceOption, console, process_console


def shortcuts_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the report (and the run).")],
    dataset: Annotated[
        str | None,
        typer.Option("--dataset", "-d", help="Dataset to examine. Default: synthetic."),
    ] = None,
    labeled_fraction: Annotated[
        float | None,
        typer.Option(
            help="Fraction of training examples with human rationales to use. Default: 0.25."
        ),
    ] = None,
    encoder: Annotated[
        str | None, typer.Option(help="gru, minilm or a local Hugging Face folder. Default: gru.")
    ] = None,
    epochs: Annotated[
        int | None, typer.Option(help="Epochs of the unsupervised run. Default: 10.")
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(help="Seed of the run and of the annotated subset. Default: 0."),
    ] = None,
    reuse: Annotated[
        Path | None,
        typer.Option(
            help="A finished shortcut-discovery run (method fr, same dataset, encoder, seed and "
            "settings) to reuse instead of training one."
        ),
    ] = None,
    min_skew: Annotated[
        float | None,
        typer.Option(
            help="Keep a word selected outside the human rationale only if its word type leans "
            "to a label outside human rationales by at least this smoothed log-odds (nats); 0 "
            "keeps every such word. Default: 1 (shortcut_min_skew).",
        ),
    ] = None,
    rank_by: Annotated[
        str,
        typer.Option(
            help="Order of the report: count (phrases in the most examples first) or skew "
            "(phrases that give the label away first, by smoothed label log-odds; frequent "
            "words selected under every label sink).",
        ),
    ] = "count",
    config: Annotated[
        Path | None,
        typer.Option(
            help="JSON or TOML file of training settings, as for `rationalizer train`; "
            "command-line options override it."
        ),
    ] = None,
    device: DeviceOption = None,
    precision: Annotated[
        str | None,
        typer.Option(
            help="fp32 | bf16 | fp16 | auto, as for `rationalizer train`. Default: auto.",
            show_default=False,
        ),
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Discover shortcut tokens: selected by an unsupervised rationalizer, not by humans.

    Trains (or reuses) an unsupervised rationalizer on the training split, runs it on the
    annotated training examples, and reports the words it selects outside the human rationale
    whose word type leans to a label (--min-skew), ranked by frequency (or by label skew,
    --rank-by skew) with their label skew and example contexts (OUT/shortcuts.json and
    OUT/shortcuts.md). On the synthetic dataset it also scores discovery against the planted
    shortcut phrases.

    Example: [bold]rationalizer shortcuts -d movies --labeled-fraction 0.25 -o runs/shortcuts[/]

    The same discovery, ordered by label skew: [bold]rationalizer shortcuts -d movies --reuse
    runs/shortcuts/shortcut-discovery --rank-by skew -o runs/shortcuts-by-skew[/]

    The unsupervised run trains on N processes like `rationalizer train`: [bold]torchrun
    --standalone --nproc-per-node N -m rationalizer shortcuts ...[/]
    """
    # Imported here so that `--help` does not pay for torch.
    from rationalizer import distributed
    from rationalizer.training.config import TrainConfig
    from rationalizer.training.discovery import REPORT_JSON, REPORT_MD, discover_shortcuts
    from rationalizer.training.shortcuts import RANKINGS

    if rank_by not in RANKINGS:  # before training, not after
        raise typer.BadParameter(
            f"{rank_by!r} is not one of {', '.join(RANKINGS)}", param_hint="--rank-by"
        )

    settings = TrainConfig.from_file(config) if config else TrainConfig()
    settings = settings.with_overrides(
        dataset=dataset,
        # Any SSR method: discovery trains (or reuses) the matching unsupervised run.
        method="ssr-unif",
        labeled_fraction=labeled_fraction,
        encoder=encoder,
        epochs=epochs,
        seed=seed,
        shortcut_run=str(reuse) if reuse else None,
        shortcut_min_skew=min_skew,
        device=device,
        precision=precision,
        data_dir=str(data_dir) if data_dir else None,
    )
    with distributed.session(settings.device) as context:
        distributed.resolve_device(settings.device)  # refused before any data is loaded
        found = discover_shortcuts(settings, out, process_console(), rank_by=rank_by)
    if not context.is_main:
        return
    console.print(found.report.rich_table())
    report = found.report
    if report.min_skew:
        console.print(
            f"label-skew filter (min skew {report.min_skew:g}): kept {report.shortcut_words} of "
            f"{report.candidate_words} words selected outside the human rationales",
            soft_wrap=True,
        )
    if found.scores is not None:
        scores = found.scores
        console.print(
            f"discovery vs planted shortcuts: token precision {scores['token_precision']:.3f}, "
            f"recall {scores['token_recall']:.3f}; planted phrases found in the top "
            f"{scores['k']} {scores['phrase_recall']:.2f}, in the top {scores['depth']} "
            f"{scores['phrase_recall_at_depth']:.2f}",
            soft_wrap=True,
        )
    console.print(f"report: {out / REPORT_MD} and {out / REPORT_JSON}", soft_wrap=True)
