"""``rationalizer train``: train a self-explaining classifier into a run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from typer.core import TyperCommand, TyperOption

from rationalizer.cli._common import DataDirOption, DeviceOption, console, process_console

DATA = "Data"
METHOD = "Method"
MODEL = "Model"
TRAINING = "Training"


class TrainCommand(TyperCommand):
    """``rationalizer train``: its options' help names the defaults of :class:`TrainConfig` and
    the registered methods, filled in when the help is shown. So each is written once, and only
    ``train --help`` pays for importing them (torch), not the start of every command.

    An option's help says ``{default}`` where its default goes and ``{methods}`` for the list.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help_templates = {
            option: option.help
            for option in self.params
            if isinstance(option, TyperOption) and option.help
        }

    # Any: typer's vendored click types are not public
    def format_help(self, ctx: Any, formatter: Any) -> None:
        from rationalizer.training.config import TrainConfig
        from rationalizer.training.methods import available_methods

        methods = " | ".join(available_methods())
        for option, template in self.help_templates.items():
            field = TrainConfig.model_fields.get(option.name or "")
            default = _shown_default(option, field.default) if field else None
            option.help = template.format(default=default, methods=methods)
        super().format_help(ctx, formatter)


def _shown_default(option: TyperOption, default: Any) -> str:
    """A setting's default as the command line gives it: a flag by its name, 1.0 as 1."""
    if option.is_bool_flag and option.secondary_opts:
        return option.opts[0] if default else option.secondary_opts[0]
    if isinstance(default, float):
        return f"{default:g}"
    return str(default)


def _list_methods(value: bool) -> None:
    """Print the methods and exit; eager, so that --out is not required for it."""
    if not value:
        return
    from rationalizer.training.methods import available_methods

    table = Table("method", "what it trains")
    for name, description in available_methods().items():
        table.add_row(name, description)
    console.print(table)
    raise typer.Exit()


