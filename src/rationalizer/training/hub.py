"""Trained models as Hugging Face Hub repositories: save_pretrained, from_pretrained,
push_to_hub and the generated model card.

A run directory already follows the Hub's file conventions (``config.json``,
``model.safetensors``), so a saved model is a run directory without its resume state, plus the
files the card is written from (``summary.json``, ``evaluation.json``, ``shortcuts.json``),
``train.json`` (the settings that differ from the defaults, for ``rationalizer train --config``;
a plain settings file, the others are in the envelope of :mod:`rationalizer.files`) and
``README.md``, the model card. A transformer encoder given as a local folder is copied into
``encoder/`` so that the saved model loads on another machine. Nothing is pickled.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rationalizer.data.pretrained import MINILM, local_or_hub
from rationalizer.data.tokenization import WordTokenizer
from rationalizer.errors import RationalizerError
from rationalizer.files import parsed_payload, read_json, write_json
from rationalizer.training.checkpoint import save_checkpoint
from rationalizer.training.config import GRU, TrainConfig
from rationalizer.training.shortcuts import REPORT_JSON, ShortcutReport
from rationalizer.training.trainer import SUMMARY_FILE

if TYPE_CHECKING:
    from rationalizer.training.inference import Rationalizer

CARD_FILE = "README.md"
EVALUATION_FILE = "evaluation.json"
SETTINGS_FILE = "train.json"
ENCODER_DIR = "encoder"
LIBRARY_NAME = "rationalizer"
#: shortcut phrases listed in the card
CARD_SHORTCUTS = 10


def save_pretrained(
    model: Rationalizer, out_dir: str | Path, evaluation: str | Path | Mapping | None = None
) -> Path:
    """Write ``model`` into ``out_dir`` in Hub layout with its model card (module docstring).

    ``evaluation`` is the output of ``rationalizer evaluate --json`` (a path or its content) on
    the test split; the card reports its metrics next to the run's validation metrics.
    """
    out = Path(out_dir)
    source = model.run_dir
    if source is not None and out.resolve() == source.resolve():
        raise RationalizerError(f"save_pretrained into another folder than the run {source}")
    out.mkdir(parents=True, exist_ok=True)
    model_config = model.model.config
    train_config = model.config
    local = model_config.transformer_path
    if local not in (None, MINILM) and Path(local).expanduser().is_dir():
        shutil.copytree(Path(local).expanduser(), out / ENCODER_DIR, dirs_exist_ok=True)
        model_config = replace(model_config, transformer_path=ENCODER_DIR)
        train_config = train_config.model_copy(update={"encoder": ENCODER_DIR})
    vocabulary = model.encoder.vocabulary if isinstance(model.encoder, WordTokenizer) else None
    save_checkpoint(
        out,
        model=model.model,
        model_config=asdict(model_config),
        train_config=train_config,
        labels=model.labels,
        vocabulary=vocabulary,
    )
    for name in (SUMMARY_FILE, REPORT_JSON, EVALUATION_FILE):
        if source is not None and (source / name).is_file():
            shutil.copyfile(source / name, out / name)
    if evaluation is not None:
        scores = (
            parsed_payload(
                dict(evaluation), "evaluation", "the evaluation given to save_pretrained"
            )
            if isinstance(evaluation, Mapping)
            else read_json(evaluation, "evaluation")
        )
        write_json(out / EVALUATION_FILE, "evaluation", scores)
    settings = changed_settings(train_config)
    (out / SETTINGS_FILE).write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    (out / CARD_FILE).write_text(model_card(out, model.labels, train_config), encoding="utf-8")
    return out


def local_folder(spec: str | Path, revision: str | None = None) -> Path:
    """A saved model's folder: ``spec`` itself when it is a folder, else the snapshot of Hub
    model ``spec`` (downloaded when online, from the cache under ``HF_HUB_OFFLINE``)."""
    return local_or_hub(spec, "give a run directory, a saved model folder or a Hub ID", revision)


def push_to_hub(
    model: Rationalizer,
    repo_id: str,
    *,
    evaluation: str | Path | Mapping | None = None,
    private: bool | None = None,
    token: str | None = None,
    commit_message: str = "Upload rationalizer model",
) -> str:
    """Save ``model`` with :func:`save_pretrained` and upload it to Hub repository ``repo_id``
    (created if needed); returns the commit's URL."""
    from huggingface_hub import HfApi, constants

    if constants.HF_HUB_OFFLINE:
        raise RationalizerError(f"cannot push to {repo_id!r}: HF_HUB_OFFLINE is set")
    api = HfApi(token=token)
    with tempfile.TemporaryDirectory() as folder:
        save_pretrained(model, folder, evaluation)
        api.create_repo(repo_id, private=private, exist_ok=True)
        commit = api.upload_folder(
            repo_id=repo_id, folder_path=folder, commit_message=commit_message
        )
    return str(commit.commit_url)


def changed_settings(config: TrainConfig) -> dict[str, Any]:
    """The settings that differ from the defaults: a ``rationalizer train --config`` file."""
    defaults = TrainConfig(dataset=config.dataset, method=config.method).model_dump(mode="json")
    current = config.model_dump(mode="json", exclude={"device"})
    return {key: value for key, value in current.items() if value != defaults.get(key)} | {
        "dataset": config.dataset,
        "method": config.method,
    }


# ---------------------------------------------------------------------------------------------
# The model card


def _read_if_present(path: Path, kind: str) -> dict[str, Any]:
    """The payload of an optional file the card is written from (empty when it is absent)."""
    return read_json(path, kind) if path.is_file() else {}


