"""Shortcut discovery: the run SSR needs before it trains, and the shortcuts it finds.

SSR needs shortcut masks before it can train: an unsupervised rationalizer (the RNP objective,
with FR's shared encoder) is trained on the training split, run on the annotated examples, and
every word it selects outside the human rationale is a potential shortcut. That run is kept
(``<out>/shortcut-discovery`` or a run given by ``shortcut_run``) so several SSR runs of one
dataset and seed can reuse it.

The unsupervised run selects with top-k at the target rate, so it selects words from its first
epoch on (a thresholded selector often selects nothing for epochs, or for good). A candidate
stays a shortcut word only if its word type leans to a label outside human rationales
(``shortcut_min_skew``) and, where ``shortcut_max_evidence_ratio`` is set, annotators do not
mark that type as rationale far more often than the average word. Discovery that finds no
shortcut word stops the run with an error
saying what to change, unless ``allow_no_shortcuts``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from rationalizer import distributed
from rationalizer.data import Dataset, Example, load, spans_to_mask
from rationalizer.errors import RationalizerError
from rationalizer.files import write_json
from rationalizer.provenance import code_provenance
from rationalizer.training.batching import choose_annotated
from rationalizer.training.checkpoint import load_checkpoint
from rationalizer.training.config import TrainConfig
from rationalizer.training.inference import Rationalizer
from rationalizer.training.shortcuts import (
    REPORT_JSON,
    REPORT_MD,
    SCORES_JSON,
    RankBy,
    ShortcutReport,
    build_report,
    discovery_scores,
    evidence_filter,
    shortcut_masks,
    skew_filter,
)
from rationalizer.training.trainer import SUMMARY_FILE, Trainer, limit_examples

DISCOVERY_DIR = "shortcut-discovery"
#: The unsupervised method that discovers shortcuts. FR rather than RNP: it shares its encoder
#: like the SSR model it serves, and with separate encoders RNP learns to select no word at all
#: on the movie reviews (see docs/training.md), which would leave nothing to discover.
DISCOVERY_METHOD = "fr"
#: How the discovery run selects: top-k never selects nothing, whatever its probabilities.
DISCOVERY_SELECTION = "topk"


@dataclass(frozen=True)
class Discovery:
    masks: dict[str, np.ndarray]
    report: ShortcutReport
    scores: dict | None  # precision/recall against planted shortcuts, where they are known


def unsupervised_config(config: TrainConfig) -> TrainConfig:
    """The unsupervised run that discovers shortcuts for ``config`` (same data, encoder, seed)."""
    # Settings the unsupervised run never reads are reset, so SSR runs that differ only in
    # them (λ, supervision, augmentation) share one discovery run.
    unused = (
        "augment",
        "augment_copies",
        "shortcut_weight",
        "supervision_weight",
        "balance_supervision",
        "annotated_task_input",
        "shortcut_run",
        "discovery_epochs",
        "shortcut_min_skew",
        "shortcut_max_evidence_ratio",
        "allow_no_shortcuts",
        "straight_through",  # top-k masks are always hard
    )
    defaults = {name: TrainConfig.model_fields[name].default for name in unused}
    own = {
        "method": DISCOVERY_METHOD,
        "epochs": config.discovery_epochs or config.epochs,
        "selection": DISCOVERY_SELECTION,
    }
    return TrainConfig.model_validate(config.model_dump() | defaults | own)


def ensure_unsupervised_run(
    config: TrainConfig, run_dir: Path, console: Console, train: Dataset | None = None
) -> Path:
    """Train the unsupervised rationalizer into ``run_dir`` unless a finished one is there."""
    unsupervised = unsupervised_config(config)
    if (run_dir / SUMMARY_FILE).is_file():
        if not load_checkpoint(run_dir, with_resume=False).train_config.same_run(unsupervised):
            raise RationalizerError(
                f"{run_dir} holds an unsupervised run with other settings than this run needs"
            )
        console.print(f"reusing the unsupervised run in {run_dir}")
        return run_dir
    console.print(f"training the unsupervised rationalizer for shortcut discovery in {run_dir}")
    Trainer(unsupervised, run_dir, console=console, train=train).fit()
    return run_dir


def discover_shortcuts(
    config: TrainConfig,
    out: Path,
    console: Console,
    train: Dataset | None = None,
    rank_by: RankBy = "count",
) -> Discovery:
    """Shortcut masks of the annotated training examples, with the report written to ``out``.

    ``rank_by`` orders the report (and the planted-shortcut scores); the masks do not depend
    on it.
    """
    made_by_code = code_provenance()  # as discovery starts (see Trainer._fit)
    train = train or limit_examples(load(config.dataset, "train", config.data_dir), config)
    run_dir = Path(config.shortcut_run) if config.shortcut_run else out / DISCOVERY_DIR
    ensure_unsupervised_run(config, run_dir, console, train)
    annotated_ids = choose_annotated(train, config.labeled_fraction, config.seed)
    annotated = [ex for ex in train if ex.id in annotated_ids]
    if not annotated:
        raise RationalizerError(
            "shortcut discovery needs annotated training examples: raise --labeled-fraction"
        )
    model = Rationalizer.load(run_dir, device=config.device)
    predictions = model.predict(
        [ex.document.tokens for ex in annotated], queries=[ex.query for ex in annotated]
    )
    predicted = {
        ex.id: spans_to_mask(p.rationale, len(ex.document))
        for ex, p in zip(annotated, predictions, strict=True)
    }
    # Rank 0's masks for every process: a GPU need not select alike on each, and the masks
    # decide the training examples (augmented copies), which must be the same on all.
    predicted = distributed.broadcast(predicted, "shortcut discovery")
    found = shortcuts_of_selections(
        annotated,
        predicted,
        train.labels,
        config.dataset,
        min_skew=config.shortcut_min_skew,
        max_evidence_ratio=config.shortcut_max_evidence_ratio,
        rank_by=rank_by,
    )
    report = found.report
    unsupervised = unsupervised_config(config)
    filled = unsupervised.filled_defaults()
    made_by = {
        "provenance": made_by_code,
        "effective_config": unsupervised.effective(filled),
        "overrides": [asdict(override) for override in filled],
    }
    if distributed.is_main():  # every process found the same; one writes it
        write_discovery(found, out, made_by)
    if report.shortcut_words == 0:
        why = _why_no_shortcuts(report, run_dir)
        if not config.allow_no_shortcuts:
            raise RationalizerError(
                f"shortcut discovery found no shortcut word: {why} (report: {out / REPORT_MD}). "
                "SSR would train exactly like `semi`. Set allow_no_shortcuts (rationalizer "
                "train --allow-no-shortcuts) to train anyway."
            )
        console.print(
            f"[yellow]warning:[/yellow] no shortcuts found: {why}. The shortcut terms stay "
            "zero (allow_no_shortcuts is set)."
        )
    return found


def shortcuts_of_selections(
    annotated: Sequence[Example],
    selected: Mapping[str, np.ndarray],
    labels: Sequence[str],
    dataset: str,
    *,
    min_skew: float,
    max_evidence_ratio: float = 0.0,
    rank_by: RankBy = "count",
) -> Discovery:
    """The shortcuts in the words some model ``selected`` (0/1 word masks by example id) on the
    ``annotated`` examples of ``dataset``: the selected words outside the human rationale that
    pass the label-skew filter at ``min_skew`` (:func:`skew_filter`) and the evidence filter at
    ``max_evidence_ratio`` (:func:`evidence_filter`), their report, and, where the dataset has
    planted shortcuts, how well they recover them."""
    masks, filtered = skew_filter(annotated, shortcut_masks(annotated, selected), labels, min_skew)
    masks, evidence_filtered = evidence_filter(annotated, masks, max_evidence_ratio)
    report = build_report(
        annotated,
        masks,
        labels,
        predicted=selected,
        rank_by=rank_by,
        min_skew=min_skew,
        filtered_words=filtered,
        max_evidence_ratio=max_evidence_ratio,
        evidence_filtered_words=evidence_filtered,
    )
    planted = planted_shortcuts(dataset)
    scores = None
    if planted is not None:
        scores = discovery_scores(annotated, masks, planted, rank_by=rank_by)
    return Discovery(masks, report, scores)


def write_discovery(found: Discovery, out: Path, made_by: Mapping[str, Any]) -> None:
    """``out``/:data:`REPORT_JSON` (with ``made_by``), :data:`REPORT_MD` and, where planted
    shortcuts were scored, :data:`SCORES_JSON`."""
    out.mkdir(parents=True, exist_ok=True)
    found.report.save_json(out / REPORT_JSON, made_by)
    (out / REPORT_MD).write_text(found.report.to_markdown(), encoding="utf-8")
    if found.scores is not None:
        write_json(out / SCORES_JSON, "discovery-scores", found.scores)


def _why_no_shortcuts(report: ShortcutReport, run_dir: Path) -> str:
    """Why a discovery found no shortcut word, and which setting to change."""
    if not report.selected_words:
        return (
            f"the unsupervised run in {run_dir} selects no words on the "
            f"{report.annotated_examples} annotated examples; give discovery more epochs "
            "(discovery_epochs) or a higher selection_rate"
        )
    if not report.candidate_words:
        return (
            f"the {report.selected_words} words the unsupervised run in {run_dir} selects on the "
            "annotated examples all lie inside the human rationales; raise selection_rate so "
            "that it selects more, or give discovery more epochs (discovery_epochs)"
        )
    dropped = []
    if report.filtered_words:
        dropped.append(
            f"the label-skew filter dropped {report.filtered_words}, whose word types lean to "
            f"no label by shortcut_min_skew = {report.min_skew:g} or more (lower "
            "shortcut_min_skew; 0 keeps every candidate)"
        )
    if report.evidence_filtered_words:
        dropped.append(
            f"the evidence filter dropped {report.evidence_filtered_words}, whose word types "
            "annotators mark as rationale at least shortcut_max_evidence_ratio = "
            f"{report.max_evidence_ratio:g} times as often as the average word (raise "
            "shortcut_max_evidence_ratio; 0 keeps every candidate)"
        )
    return (
        f"of the {report.candidate_words} candidate words (selected outside the human "
        f"rationales), {' and '.join(dropped)}; or raise selection_rate or discovery_epochs so "
        "that more candidates are found"
    )


def planted_shortcuts(dataset: str) -> dict[str, str] | None:
    """The planted shortcut phrases of ``dataset`` and their labels; None where none are known."""
    if dataset != "synthetic":
        return None
    from rationalizer.data.synthetic import PLANTED_SHORTCUTS

    return dict(PLANTED_SHORTCUTS)
