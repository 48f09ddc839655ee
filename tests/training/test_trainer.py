"""The training loop: every method learns on real and synthetic data, logs, resumes, reproduces."""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from rich.console import Console

import rationalizer
from rationalizer._environment import machine_info
from rationalizer.data import Dataset, Span, load, spans_to_mask
from rationalizer.errors import RationalizerError
from rationalizer.training.batching import choose_annotated
from rationalizer.training.checkpoint import load_checkpoint
from rationalizer.training.config import TrainConfig
from rationalizer.training.inference import Rationalizer
from rationalizer.training.methods import available_methods, get_method_class
from rationalizer.training.shortcuts import shortcut_masks
from rationalizer.training.trainer import Trainer, limit_examples

METHODS = tuple(available_methods())
#: Small enough for a CPU test, large enough that every method's loss falls within three
#: epochs for every seed we tried (0-4): 64 examples in batches of 8 at a high learning rate.
TINY = {
    "max_train_examples": 64,
    "batch_size": 8,
    "lr": 0.01,
    "epochs": 3,
    "hidden_size": 16,
    "patience": 3,
}
#: Synthetic reviews average about 110 words; at 64 positions half of their evidence is cut.
MAX_LENGTH = {"synthetic": 128, "movies": 64, "hatexplain": 64, "fever": 128}
VALIDATION_SIZE = 16
#: metrics of the validation split logged every epoch
VALIDATION_KEYS = {
    "accuracy",
    "weighted_f1",
    "macro_f1",
    "token_f1",
    "token_precision",
    "token_recall",
    "selection_rate",
    "loss",
}
#: the loss terms each method logs, besides the total
TERMS = {
    "rnp": {"task", "sparsity", "continuity"},
    "fr": {"task", "sparsity", "continuity"},
    "semi": {"task", "sparsity", "continuity", "supervision", "annotated_task"},
    "supervised": {"task", "sparsity", "continuity", "supervision", "annotated_task"},
    "ssr-unif": {
        "task",
        "sparsity",
        "continuity",
        "supervision",
        "annotated_task",
        "shortcut_uniform",
    },
    "ssr-virt": {
        "task",
        "sparsity",
        "continuity",
        "supervision",
        "annotated_task",
        "virtual_distance",
        "virtual_task",
        "virtual_uniform",
    },
    "full-text": {"task"},
}


@pytest.fixture(scope="module")
def splits():
    """(train, small validation subset) by dataset name, loaded once."""
    cache: dict[str, tuple[Dataset, Dataset]] = {}

    def get(name: str) -> tuple[Dataset, Dataset]:
        if name not in cache:
            validation = load(name, "validation")
            # evenly spread, so that both labels of a label-sorted split are in it
            step = len(validation) // VALIDATION_SIZE
            subset = validation.examples[::step][:VALIDATION_SIZE]
            cache[name] = (load(name, "train"), replace(validation, examples=subset))
        return cache[name]

    return get


def tiny_config(dataset: str, method: str, **changes) -> TrainConfig:
    return TrainConfig(
        dataset=dataset,
        method=method,
        **{"max_length": MAX_LENGTH[dataset], **TINY, **changes},
    )


def crude_shortcut_masks(train: Dataset, config: TrainConfig) -> dict[str, np.ndarray]:
    """Shortcut masks of the annotated examples the trainer will choose: the planted phrases of
    the synthetic data, else the non-rationale part of a random 10% of the words."""
    chosen = choose_annotated(train, config.labeled_fraction, config.seed)
    annotated = [ex for ex in train if ex.id in chosen]
    if config.dataset == "synthetic":
        return {
            ex.id: spans_to_mask(
                [Span(*s) for s in ex.metadata["shortcut_spans"]], len(ex.document)
            )
            for ex in annotated
        }
    rng = np.random.default_rng(config.seed)
    predicted = {ex.id: (rng.random(len(ex.document)) < 0.1).astype(np.int8) for ex in annotated}
    return shortcut_masks(annotated, predicted)