def _number(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else "–"


def _test_metrics(scores: Mapping[str, Any]) -> dict[str, Any]:
    """The headline numbers of ``rationalizer evaluate --json`` output."""
    classification = scores.get("classification_scores", {})
    prf = classification.get("prf", {})
    iou: dict[str, Any] = next(iter(scores.get("iou_scores", [])), {})
    return {
        "accuracy": classification.get("accuracy"),
        "macro_f1": prf.get("macro avg", {}).get("f1-score"),
        "token_f1": scores.get("token_prf", {}).get("instance_macro", {}).get("f1"),
        "iou_f1": iou.get("macro", {}).get("f1"),
        "selection_rate": scores.get("selection_rate", {}).get("macro"),
        "comprehensiveness": classification.get("comprehensiveness"),
        "sufficiency": classification.get("sufficiency"),
        "comprehensiveness_aopc": classification.get("comprehensiveness_aopc"),
        "sufficiency_aopc": classification.get("sufficiency_aopc"),
    }


def model_card(folder: Path, labels: tuple[str, ...], config: TrainConfig) -> str:
    """``README.md`` for a saved model: YAML metadata, then what it is, how it was trained,
    its metrics, its faithfulness and (SSR runs) the shortcuts it was trained away from."""
    from huggingface_hub import ModelCardData

    summary = _read_if_present(folder / SUMMARY_FILE, "summary")
    validation = summary.get("validation", {})
    test = _test_metrics(_read_if_present(folder / EVALUATION_FILE, "evaluation"))
    encoder = "BiGRU over GloVe" if config.encoder == GRU else f"transformer `{config.encoder}`"
    registered = ":" not in config.dataset
    metadata = ModelCardData(
        library_name=LIBRARY_NAME,
        pipeline_tag="text-classification",
        tags=[LIBRARY_NAME, "rationalization", "explainability", config.method],
        datasets=[config.dataset] if registered else None,
        metrics=["accuracy", "f1"],
    )
    rows = [
        ("accuracy", validation.get("accuracy"), test["accuracy"]),
        ("macro F1", validation.get("macro_f1"), test["macro_f1"]),
        ("rationale token F1", validation.get("token_f1"), test["token_f1"]),
        ("rationale IOU F1", None, test["iou_f1"]),
        ("selection rate", validation.get("selection_rate"), test["selection_rate"]),
    ]
    lines = [
        "---",
        metadata.to_yaml(),
        "---",
        "",
        f"# {config.method} rationalizer on {config.dataset}",
        "",
        f"A self-explaining text classifier trained with rationalizer: method `{config.method}`,"
        f" encoder {encoder}, labels {', '.join(f'`{label}`' for label in labels)}. A selector "
        "picks the words of each text (the rationale) and the predictor reads only those, so "
        "the rationale is faithful by construction.",
        "",
        "## Data and training",
        "",
        f"Dataset `{config.dataset}`, human rationales on a fraction {config.labeled_fraction} "
        f"of the training examples, seed {config.seed}, best epoch "
        f"{summary.get('best_epoch', '–')} of {summary.get('epochs_run', config.epochs)}. "
        f"Trained with `rationalizer train --config {SETTINGS_FILE} --out run`, where "
        f"`{SETTINGS_FILE}` (in this repository) holds the settings that differ from the "
        "defaults:",
        "",
        "```json",
        json.dumps(changed_settings(config), indent=2),
        "```",
        "",
        "## Results",
        "",
        "| metric | validation | test |",
        "|---|---|---|",
        *(f"| {name} | {_number(val)} | {_number(tst)} |" for name, val, tst in rows),
        "",
    ]
    if test["accuracy"] is None:
        lines += [
            "Test metrics: not measured yet (`rationalizer predict` and `rationalizer evaluate "
            "--json`, then `save_pretrained(..., evaluation=SCORES)`).",
            "",
        ]
    lines += ["## Faithfulness", ""]
    if test["comprehensiveness"] is None:
        lines += ["Comprehensiveness and sufficiency: not measured (no test evaluation).", ""]
    else:
        lines += [
            f"On the test split: comprehensiveness {_number(test['comprehensiveness'])} "
            f"(AOPC {_number(test['comprehensiveness_aopc'])}), sufficiency "
            f"{_number(test['sufficiency'])} (AOPC {_number(test['sufficiency_aopc'])}); "
            "higher comprehensiveness and lower sufficiency mean a more faithful rationale.",
            "",
        ]
    if (folder / REPORT_JSON).is_file():
        report = ShortcutReport.load(folder / REPORT_JSON)
        lines += [
            "## Shortcuts",
            "",
            f"Shortcut discovery found these words selected outside the human rationales "
            f"(top {CARD_SHORTCUTS} of {report.distinct_phrases}; `{REPORT_JSON}` has all). "
            "*In rationales*: the share of the phrase's words that annotators marked as "
            "rationale wherever it occurs in the annotated examples "
            f"({_number(report.rationale_density)} of all their words):",
            "",
            "| phrase | examples | leans to | share | in rationales |",
            "|---|---|---|---|---|",
            *(
                f"| {p.phrase} | {p.count} | {p.skew_label} | {p.skew_share:.2f} | "
                f"{_number(p.evidence_rate)} |"
                for p in report.phrases[:CARD_SHORTCUTS]
            ),
            "",
        ]
    lines += [
        "## Use",
        "",
        "```python",
        "from rationalizer import Rationalizer",
        "",
        'model = Rationalizer.from_pretrained("REPO_ID_OR_FOLDER")',
        'prediction = model.predict(["a gripping , beautifully acted film ."])[0]',
        "print(prediction.label, prediction.rationale_words)",
        "```",
        "",
    ]
    return "\n".join(lines)
