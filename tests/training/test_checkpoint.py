"""Run directories: bit-exact round trips, resume state, atomic writes and clear errors."""

from __future__ import annotations

import json
import pickle
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from transformers import get_linear_schedule_with_warmup

import rationalizer
from rationalizer.data.tokenization import WordVocabulary
from rationalizer.errors import DataFormatError, RationalizerError
from rationalizer.training import checkpoint as checkpoint_module
from rationalizer.training.checkpoint import (
    ResumeState,
    load_checkpoint,
    optimizer_state_from_tensors,
    optimizer_state_to_tensors,
    save_checkpoint,
)
from rationalizer.training.config import TrainConfig

LABELS = ("neg", "pos")
MODEL_CONFIG = {"encoder": "gru", "num_labels": 2, "vocab_size": 12, "hidden_size": 3}


class TinyTagger(nn.Module):
    """Embedding → BiGRU → dropout → output layer tied to the embedding table."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.embedding = nn.Embedding(12, 6)
        self.gru = nn.GRU(6, 3, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(0.3)
        self.output = nn.Linear(6, 12)
        self.output.weight = self.embedding.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        hidden, _ = self.gru(self.embedding(ids))
        return self.output(self.dropout(hidden))


def train_steps(model, optimizer, scheduler, steps: int) -> None:
    """Steps whose data, dropout and an extra Python/numpy draw all use the global generators."""
    model.train()
    for _ in range(steps):
        ids = torch.randint(0, 12, (4, 5))
        noise = random.random() + float(np.random.rand())
        loss = nn.functional.cross_entropy(model(ids).flatten(0, 1), ids.flatten()) * (1 + noise)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()


def make_training(seed: int = 0):
    model = TinyTagger(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.01)
    scheduler = get_linear_schedule_with_warmup(optimizer, 2, 20)
    return model, optimizer, scheduler


@pytest.fixture
def vocabulary() -> WordVocabulary:
    return WordVocabulary.build([["a", "good", "film"], ["a", "bad", "film"]], None, dim=6)


def save(run_dir: Path, model, vocabulary=None, **kwargs) -> None:
    save_checkpoint(
        run_dir,
        model=model,
        model_config=MODEL_CONFIG,
        train_config=TrainConfig(dataset="movies", method="semi", epochs=4),
        labels=LABELS,
        vocabulary=vocabulary,
        **kwargs,
    )


def assert_same_parameters(first: nn.Module, second: nn.Module) -> None:
    pairs = zip(first.state_dict().items(), second.state_dict().items(), strict=True)
    for (name, a), (other, b) in pairs:
        assert name == other
        assert torch.equal(a, b), name


# ---------------------------------------------------------------------------------------------
# Round trips


def test_weights_and_settings_round_trip(tmp_path: Path, vocabulary: WordVocabulary) -> None:
    model, optimizer, scheduler = make_training()
    train_steps(model, optimizer, scheduler, 3)
    save(tmp_path / "run", model, vocabulary)
    checkpoint = load_checkpoint(tmp_path / "run")

    assert set(checkpoint.state_dict) == set(model.state_dict())  # both tied names
    fresh = TinyTagger(seed=1)
    fresh.load_state_dict(checkpoint.state_dict)
    assert_same_parameters(model, fresh)
    assert fresh.output.weight is fresh.embedding.weight

    assert checkpoint.model_config == MODEL_CONFIG
    assert checkpoint.labels == LABELS
    assert checkpoint.train_config == TrainConfig(dataset="movies", method="semi", epochs=4)
    assert checkpoint.vocabulary is not None
    assert checkpoint.vocabulary.words == vocabulary.words
    assert checkpoint.resume is None and checkpoint.resume_model_state is None
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["format"] == "rationalizer.run" and config["version"] == 1
    assert config["rationalizer_version"] == rationalizer.__version__
    assert config["vocabulary"] == "vocab.json"


def test_without_vocabulary(tmp_path: Path) -> None:
    save(tmp_path, TinyTagger(0))
    assert load_checkpoint(tmp_path).vocabulary is None
    assert not (tmp_path / "vocab.json").exists()


def test_optimizer_state_round_trip_gives_identical_steps() -> None:
    model, optimizer, scheduler = make_training()
    train_steps(model, optimizer, scheduler, 3)
    tensors, layout = optimizer_state_to_tensors(optimizer.state_dict())
    assert all(isinstance(t, torch.Tensor) for t in tensors.values())
    json.dumps(layout)  # the rest is plain JSON
    restored_state = optimizer_state_from_tensors(tensors, json.loads(json.dumps(layout)))
    assert restored_state["param_groups"][0]["betas"] == (0.9, 0.999)  # a tuple again
    assert set(restored_state["state"]) == set(optimizer.state_dict()["state"])  # int keys

    twin = TinyTagger(seed=5)
    twin.load_state_dict(model.state_dict())
    twin_optimizer = torch.optim.AdamW(twin.parameters(), lr=1e-2, weight_decay=0.01)
    twin_optimizer.load_state_dict(restored_state)
    batch = torch.randint(0, 12, (4, 5))
    for net, opt in ((model, optimizer), (twin, twin_optimizer)):
        net.eval()
        for _ in range(3):
            loss = nn.functional.cross_entropy(net(batch).flatten(0, 1), batch.flatten())
            opt.zero_grad()
            loss.backward()
            opt.step()
    assert_same_parameters(model, twin)


def test_resumed_training_is_bit_identical(tmp_path: Path) -> None:
    model, optimizer, scheduler = make_training()
    train_steps(model, optimizer, scheduler, 4)
    save(
        tmp_path,
        model,
        resume=ResumeState.capture(
            epoch=2,
            optimizer=optimizer,
            scheduler=scheduler,
            best_metric=0.75,
            best_epoch=1,
            stale_epochs=1,
        ),
    )
    train_steps(model, optimizer, scheduler, 5)  # the uninterrupted run
    expected_draws = (random.random(), float(np.random.rand()), float(torch.rand(())))

    checkpoint = load_checkpoint(tmp_path)
    state = checkpoint.resume
    assert state is not None and checkpoint.resume_model_state is not None
    assert (state.epoch, state.best_metric, state.best_epoch, state.stale_epochs) == (2, 0.75, 1, 1)
    resumed, resumed_optimizer, resumed_scheduler = make_training(seed=9)
    resumed.load_state_dict(checkpoint.resume_model_state)
    state.restore(optimizer=resumed_optimizer, scheduler=resumed_scheduler)
    train_steps(resumed, resumed_optimizer, resumed_scheduler, 5)

    assert_same_parameters(model, resumed)
    assert resumed_scheduler.get_last_lr() == scheduler.get_last_lr()
    assert (random.random(), float(np.random.rand()), float(torch.rand(()))) == expected_draws


def test_selected_weights_stay_when_an_epoch_does_not_improve(tmp_path: Path) -> None:
    model, optimizer, scheduler = make_training()
    save(tmp_path, model, resume=ResumeState.capture(epoch=1, optimizer=optimizer))
    best = {name: value.clone() for name, value in model.state_dict().items()}
    train_steps(model, optimizer, scheduler, 2)
    save(
        tmp_path,
        model,
        save_weights=False,
        resume=ResumeState.capture(epoch=2, optimizer=optimizer),
    )
    checkpoint = load_checkpoint(tmp_path)
    assert all(torch.equal(checkpoint.state_dict[name], best[name]) for name in best)
    latest = model.state_dict()
    assert all(torch.equal(checkpoint.resume_model_state[name], latest[name]) for name in latest)
    assert checkpoint.resume.epoch == 2
    assert not torch.equal(checkpoint.state_dict["gru.weight_ih_l0"], latest["gru.weight_ih_l0"])


def test_saving_without_resume_state_finishes_the_run(tmp_path: Path) -> None:
    model, optimizer, _ = make_training()
    save(tmp_path, model, resume=ResumeState.capture(epoch=1, optimizer=optimizer))
    assert load_checkpoint(tmp_path, with_resume=False).resume is None
    assert load_checkpoint(tmp_path).resume is not None
    save(tmp_path, model)
    assert not (tmp_path / "resume.json").exists()
    assert not (tmp_path / "resume.safetensors").exists()
    assert load_checkpoint(tmp_path).resume is None


def test_nothing_is_unpickled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, optimizer, scheduler = make_training()
    save(
        tmp_path,
        model,
        resume=ResumeState.capture(epoch=1, optimizer=optimizer, scheduler=scheduler),
    )

    def refuse(*args, **kwargs):
        raise AssertionError("a checkpoint must never be unpickled")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    assert load_checkpoint(tmp_path).resume.epoch == 1


# ---------------------------------------------------------------------------------------------
# Atomic writes


def test_failed_save_leaves_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = TinyTagger(0)
    save(tmp_path, first)

    def crash_half_way(model, filename, *args, **kwargs):
        Path(filename).write_bytes(b"\x00" * 100)  # a partly written file
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint_module, "save_model", crash_half_way)
    with pytest.raises(KeyboardInterrupt):
        save(tmp_path, TinyTagger(1))
    monkeypatch.undo()
    fresh = TinyTagger(2)
    fresh.load_state_dict(load_checkpoint(tmp_path).state_dict)
    assert_same_parameters(first, fresh)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]


def test_torn_resume_state_is_detected(tmp_path: Path) -> None:
    model, optimizer, _ = make_training()
    save(tmp_path, model, resume=ResumeState.capture(epoch=1, optimizer=optimizer))
    earlier = (tmp_path / "resume.json").read_bytes()
    save(tmp_path, model, resume=ResumeState.capture(epoch=2, optimizer=optimizer))
    (tmp_path / "resume.json").write_bytes(earlier)  # as if stopped between the two files
    with pytest.raises(RationalizerError, match="torn"):
        load_checkpoint(tmp_path)


# ---------------------------------------------------------------------------------------------
# Errors


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    save(tmp_path / "run", TinyTagger(0))
    return tmp_path / "run"


def rewrite_config(run_dir: Path, **changes) -> None:
    path = run_dir / "config.json"
    config = json.loads(path.read_text())
    config.update(changes)
    path.write_text(json.dumps(config))


def test_missing_directory_and_files(tmp_path: Path, run_dir: Path) -> None:
    with pytest.raises(RationalizerError, match="does not exist"):
        load_checkpoint(tmp_path / "nowhere")
    (run_dir / "model.safetensors").unlink()
    with pytest.raises(RationalizerError, match=r"model\.safetensors is missing"):
        load_checkpoint(run_dir)
    with pytest.raises(RationalizerError, match=r"config\.json is missing"):
        load_checkpoint(tmp_path)


def test_foreign_directory(run_dir: Path) -> None:
    # a Hugging Face model folder has a config.json too
    (run_dir / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 384}))
    with pytest.raises(RationalizerError, match="not a rationalizer run file"):
        load_checkpoint(run_dir)


def test_run_files_of_todays_layout_load(run_dir: Path) -> None:
    """Run directories written before the one envelope said ``format_version``."""
    config = json.loads((run_dir / "config.json").read_text())
    config["format_version"] = config.pop("version")
    (run_dir / "config.json").write_text(json.dumps(config))
    assert load_checkpoint(run_dir).labels == LABELS


@pytest.mark.parametrize(
    ("version", "message"), [(0, "no longer readable"), (2, "upgrade rationalizer")]
)
def test_incompatible_format_version(run_dir: Path, version: int, message: str) -> None:
    rewrite_config(run_dir, version=version)
    with pytest.raises(DataFormatError, match=message) as caught:
        load_checkpoint(run_dir)
    assert caught.value.field == "version"
    assert caught.value.path == str(run_dir / "config.json")


def test_invalid_settings_name_the_field(run_dir: Path) -> None:
    rewrite_config(run_dir, train_config={"method": "lstm"})
    with pytest.raises(DataFormatError, match=r"field 'train_config\.method'"):
        load_checkpoint(run_dir)
    rewrite_config(run_dir, train_config={}, labels="neg")
    with pytest.raises(DataFormatError, match="field 'labels'"):
        load_checkpoint(run_dir)
    (run_dir / "config.json").write_text('{"format": ')
    with pytest.raises(DataFormatError, match=r"config\.json, line 1: not valid JSON"):
        load_checkpoint(run_dir)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_weights_name_the_file(run_dir: Path, damage: str) -> None:
    path = run_dir / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(b"not a safetensors file" if damage == "garbage" else data[: len(data) // 2])
    with pytest.raises(DataFormatError, match=r"model\.safetensors: not a readable safetensors"):
        load_checkpoint(run_dir)


def test_corrupt_resume_state_names_the_file(tmp_path: Path) -> None:
    model, optimizer, _ = make_training()
    save(tmp_path, model, resume=ResumeState.capture(epoch=1, optimizer=optimizer))
    resume = (tmp_path / "resume.json").read_bytes()
    shutil.copy(tmp_path / "config.json", tmp_path / "resume.json")
    with pytest.raises(
        RationalizerError, match=r"resume\.json, field .format.: not a rationalizer resume file"
    ):
        load_checkpoint(tmp_path)
    (tmp_path / "resume.json").write_bytes(resume)
    assert load_checkpoint(tmp_path).resume is not None
    (tmp_path / "resume.safetensors").write_bytes(b"\x01\x02")
    with pytest.raises(DataFormatError, match=r"resume\.safetensors: not a readable safetensors"):
        load_checkpoint(tmp_path)