def make_trainer(config: TrainConfig, run_dir: Path, splits, console: Console | None = None):
    train, validation = splits(config.dataset)
    train = limit_examples(train, config)
    masks = None
    if get_method_class(config.method).needs_shortcuts:
        masks = crude_shortcut_masks(train, config)
    return Trainer(
        config,
        run_dir,
        train=train,
        validation=validation,
        shortcut_masks=masks,
        console=console or Console(file=io.StringIO()),
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory, splits):
    """Finished runs by (dataset, method), trained once for this module."""
    cache: dict[tuple[str, str], Path] = {}

    def get(dataset: str, method: str) -> Path:
        if (dataset, method) not in cache:
            run_dir = tmp_path_factory.mktemp(f"{dataset}-{method}")
            make_trainer(tiny_config(dataset, method), run_dir, splits).fit()
            cache[dataset, method] = run_dir
        return cache[dataset, method]

    return get


def read_metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def assert_same_tensors(ours: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor]) -> None:
    assert ours.keys() == theirs.keys()
    for name in ours:
        assert torch.equal(ours[name], theirs[name]), name


# ----------------------------------------------------------------------------- learning


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["synthetic", "movies"])
@pytest.mark.parametrize("method", METHODS)
def test_every_method_learns_and_logs_each_epoch(trained, splits, dataset, method):
    run_dir = trained(dataset, method)
    lines = read_metrics(run_dir)
    assert [line["epoch"] for line in lines] == [1, 2, 3]
    for line in lines:
        assert set(line) == {"epoch", "train", "validation", "best"}
        assert set(line["train"]) == TERMS[method] | {
            "loss",
            "accuracy",
            "selection_rate",
            "learning_rate",
        }
        # the logged total is the sum of the logged terms (each an epoch average)
        total = sum(line["train"][term] for term in TERMS[method])
        assert line["train"]["loss"] == pytest.approx(total, rel=1e-6)
        assert set(line["validation"]) == VALIDATION_KEYS
        assert 0.0 <= line["validation"]["accuracy"] <= 1.0
    assert lines[-1]["train"]["loss"] < lines[0]["train"]["loss"]
    # epoch 1 is always the best so far; the selected epoch is one that improved
    assert lines[0]["best"] is True
    summary = json.loads((run_dir / "summary.json").read_text())
    assert lines[summary["best_epoch"] - 1]["best"] is True
    assert summary["validation"] == lines[summary["best_epoch"] - 1]["validation"]
    assert summary["epochs_run"] == 3
    train = limit_examples(splits(dataset)[0], tiny_config(dataset, method))
    annotated = sum(ex.is_annotated for ex in train)
    expected = annotated if method == "supervised" else min(16, annotated)  # 25% of 64
    assert summary["annotated_examples"] == expected
    assert summary["training_examples"] == 64


@pytest.mark.slow
def test_the_full_text_reference_reads_every_word(trained, splits):
    run_dir = trained("synthetic", "full-text")
    # every word the model sees; only the words truncation cut are left out
    lengths = [len(ex.document) for ex in splits("synthetic")[1]]
    seen = sum(min(n, MAX_LENGTH["synthetic"]) for n in lengths) / sum(lengths)
    assert seen < 1.0
    for line in read_metrics(run_dir):
        assert line["train"]["selection_rate"] == 1.0
        assert line["validation"]["selection_rate"] == pytest.approx(seen)
    model = Rationalizer.load(run_dir)
    text = "a gripping , beautifully acted film ."
    [prediction] = model.predict([text])
    assert [(span.start, span.end) for span in prediction.rationale] == [(0, len(text.split()))]


@pytest.mark.slow
@pytest.mark.parametrize(("dataset", "method"), [("hatexplain", "ssr-virt"), ("fever", "fr")])
def test_training_learns_on_hatexplain_and_on_fever_with_its_claims(
    tmp_path, splits, dataset, method
):
    make_trainer(tiny_config(dataset, method), tmp_path, splits).fit()
    lines = read_metrics(tmp_path)
    assert lines[-1]["train"]["loss"] < lines[0]["train"]["loss"]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["validation"]) == VALIDATION_KEYS
    if dataset == "fever":  # the predictor reads the claim next to the selected evidence
        example = splits("fever")[1][0]
        model = Rationalizer.load(tmp_path)
        claims = [example.query, "the moon is made of cheese ."]
        read = model.predict([example.document.tokens] * 2, queries=claims)
        assert read[0].probabilities != pytest.approx(read[1].probabilities, abs=1e-4)