def train_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Run directory to create (or resume).")],
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset",
            "-d",
            help="Dataset name (see `rationalizer data list`). Default: {default}.",
            rich_help_panel=DATA,
        ),
    ] = None,
    method: Annotated[
        str | None,
        typer.Option(
            "--method",
            "-m",
            help="{methods} (--list-methods says what each trains). Default: {default}.",
            rich_help_panel=METHOD,
        ),
    ] = None,
    augment: Annotated[
        str | None,
        typer.Option(
            help="SSR data augmentation: none | random | semantic | mixed. Default: {default}.",
            rich_help_panel=METHOD,
        ),
    ] = None,
    labeled_fraction: Annotated[
        float | None,
        typer.Option(
            help="Fraction of training examples whose human rationale is used (0–1). "
            "Default: {default}.",
            rich_help_panel=METHOD,
        ),
    ] = None,
    encoder: Annotated[
        str | None,
        typer.Option(
            help="gru (BiGRU over GloVe 50d), minilm, a local Hugging Face model folder or a Hub "
            "ID. "
            "Default: {default}.",
            rich_help_panel=MODEL,
        ),
    ] = None,
    word_vectors: Annotated[
        str | None,
        typer.Option(
            help="gru: pretrained word vectors, glove-6b-50d or a GloVe/word2vec text file "
            "(.txt or .txt.gz), e.g. GloVe 840B 300d. Default: {default}.",
            rich_help_panel=MODEL,
        ),
    ] = None,
    epochs: Annotated[
        int | None,
        typer.Option(help="Maximum training epochs. Default: {default}.", rich_help_panel=TRAINING),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            help="Seed for data choice, initialisation and sampling. Default: {default}.",
            rich_help_panel=TRAINING,
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            help="Examples per step and process: under torchrun with N processes a step "
            "trains on N × this many. Default: {default}.",
            rich_help_panel=TRAINING,
        ),
    ] = None,
    max_length: Annotated[
        int | None,
        typer.Option(
            help="Cut documents to this many model positions (query and special tokens "
            "included); the run reports what it cut. Default: whole documents for gru, the "
            "model's limit for transformers.",
            rich_help_panel=MODEL,
        ),
    ] = None,
    train_embeddings: Annotated[
        bool | None,
        typer.Option(
            "--train-embeddings/--fixed-embeddings",
            help="gru: fine-tune the GloVe vectors, or keep them fixed. Default: {default}.",
            show_default=False,
            rich_help_panel=MODEL,
        ),
    ] = None,
    query_attention: Annotated[
        bool | None,
        typer.Option(
            "--query-attention/--no-query-attention",
            help="gru: let every document word attend to the query (FEVER claims, questions). "
            "Default: {default}.",
            show_default=False,
            rich_help_panel=MODEL,
        ),
    ] = None,
    precision: Annotated[
        str | None,
        typer.Option(
            help="fp32 | bf16 | fp16 | auto. bf16 and fp16 run the matrix products under "
            "autocast (weights stay float32); fp16 also scales the loss so small gradients do "
            "not vanish. auto: bf16 for transformers on hardware with bfloat16 units, else "
            "fp32. Default: {default}.",
            rich_help_panel=TRAINING,
        ),
    ] = None,
    device: DeviceOption = None,
    selection: Annotated[
        str | None,
        typer.Option(
            help="How the selector picks words: threshold (where its select probability wins; "
            "may select nothing) or topk (exactly ceil(selection rate × words) per example). "
            "SSR's shortcut-discovery run always uses topk. Default: {default}.",
            rich_help_panel=METHOD,
        ),
    ] = None,
    shortcut_min_skew: Annotated[
        float | None,
        typer.Option(
            help="SSR: a word selected outside the human rationale is a shortcut only if its "
            "word type leans to a label outside human rationales by at least this smoothed "
            "log-odds (nats); 0 keeps every such word. Default: {default}.",
            rich_help_panel=METHOD,
        ),
    ] = None,
    shortcut_max_evidence_ratio: Annotated[
        float | None,
        typer.Option(
            help="SSR: a word selected outside the human rationale is a shortcut only if "
            "annotators mark its word type as rationale less than this many times as often as "
            "the average word (2: drop words that are evidence elsewhere); 0 keeps every such "
            "word. Default: {default}.",
            rich_help_panel=METHOD,
        ),
    ] = None,
    allow_no_shortcuts: Annotated[
        bool | None,
        typer.Option(
            "--allow-no-shortcuts",
            help="SSR: train like semi when discovery finds no shortcut word, instead of "
            "stopping with an error that says what to change.",
            show_default=False,
            rich_help_panel=METHOD,
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(help="JSON or TOML file of settings; command-line options override it."),
    ] = None,
    data_dir: DataDirOption = None,
    list_methods: Annotated[
        bool,
        typer.Option(
            "--list-methods",
            help="List the training methods and exit.",
            is_eager=True,
            rich_help_panel=METHOD,
            callback=_list_methods,
        ),
    ] = False,
) -> None:
    """Train a rationalizer: a selector picks a short rationale, a predictor sees only that.

    SSR methods first train an unsupervised rationalizer to discover shortcuts (kept in
    RUN_DIR/shortcut-discovery). Metrics of every epoch go to RUN_DIR/metrics.jsonl; the
    model selected on the validation split is saved as safetensors + JSON. Re-running the
    same command on an interrupted run resumes after its last completed epoch.

    Example: [bold]rationalizer train -d movies -m ssr-unif --augment semantic -o runs/ssr[/]

    On N processes (CPU cores or GPUs), each taking --batch-size examples of every step
    (N × --batch-size in all, as one process with N times the batch):
    [bold]torchrun --standalone --nproc-per-node N -m rationalizer train ... --device cuda[/].
    Rank 0 writes the run; it resumes on any number of processes.
    """
    # Imported here so that `--help` does not pay for torch.
    from rationalizer import distributed
    from rationalizer.training.config import TrainConfig
    from rationalizer.training.run import train_run

    settings = TrainConfig.from_file(config) if config else TrainConfig()
    settings = settings.with_overrides(
        dataset=dataset,
        method=method,
        augment=augment,
        labeled_fraction=labeled_fraction,
        encoder=encoder,
        epochs=epochs,
        seed=seed,
        batch_size=batch_size,
        max_length=max_length,
        word_vectors=word_vectors,
        train_embeddings=train_embeddings,
        query_attention=query_attention,
        precision=precision,
        device=device,
        selection=selection,
        shortcut_min_skew=shortcut_min_skew,
        shortcut_max_evidence_ratio=shortcut_max_evidence_ratio,
        allow_no_shortcuts=allow_no_shortcuts,
        data_dir=str(data_dir) if data_dir else None,
    )
    with distributed.session(settings.device) as context:
        distributed.resolve_device(settings.device)  # refused before any data is loaded
        result = train_run(settings, out, console=process_console())
    if not context.is_main:
        return
    best = result.validation
    shown = ", ".join(
        f"{name} {best[key]:.3f}"
        for key, name in [
            ("accuracy", "accuracy"),
            ("token_f1", "token F1"),
            ("selection_rate", "selection rate"),
        ]
        if key in best
    )
    console.print(
        f"best epoch {result.best_epoch} on validation: {shown}; "
        f"{result.examples_per_second:.1f} training examples/s",
        soft_wrap=True,
    )
    console.print(f"run saved in {out}", soft_wrap=True)
