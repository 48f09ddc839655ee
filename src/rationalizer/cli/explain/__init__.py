"""``rationalizer explain``: post-hoc explanations of a trained run or a Hugging Face classifier."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from rationalizer.cli._common import (
    DataDirOption,
    DeviceOption,
    LabelMapOption,
    console,
    evaluate_hint,
    explainer_options,
    labels_matched,
    process_console,
)
from rationalizer.cli.explain.figures import (
    checked_format,
    figure,
    write_dataset_figures,
    write_figure,
)
from rationalizer.errors import RationalizerError

if TYPE_CHECKING:
    from rationalizer.data import Dataset
    from rationalizer.explain.base import Explanation

#: Highlight of rationale words: reverse video reads in any terminal theme and without colour.
RATIONALE_STYLE = "bold reverse"


def explain_command(
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="A run directory made by `rationalizer train`, or hf:PATH for a Hugging Face "
            "sequence classifier (a folder or a Hub ID).",
            show_default=False,
        ),
    ] = None,
    method: Annotated[
        str, typer.Option("--method", "-x", help="Explainer (see --list).")
    ] = "integrated-gradients",
    text: Annotated[
        str | None,
        typer.Option(
            "--text", "-t", help="One text to explain (words split on spaces).", show_default=False
        ),
    ] = None,
    query: Annotated[
        str | None,
        typer.Option(help="Claim or question paired with --text (pair tasks).", show_default=False),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            help="Label to explain (default: the model's prediction).", show_default=False
        ),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset",
            "-d",
            help="Explain a whole dataset split instead of --text.",
            show_default=False,
        ),
    ] = None,
    split: Annotated[
        str, typer.Option("--split", "-s", help="train, validation or test.")
    ] = "test",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Results jsonl to write (with --dataset).", show_default=False
        ),
    ] = None,
    rationale: Annotated[
        str | None,
        typer.Option(
            help="How scores become the hard rationale: top-k:N, fraction:F or threshold:T "
            "(default: the method's own; fraction:0.1 for score-based methods).",
            show_default=False,
        ),
    ] = None,
    masking: Annotated[
        str | None,
        typer.Option(
            help="How removed words are hidden from a Hugging Face model: mask, pad or delete "
            "(default: mask). Our runs always use their own trained mechanism.",
            show_default=False,
        ),
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            help="A method option as KEY=VALUE (repeatable), e.g. --option n_steps=32.",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(help="Explain only the first N examples of the split.", show_default=False),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size",
            min=1,
            help="Model inputs per forward pass (default 64). With --dataset, this many examples "
            "are explained together and their inputs (gradients, perturbed copies) packed into "
            "shared passes: the same explanations, faster; lower it if memory runs out, 1 runs "
            "one input per pass. Same as --option batch_size=N.",
            show_default=False,
        ),
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Keep the records already in --out and explain only the rest.")
    ] = True,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the explanation of --text as JSON.")
    ] = False,
    figure_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="svg or latex: write a paper figure (scores shaded, rationale bold) instead: "
            "with --text to --out FILE, or printed; with --dataset one file per example in the "
            "folder --out, the human rationale underlined (--limit N: the first N).",
            show_default=False,
        ),
    ] = None,
    list_methods: Annotated[
        bool, typer.Option("--list", help="List the explainers and exit.")
    ] = False,
    device: DeviceOption = None,
    precision: Annotated[
        str | None,
        typer.Option(
            help="fp32, bf16 or fp16 (autocast of the model's matrix products; weights stay "
            "float32), or auto (bf16 for transformers on hardware with bfloat16 units). "
            "Default: fp32.",
            show_default=False,
        ),
    ] = None,
    label_map: LabelMapOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Explain a classifier's predictions with any explainer: greedy rationales, gradients,
    integrated gradients, occlusion, LIME, KernelSHAP...

    Every method returns one score per word and a hard rationale (word spans). With --text the
    explanation is printed, rationale words highlighted; with --dataset the explanations of a
    whole split are written as an ERASER results file, with comprehensiveness and sufficiency
    computed on token ids, for `rationalizer evaluate`. Long runs show a progress bar and
    resume where they stopped; a second command writing the same --out meanwhile is refused
    (lock file OUT.lock).

    Examples:

      [bold]rationalizer explain --list[/]

      [bold]rationalizer explain -m runs/ssr -x greedy -t "a gripping , beautifully acted film"[/]

      [bold]rationalizer explain -m hf:models/hatexplain -x lime -d hatexplain -o lime.jsonl[/]

      [bold]rationalizer explain -m runs/ssr -x occlusion -d movies -o occ.jsonl --batch-size 128[/]

      [bold]rationalizer explain -m runs/ssr -x lime -t "a gripping film" --format svg -o fig.svg[/]

    A split on N processes: [bold]torchrun --standalone --nproc-per-node N -m rationalizer
    explain -m runs/ssr -x occlusion -d movies -o occ.jsonl[/]. The processes take turns at
    blocks of --batch-size examples, each writing OUT.part-RANK-of-N (resumable); rank 0 merges
    them into OUT, the file one process writes.
    """
    # Imported here so that `--help` does not pay for torch.
    from rationalizer.explain import get_explainer, list_explainers

    if list_methods:
        console.print(methods_table(list_explainers()))
        return
    if model is None:
        raise RationalizerError("give the model to explain with --model (see --help)")
    if (text is None) == (dataset is None):
        raise RationalizerError("give either --text or --dataset")
    if checked_format(figure_format) and as_json:
        raise RationalizerError("give one output: --json or --format")
    explainer = get_explainer(method)(rule=rationale, **explainer_options(option, batch_size))
    from rationalizer.explain.adapters import load_adapter

    if masking is not None and not model.startswith("hf:"):
        raise RationalizerError(
            "--masking is for Hugging Face models: a rationalizer run hides removed words the "
            "way it was trained to"
        )
    from rationalizer import distributed

    distributed.resolve_device(device)  # an error that names --device, before any loading
    loading: dict[str, Any] = {"device": device, "precision": precision}
    if masking:
        loading["masking"] = masking
    if text is not None:
        if out is not None and figure_format is None:
            raise RationalizerError(
                "--out is for --dataset or --format; --text prints its explanation"
            )
        if label_map is not None:
            raise RationalizerError("--label-map is for --dataset: a --text has no gold label")
        adapter = load_adapter(model, **loading)
        [explanation] = explainer.attribute(adapter, text, target, queries=query)
        if figure_format is not None:
            write_figure(figure(explanation, figure_format), out)
        elif as_json:
            console.print_json(json.dumps(explanation.to_dict()))
        else:
            show(explanation)
        return
    assert dataset is not None  # exactly one of --text and --dataset, checked above
    if out is None:
        raise RationalizerError("--dataset needs --out FILE for the results")
    if figure_format is not None:
        adapter = load_adapter(model, **loading)
        data = load_split(adapter, dataset, split, limit, data_dir, label_map)
        paths = write_dataset_figures(explainer, adapter, data, out, figure_format)
        console.print(f"{len(paths):,} {figure_format} figures by {explainer.name} in {out}")
        return
    with distributed.session(device) as context, distributed.output_lock(out):
        adapter = load_adapter(model, **loading)
        data = explain_split(
            explainer, adapter, dataset, split, out, limit, resume, data_dir, label_map
        )
    if not context.is_main:
        return
    console.print(
        f"{len(data):,} explanations of {dataset}/{data.split} by {explainer.name} in {out}",
        soft_wrap=True,
    )
    console.print(evaluate_hint(dataset, split, out, label_map), soft_wrap=True)