# ----------------------------------------------------------------------------- reproducibility


@pytest.mark.slow
def test_the_same_seed_gives_the_same_run(trained, splits, tmp_path):
    first = trained("movies", "fr")
    make_trainer(tiny_config("movies", "fr"), tmp_path, splits).fit()
    assert (tmp_path / "metrics.jsonl").read_text() == (first / "metrics.jsonl").read_text()
    assert_same_tensors(load_checkpoint(tmp_path).state_dict, load_checkpoint(first).state_dict)


class Interrupted(Exception):
    """Stands for a killed process."""


@pytest.mark.slow
def test_an_interrupted_run_resumes_to_the_same_weights(trained, splits, tmp_path, monkeypatch):
    uninterrupted = trained("movies", "ssr-virt")
    config = tiny_config("movies", "ssr-virt")
    log_epoch = Trainer._log_epoch

    def crash_in_epoch_2(self, epoch, *args):
        if epoch == 2:  # epoch 2 trained, but neither logged nor saved
            raise Interrupted
        log_epoch(self, epoch, *args)

    monkeypatch.setattr(Trainer, "_log_epoch", crash_in_epoch_2)
    with pytest.raises(Interrupted):
        make_trainer(config, tmp_path, splits).fit()
    assert [line["epoch"] for line in read_metrics(tmp_path)] == [1]
    assert load_checkpoint(tmp_path).resume.epoch == 1
    assert not (tmp_path / "summary.json").exists()

    monkeypatch.undo()
    with pytest.raises(RationalizerError, match="different configuration"):
        make_trainer(tiny_config("movies", "ssr-virt", seed=1), tmp_path, splits).fit()
    output = io.StringIO()
    result = make_trainer(config, tmp_path, splits, Console(file=output, width=200)).fit()
    assert f"resuming {tmp_path} after epoch 1" in output.getvalue()
    assert result.epochs_run == 2  # epochs 2 and 3
    # exactly the uninterrupted run: every logged number, the last and the selected weights
    assert read_metrics(tmp_path) == read_metrics(uninterrupted)
    ours, theirs = load_checkpoint(tmp_path), load_checkpoint(uninterrupted)
    assert_same_tensors(ours.resume_model_state, theirs.resume_model_state)
    assert_same_tensors(ours.state_dict, theirs.state_dict)


@pytest.mark.slow
def test_a_finished_run_is_not_trained_again(trained, splits):
    run_dir = trained("movies", "fr")
    weights = run_dir / "model.safetensors"
    before = (weights.stat().st_mtime_ns, (run_dir / "metrics.jsonl").read_text())
    output = io.StringIO()
    result = make_trainer(
        tiny_config("movies", "fr"), run_dir, splits, Console(file=output, width=200)
    ).fit()
    assert "already trained with these settings" in output.getvalue()
    assert (weights.stat().st_mtime_ns, (run_dir / "metrics.jsonl").read_text()) == before
    summary = json.loads((run_dir / "summary.json").read_text())
    assert (result.best_epoch, result.epochs_run) == (summary["best_epoch"], 3)


@pytest.mark.slow
def test_a_run_finished_before_provenance_was_recorded_still_loads(trained, splits, tmp_path):
    run_dir = tmp_path / "old"
    shutil.copytree(trained("synthetic", "fr"), run_dir)
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text())
    # written before provenance was recorded, and before the file envelope
    for field in ("format", "version", "provenance", "effective_config", "overrides"):
        del summary[field]
    summary_path.write_text(json.dumps(summary))
    output = io.StringIO()
    config = tiny_config("synthetic", "fr")
    result = make_trainer(config, run_dir, splits, Console(file=output, width=200)).fit()
    assert "already trained with these settings" in output.getvalue()
    assert result.best_epoch == summary["best_epoch"]
    assert Rationalizer.load(run_dir).config == config


@pytest.mark.slow
def test_a_run_directory_with_other_settings_is_refused(trained, splits):
    run_dir = trained("movies", "fr")
    before = (run_dir / "metrics.jsonl").read_text()
    other = tiny_config("movies", "fr", lr=0.02)
    with pytest.raises(RationalizerError, match="different configuration"):
        make_trainer(other, run_dir, splits).fit()
    assert (run_dir / "metrics.jsonl").read_text() == before


