"""``rationalizer shortcuts``: which tokens does an unsupervised rationalizer (or, with
``--model``, a trained classifier) lean on?"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeGuard

import typer

from rationalizer.cli._common import (
    DataDirOption,
    DeviceOption,
    LabelMapOption,
    console,
    explainer_options,
    labels_matched,
    process_console,
)
from rationalizer.errors import RationalizerError

if TYPE_CHECKING:
    from rationalizer.training.discovery import Discovery
    from rationalizer.training.shortcuts import RankBy

#: Options that only discovery by an unsupervised run reads, refused with ``--model``.
TRAINING_ONLY = ("--labeled-fraction", "--encoder", "--epochs", "--seed", "--reuse", "--config")
#: Options that only discovery with ``--model`` reads.
MODEL_ONLY = (
    "--method",
    "--split",
    "--limit",
    "--rationale",
    "--batch-size",
    "--option",
    "--label-map",
)


def shortcuts_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the report (and the run).")],
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Discover the shortcuts of this trained classifier instead (a run directory of "
            "`rationalizer train`, or hf:PATH): a post-hoc explainer's top words outside the "
            "human rationale across --split.",
            show_default=False,
        ),
    ] = None,
    method: Annotated[
        str | None,
        typer.Option(
            "--method",
            "-x",
            help="With --model: the explainer (see `rationalizer explain --list`). Default: "
            "gradient-x-input.",
            show_default=False,
        ),
    ] = None,
    split: Annotated[
        str | None,
        typer.Option(
            "--split",
            "-s",
            help="With --model: train, validation or test. Default: test.",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="With --model: only the first N examples of the split.",
            show_default=False,
        ),
    ] = None,
    rationale: Annotated[
        str | None,
        typer.Option(
            help="With --model: which words of an explanation are its top words: top-k:N, "
            "fraction:F or threshold:T. Default: top-k:3 (the 3 highest-scoring words, chosen "
            "on synthetic's validation split).",
            show_default=False,
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size",
            min=1,
            help="With --model: examples explained together and model inputs per forward pass "
            "(default 64), as for `rationalizer explain`.",
            show_default=False,
        ),
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            help="With --model: an explainer option as KEY=VALUE (repeatable), e.g. "
            "--option n_samples=128.",
            show_default=False,
        ),
    ] = None,
    label_map: LabelMapOption = None,
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
        str | None,
        typer.Option(help="gru, minilm, a local Hugging Face folder or a Hub ID. Default: gru."),
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
            "keeps every such word. Default: 1 (shortcut_min_skew); 0 with --model.",
        ),
    ] = None,
    max_evidence_ratio: Annotated[
        float | None,
        typer.Option(
            help="Drop a word selected outside the human rationale if annotators mark its word "
            "type as rationale at least this many times as often as the average word "
            "(evidence elsewhere, not a shortcut); 0 keeps every such word. Default: 0 "
            "(shortcut_max_evidence_ratio).",
            show_default=False,
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
            help="fp32 | bf16 | fp16 | auto, as for `rationalizer train`. Default: auto; fp32 "
            "with --model.",
            show_default=False,
        ),
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Discover shortcut tokens: words a model leans on that humans do not count as evidence.

    Trains (or reuses) an unsupervised rationalizer on the training split, runs it on the
    annotated training examples, and reports the words it selects outside the human rationale
    whose word type leans to a label (--min-skew) and, with --max-evidence-ratio, that
    annotators do not mark as rationale elsewhere, ranked by frequency (or by label skew,
    --rank-by skew) with their label skew and example contexts (OUT/shortcuts.json and
    OUT/shortcuts.md). On the synthetic dataset it also scores discovery against the planted
    shortcut phrases.

    Example: [bold]rationalizer shortcuts -d movies --labeled-fraction 0.25 -o runs/shortcuts[/]

    The same discovery, ordered by label skew: [bold]rationalizer shortcuts -d movies --reuse
    runs/shortcuts/shortcut-discovery --rank-by skew -o runs/shortcuts-by-skew[/]

    The unsupervised run trains on N processes like `rationalizer train`: [bold]torchrun
    --standalone --nproc-per-node N -m rationalizer shortcuts ...[/]

    With --model, the shortcuts of a classifier you already have (one of our runs or hf:PATH):
    a post-hoc explainer (--method) explains its prediction on every annotated example of
    --split, and the top words of each explanation (--rationale) that lie outside the human
    rationale are aggregated into the same report. No label-skew filter unless --min-skew is
    given: the filter reads the data, not the model. One process.

    Example: [bold]rationalizer shortcuts -m runs/full-text -d synthetic -x occlusion -o
    runs/shortcuts-occlusion[/]
    """
    # Imported here so that `--help` does not pay for torch.
    from rationalizer.training.shortcuts import RANKINGS, REPORT_JSON, REPORT_MD

    if not _is_ranking(rank_by):  # before training, not after
        raise typer.BadParameter(
            f"{rank_by!r} is not one of {', '.join(RANKINGS)}", param_hint="--rank-by"
        )
    given = {
        "--labeled-fraction": labeled_fraction,
        "--encoder": encoder,
        "--epochs": epochs,
        "--seed": seed,
        "--reuse": reuse,
        "--config": config,
        "--method": method,
        "--split": split,
        "--limit": limit,
        "--rationale": rationale,
        "--batch-size": batch_size,
        "--option": option or None,
        "--label-map": label_map,
    }
    wrong = TRAINING_ONLY if model is not None else MODEL_ONLY
    misplaced = [name for name in wrong if given[name] is not None]
    if misplaced:
        needs = "discovery by an unsupervised run, not --model" if model else "--model"
        raise RationalizerError(f"{misplaced[0]} is for {needs} (see --help)")
    found: Discovery | None
    if model is not None:
        found = posthoc_discovery(
            model,
            out,
            dataset=dataset or "synthetic",
            method=method,
            split=split or "test",
            limit=limit,
            rationale=rationale,
            options=explainer_options(option, batch_size),
            min_skew=min_skew or 0.0,
            max_evidence_ratio=max_evidence_ratio or 0.0,
            rank_by=rank_by,
            loading={"device": device, "precision": precision},
            label_map=label_map,
            data_dir=data_dir,
        )
    else:
        found = run_discovery(
            out,
            config=config,
            rank_by=rank_by,
            dataset=dataset,
            # Any SSR method: discovery trains (or reuses) the matching unsupervised run.
            method="ssr-unif",
            labeled_fraction=labeled_fraction,
            encoder=encoder,
            epochs=epochs,
            seed=seed,
            shortcut_run=str(reuse) if reuse else None,
            shortcut_min_skew=min_skew,
            shortcut_max_evidence_ratio=max_evidence_ratio,
            device=device,
            precision=precision,
            data_dir=str(data_dir) if data_dir else None,
        )
    if found is None:  # not the main process of a torchrun launch
        return
    console.print(found.report.rich_table())
    report = found.report
    if report.min_skew:
        console.print(
            f"label-skew filter (min skew {report.min_skew:g}): kept {report.shortcut_words} of "
            f"{report.candidate_words} words selected outside the human rationales",
            soft_wrap=True,
        )
    if report.max_evidence_ratio:
        console.print(
            f"evidence filter (max evidence ratio {report.max_evidence_ratio:g}): dropped "
            f"{report.evidence_filtered_words} words whose types lie inside human rationales at "
            f"least {report.max_evidence_ratio:g} times as often as the average word",
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


def _is_ranking(rank_by: str) -> TypeGuard[RankBy]:
    """Whether ``--rank-by`` names a ranking (typer takes the option as a plain string)."""
    from rationalizer.training.shortcuts import RANKINGS

    return rank_by in RANKINGS


def run_discovery(
    out: Path, *, config: Path | None, rank_by: RankBy, **overrides: Any
) -> Discovery | None:
    """SSR's discovery: train (or reuse) the unsupervised run and report what it selects;
    None on the processes of a torchrun launch other than the main one."""
    from rationalizer import distributed
    from rationalizer.training.config import TrainConfig
    from rationalizer.training.discovery import discover_shortcuts

    settings = TrainConfig.from_file(config) if config else TrainConfig()
    settings = settings.with_overrides(**overrides)
    with distributed.session(settings.device) as context:
        distributed.resolve_device(settings.device)  # refused before any data is loaded
        found = discover_shortcuts(settings, out, process_console(), rank_by=rank_by)
    return found if context.is_main else None


def posthoc_discovery(
    model: str,
    out: Path,
    *,
    dataset: str,
    method: str | None,
    split: str,
    limit: int | None,
    rationale: str | None,
    options: dict[str, Any],
    min_skew: float,
    max_evidence_ratio: float,
    rank_by: RankBy,
    loading: dict[str, Any],
    label_map: str | None,
    data_dir: Path | None,
) -> Discovery:
    """Discovery with a post-hoc explainer of ``model`` on ``split``, written to ``out``."""
    from rationalizer import distributed
    from rationalizer.data import load
    from rationalizer.explain.adapters import load_adapter
    from rationalizer.explain.global_shortcuts import (
        DISCOVERY_METHOD,
        discover_with_explainer,
        discovery_explainer,
    )
    from rationalizer.provenance import code_provenance
    from rationalizer.training.discovery import write_discovery

    explainer = discovery_explainer(method or DISCOVERY_METHOD, rationale, **options)
    distributed.resolve_device(loading["device"])  # an error that names --device, before loading
    adapter = load_adapter(model, **loading)
    data = labels_matched(load(dataset, split, data_dir), adapter.labels, label_map)
    if limit is not None:
        data = data[:limit]
    found = discover_with_explainer(
        explainer,
        adapter,
        data,
        min_skew=min_skew,
        max_evidence_ratio=max_evidence_ratio,
        rank_by=rank_by,
        progress=True,
        console=process_console(),
    )
    made_by = {
        "provenance": code_provenance(),
        "effective_config": {
            "model": model,
            "explainer": explainer.name,
            "explainer_settings": explainer.settings,
            "dataset": dataset,
            "split": data.split,
            "examples": len(data),
            "label_map": label_map,
            "min_skew": min_skew,
            "max_evidence_ratio": max_evidence_ratio,
            "rank_by": rank_by,
        },
    }
    write_discovery(found, out, made_by)
    return found