def explain_split(
    explainer, adapter, dataset: str, split: str, out: Path, limit, resume, data_dir, label_map
) -> Dataset:
    """Explain the split into ``out`` (keeping what is there unless ``resume`` is off) and
    return it. Under torchrun the processes take turns at blocks of the explainer's batch
    size, the chunks one process explains together, each writing its part file; rank 0 merges
    the parts into ``out`` in the split's order."""
    from rationalizer import distributed
    from rationalizer.explain.faithfulness import explain_dataset

    data = load_split(adapter, dataset, split, limit, data_dir, label_map)
    context = distributed.current()
    target = distributed.part_path(out) if context.distributed else out
    if target.exists() and not resume:
        target.unlink()
    size = getattr(explainer.options, "batch_size", 1)
    blocks = [data.examples[i : i + size] for i in range(0, len(data), size)]
    share = replace(data, examples=tuple(ex for block in distributed.shard(blocks) for ex in block))
    explain_dataset(
        explainer, adapter, share, progress=True, resume_path=target, console=process_console()
    )
    if context.distributed:
        distributed.barrier("writing the part files")
        if context.is_main:
            distributed.merge_parts(out, [example.id for example in data])
    return data


def load_split(adapter, dataset: str, split: str, limit, data_dir, label_map) -> Dataset:
    """The split in the model's labels, its first ``limit`` examples when a limit is given."""
    from rationalizer.data import load

    data = labels_matched(load(dataset, split, data_dir), adapter.labels, label_map)
    return data if limit is None else replace(data, examples=data.examples[:limit])


def methods_table(explainers: dict) -> Table:
    table = Table(title="explainers", title_justify="left")
    table.add_column("method", style="bold")
    table.add_column("needs")
    table.add_column("what the scores mean")
    for name, cls in explainers.items():
        table.add_row(name, cls.requires, cls.description)
    return table


def highlighted(explanation: Explanation) -> Text:
    """The text with rationale words in :data:`RATIONALE_STYLE`."""
    mask = explanation.rationale_mask
    text = Text()
    for i, word in enumerate(explanation.words):
        if i:
            text.append(" ", style=RATIONALE_STYLE if mask[i] and mask[i - 1] else None)
        text.append(word, style=RATIONALE_STYLE if mask[i] else None)
    return text


def show(explanation: Explanation, top: int = 10) -> None:
    probabilities = ", ".join(f"{k} {v:.3f}" for k, v in explanation.probabilities.items())
    console.print(
        f"[bold]{explanation.method}[/] explains [bold]{explanation.target}[/] "
        f"(model: {probabilities}; {explanation.seconds:.2f} s)",
        soft_wrap=True,
    )
    if explanation.query:
        console.print(f"query: {explanation.query}", soft_wrap=True)
    console.print(highlighted(explanation))
    ranked = sorted(range(len(explanation.words)), key=lambda i: -explanation.scores[i])[:top]
    table = Table(title=f"top {len(ranked)} words", title_justify="left")
    table.add_column("word")
    table.add_column("position", justify="right")
    table.add_column("score", justify="right")
    for i in ranked:
        table.add_row(explanation.words[i], str(i), f"{explanation.scores[i]:+.4f}")
    console.print(table)