@pytest.mark.slow
@pytest.mark.parametrize(("balance", "weight"), [(1.0, 4.0), (0.5, 2.0), (0.0, 1.0)])
def test_balance_supervision_sets_the_weight_of_rationale_words(splits, tmp_path, balance, weight):
    # k = 0.2: the balancing weight (1 - k)/k = 4 is raised to the power γ
    config = tiny_config("synthetic", "semi", selection_rate=0.2, balance_supervision=balance)
    trainer = make_trainer(config, tmp_path, splits)
    trainer.fit()
    assert trainer.method.weights.rationale_class_weight == pytest.approx(weight)


def test_ssr_needs_shortcut_masks(splits):
    train, validation = splits("synthetic")
    with pytest.raises(RationalizerError, match="needs discovered shortcut masks"):
        Trainer(tiny_config("synthetic", "ssr-unif"), "unused", train=train, validation=validation)


@pytest.mark.slow
def test_shortcut_masks_outside_the_annotated_set_are_refused(splits, tmp_path):
    train, validation = splits("synthetic")
    config = tiny_config("synthetic", "ssr-unif")
    annotated = choose_annotated(train, config.labeled_fraction, config.seed)
    stranger = next(ex for ex in train if ex.id not in annotated)
    masks = {stranger.id: np.zeros(len(stranger.document), dtype=np.int8)}
    trainer = Trainer(config, tmp_path, shortcut_masks=masks, train=train, validation=validation)
    with pytest.raises(RationalizerError, match="outside the annotated set"):
        trainer.fit()


@pytest.mark.slow
@pytest.mark.parametrize("method", ["ssr-unif", "ssr-virt"])
def test_without_any_shortcut_the_shortcut_terms_stay_zero(splits, tmp_path, method):
    train, validation = splits("synthetic")
    config = tiny_config("synthetic", method, epochs=1)
    train = limit_examples(train, config)
    chosen = choose_annotated(train, config.labeled_fraction, config.seed)
    masks = {ex.id: np.zeros(len(ex.document), dtype=np.int8) for ex in train if ex.id in chosen}
    output = io.StringIO()
    trainer = Trainer(
        config,
        tmp_path,
        shortcut_masks=masks,
        train=train,
        validation=validation,
        console=Console(file=output, width=200),
    )
    trainer.fit()
    assert trainer.method.weights.shortcut == 0.0
    assert "no annotated example has a shortcut word" in output.getvalue()
    logged = read_metrics(tmp_path)[0]["train"]
    # a term computed on no example is not logged; the others are logged as zero
    logged_terms = (TERMS[method] - TERMS["semi"]) & set(logged)
    assert logged_terms and all(logged[term] == 0.0 for term in logged_terms)
    # the summary says λ was switched off, and why, not the λ = 0.1 that was asked for
    summary = json.loads((tmp_path / "summary.json").read_text())
    overrides = {o["setting"]: o for o in summary["overrides"]}
    assert overrides["shortcut_weight"]["requested"] == config.shortcut_weight == 0.1
    assert overrides["shortcut_weight"]["used"] == 0.0
    assert "no annotated example has a shortcut word" in overrides["shortcut_weight"]["reason"]
    assert summary["effective_config"]["shortcut_weight"] == 0.0
    assert summary["effective_config"]["epochs"] == 1
    # defaults filled in at run time are overrides with nothing requested
    assert overrides["selection_rate"]["requested"] is None
    assert overrides["selection_rate"]["used"] == trainer.method.weights.selection_rate
    assert overrides["discovery_epochs"] == {
        "setting": "discovery_epochs",
        "requested": None,
        "used": 1,
        "reason": "not set: shortcut discovery trains for as many epochs as the run",
    }
    machine = summary["machine"]
    assert machine["device"] == "cpu" and machine["processes"] == 1
    assert machine["torch_threads"] == torch.get_num_threads()
    assert machine["cpu_features"] == machine_info()["cpu_features"]
    provenance = summary["provenance"]
    assert set(provenance) == {"commit", "dirty", "git", "version", "code_digest"}
    assert provenance["version"] == rationalizer.__version__
    assert len(provenance["code_digest"]) == 64
    # in a git checkout: the full sha and whether tracked files differ from it
    assert provenance["commit"] is None or len(provenance["commit"]) == 40
    assert provenance["dirty"] in (None, True, False)


@pytest.mark.slow
def test_a_run_without_overrides_records_the_settings_it_was_given(trained):
    summary = json.loads((trained("synthetic", "fr") / "summary.json").read_text())
    # fr reads no shortcut setting; only the target selection rate and the precision (auto:
    # fp32 for a GRU) were left to the run
    precision, target = summary["overrides"]
    assert precision == {
        "setting": "precision",
        "requested": "auto",
        "used": "fp32",
        "reason": precision["reason"],
    }
    assert target["setting"] == "selection_rate" and target["requested"] is None
    assert "gold rationale density" in target["reason"] and 0 < target["used"] < 1
    config = tiny_config("synthetic", "fr")
    expected = config.model_dump(mode="json") | {
        "selection_rate": target["used"],
        "precision": "fp32",
    }
    assert summary["effective_config"] == expected


@pytest.mark.slow
def test_supervised_training_records_that_it_uses_every_rationale(trained):
    summary = json.loads((trained("synthetic", "supervised") / "summary.json").read_text())
    overrides = {o["setting"]: o for o in summary["overrides"]}
    assert (overrides["labeled_fraction"]["requested"], overrides["labeled_fraction"]["used"]) == (
        0.25,
        1.0,
    )
    assert summary["effective_config"]["labeled_fraction"] == 1.0


# ----------------------------------------------------------------------------- augmentation


AUGMENTED = {"max_train_examples": 32, "epochs": 1, "max_length": 64}


def test_mixed_augmentation_copies_keep_labels_and_only_semantic_ones_keep_shortcuts(splits):
    config = tiny_config("synthetic", "ssr-unif", augment="mixed", augment_copies=2, **AUGMENTED)
    trainer = make_trainer(config, "unused", splits)
    annotated = choose_annotated(trainer.train_data, config.labeled_fraction, config.seed)
    examples = trainer._training_examples(annotated)
    originals = {item.example.id: item for item in examples[:32]}
    with_shortcut = [
        i for i, item in originals.items() if i in annotated and item.shortcut_words.any()
    ]
    copies = examples[32:]
    assert len(copies) == 2 * len(with_shortcut)
    kinds = {"random": 0, "semantic": 0}
    for copy in copies:
        original = originals[copy.example.metadata["augmented_from"]]
        assert copy.annotated and copy.augmented
        assert copy.example.label == original.example.label
        assert len(copy.example.document) == len(original.example.document)
        kind = copy.example.metadata["augmentation"]
        kinds[kind] += 1
        if kind == "random":  # the shortcut was replaced by other text: nothing left to unlearn
            assert copy.shortcut_words is None
        else:
            assert np.array_equal(copy.shortcut_words, original.shortcut_words)
    assert kinds["random"] == kinds["semantic"] == len(with_shortcut)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["random", "semantic", "mixed"])
def test_augmented_runs_train_on_the_copies(tmp_path, splits, strategy):
    config = tiny_config("synthetic", "ssr-unif", augment=strategy, **AUGMENTED)
    trainer = make_trainer(config, tmp_path, splits)
    with_shortcut = sum(mask.any() for mask in trainer.shortcut_masks.values())
    result = trainer.fit()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["training_examples"] == 32 + with_shortcut
    assert summary["annotated_examples"] == 8
    assert np.isfinite(read_metrics(tmp_path)[0]["train"]["loss"])
    assert result.epochs_run == 1


@pytest.mark.slow
def test_a_bf16_run_learns_and_keeps_float32_weights(splits, tmp_path):
    make_trainer(tiny_config("synthetic", "semi", precision="bf16"), tmp_path, splits).fit()
    lines = read_metrics(tmp_path)
    assert lines[-1]["train"]["loss"] < lines[0]["train"]["loss"]
    model = Rationalizer.load(tmp_path)
    assert {p.dtype for p in model.model.parameters()} == {torch.float32}
    assert model.autocast_dtype is torch.bfloat16
    [prediction] = model.predict(["a gripping , beautifully acted film ."])
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.slow
def test_the_summary_names_the_code_as_training_started(splits, tmp_path, monkeypatch, request):
    """A commit made while a long run trains is not the code that ran: the summary keeps the
    provenance taken when training started, not when it finished."""
    from rationalizer import provenance
    from rationalizer.training import trainer as trainer_module

    head = {"commit": "a" * 40}
    monkeypatch.setattr(
        provenance, "git_state", lambda _directory: {"commit": head["commit"], "dirty": False}
    )
    provenance._code_provenance.cache_clear()
    request.addfinalizer(provenance._code_provenance.cache_clear)  # no fake commit left behind
    step = trainer_module.optimize

    def commit_during_training(*args, **kwargs):
        head["commit"] = "b" * 40  # someone commits while the run trains
        provenance._code_provenance.cache_clear()
        return step(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "optimize", commit_during_training)
    run_dir = tmp_path / "run"
    make_trainer(tiny_config("synthetic", "semi", epochs=1), run_dir, splits).fit()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert head["commit"] == "b" * 40  # the commit did happen during training
    assert summary["provenance"]["commit"] == "a" * 40


def test_an_empty_or_full_selection_is_named_with_what_to_change():
    from rationalizer.training.trainer import degenerate_selection_warning as warning_for

    assert warning_for({"selection_rate": 0.02}, 0.1) is None
    assert warning_for({"selection_rate": 0.6}, 0.3) is None
    assert warning_for({}, 0.1) is None  # full text: no selection measured
    empty = warning_for({"selection_rate": 0.0}, 0.085)
    assert "(almost) empty" in empty and "0.0000" in empty and "0.085" in empty
    everything = warning_for({"selection_rate": 0.999}, 0.3)
    assert "(almost) the whole input" in everything and "0.9990" in everything
    assert warning_for({"selection_rate": 0.95}, 0.95) is None  # asked for nearly everything
    for warning in (empty, everything):
        assert "topk" in warning and "semi" in warning


@pytest.mark.slow
def test_a_run_whose_selector_collapses_says_so(splits, tmp_path):
    """A sparsity weight a hundred times the task's drives the selector to select nothing; the
    run warns at its end, where a user reads the result."""
    output = io.StringIO()
    config = tiny_config("synthetic", "fr", epochs=1, sparsity_weight=100.0, selection_rate=0.01)
    make_trainer(config, tmp_path / "run", splits, Console(file=output, width=300)).fit()
    assert "warning: the selected epoch's rationales are (almost) empty" in output.getvalue()
    healthy = io.StringIO()
    make_trainer(
        tiny_config("synthetic", "semi", epochs=1),
        tmp_path / "semi",
        splits,
        Console(file=healthy, width=300),
    ).fit()
    assert "(almost) empty" not in healthy.getvalue()


@pytest.mark.slow
def test_a_run_trains_on_word_vectors_from_a_file_and_loads_without_it(tmp_path, splits):
    """``word_vectors`` given as a GloVe text file: the model takes its size and rows, and the
    run keeps them, so it loads and predicts after the file is gone."""
    train, _ = splits("synthetic")
    words = sorted({word.lower() for ex in train.examples[:64] for word in ex.document.tokens})
    vectors = np.random.default_rng(0).normal(size=(len(words), 8)).round(4)
    path = tmp_path / "vectors.txt"
    path.write_text(
        "".join(f"{w} {' '.join(map(str, v))}\n" for w, v in zip(words, vectors, strict=True)),
        encoding="utf-8",
    )
    config = tiny_config(
        "synthetic", "full-text", word_vectors=str(path), train_embeddings=False, epochs=1
    )
    run_dir = tmp_path / "run"
    make_trainer(config, run_dir, splits).fit()
    path.unlink()
    model = Rationalizer.load(run_dir)
    assert model.config.word_vectors == str(path)
    assert model.encoder.vocabulary.pretrained == str(path)
    weights = model.model.encoder.embedding.weight.detach().numpy()
    assert weights.shape[1] == 8
    for word in ("the", words[len(words) // 2]):
        row = words.index(word)
        np.testing.assert_allclose(weights[model.encoder.vocabulary.id(word)], vectors[row])
    [prediction] = model.predict(["a gripping , beautifully acted film ."])
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0)
