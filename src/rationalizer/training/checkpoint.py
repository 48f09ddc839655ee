"""Run directories on disk: model weights, settings and resume state, with nothing pickled.

A run directory holds

* ``config.json``: the rationalizer version that wrote it, the model and training settings, the
  label names and the vocabulary file name;
* ``model.safetensors``: the selected model's weights (tied weights stored once);
* ``vocab.json``: the word vocabulary of a GloVe model;
* ``resume.safetensors`` + ``resume.json``: the state after the last completed epoch (latest
  weights, optimizer and scheduler state, RNG states, early-stopping counters), so an interrupted
  run continues exactly where it stopped.

Checkpoints may come from anyone, so loading never unpickles: tensors live in safetensors files and
everything else in JSON, in the envelope of :mod:`rationalizer.files` (kinds ``run`` and
``resume``). Nested states (an optimizer's ``state_dict``) are split into named tensors
plus a JSON layout that refers to them by name.

Every file is written to a temporary name and moved into place with :func:`os.replace`, so a
killed run leaves each file either old or new, never half written. The order matters: the
selected weights come before the resume state (a resumed run then at worst repeats an epoch),
``resume.json`` after its tensors (it names the save they belong to, so a resume state torn
between two saves is detected instead of silently mixed), and ``config.json`` last, so a
directory that has one always has weights.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from pydantic import ConfigDict, TypeAdapter, ValidationError
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file, save_model
from torch import Tensor

from rationalizer import __version__
from rationalizer.data.tokenization import WordVocabulary
from rationalizer.errors import DataFormatError, RationalizerError
from rationalizer.files import read_json, validated, write_json
from rationalizer.outputs import write_atomic
from rationalizer.training.config import TrainConfig

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
VOCABULARY_FILE = "vocab.json"
RESUME_TENSORS_FILE = "resume.safetensors"
RESUME_FILE = "resume.json"

Tensors = dict[str, torch.Tensor]

# ---------------------------------------------------------------------------------------------
# Nested states as named tensors plus a JSON layout

# JSON cannot tell a tuple from a list, has only string keys and holds no tensors: these
# one-key objects stand for a tuple, a dict with other keys, and a tensor stored by name.
_TUPLE = "__tuple__"
_ITEMS = "__items__"
_TENSOR = "__tensor__"
_MARKERS = frozenset((_TUPLE, _ITEMS, _TENSOR))


def _split(value: Any, path: str, tensors: Tensors) -> Any:
    """The JSON layout of ``value``; its tensors are copied into ``tensors`` under their path."""
    if isinstance(value, torch.Tensor):
        if path in tensors:
            raise ValueError(f"two tensors of the state would both be stored as {path!r}")
        tensors[path] = value.detach().cpu().clone(memory_format=torch.contiguous_format)
        return {_TENSOR: path}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, tuple):
        return {_TUPLE: [_split(item, f"{path}.{i}", tensors) for i, item in enumerate(value)]}
    if isinstance(value, list):
        return [_split(item, f"{path}.{i}", tensors) for i, item in enumerate(value)]
    if isinstance(value, Mapping):
        if all(isinstance(key, str) for key in value) and not _MARKERS & value.keys():
            return {key: _split(item, f"{path}.{key}", tensors) for key, item in value.items()}
        return {
            _ITEMS: [
                [_split(key, f"{path}.key{i}", tensors), _split(item, f"{path}.{key}", tensors)]
                for i, (key, item) in enumerate(value.items())
            ]
        }
    raise TypeError(f"cannot store a {type(value).__name__} (at {path!r}) in a checkpoint")


def _join(layout: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    """Inverse of :func:`_split`; KeyError names a tensor the layout refers to but is missing."""
    if isinstance(layout, list):
        return [_join(item, tensors) for item in layout]
    if not isinstance(layout, dict):
        return layout
    if layout.keys() == {_TENSOR}:
        return tensors[layout[_TENSOR]]
    if layout.keys() == {_TUPLE}:
        return tuple(_join(item, tensors) for item in layout[_TUPLE])
    if layout.keys() == {_ITEMS}:
        return {_join(key, tensors): _join(item, tensors) for key, item in layout[_ITEMS]}
    return {key: _join(item, tensors) for key, item in layout.items()}


def optimizer_state_to_tensors(
    state: Mapping[str, Any], prefix: str = "optimizer"
) -> tuple[Tensors, dict[str, Any]]:
    """An optimizer's (or scheduler's) ``state_dict()`` as tensors named ``prefix.…`` plus a JSON
    layout; :func:`optimizer_state_from_tensors` rebuilds it exactly (tuples, int keys, dtypes)."""
    tensors: Tensors = {}
    return tensors, _split(state, prefix, tensors)


def optimizer_state_from_tensors(
    tensors: Mapping[str, torch.Tensor], layout: Mapping[str, Any]
) -> dict[str, Any]:
    """The ``state_dict`` that :func:`optimizer_state_to_tensors` split into ``tensors`` and
    ``layout``, ready for ``optimizer.load_state_dict``."""
    return _join(layout, tensors)


# ---------------------------------------------------------------------------------------------
# Resume state


@dataclass(frozen=True, eq=False)
class RngState:
    """The global random generators of Python, numpy and torch (and CUDA when present)."""

    python: tuple[Any, ...]
    numpy: tuple[Any, ...]
    # Tensor, not torch.Tensor: the field named torch hides the module in the class body.
    torch: Tensor
    cuda: tuple[Tensor, ...] = ()

    @classmethod
    def capture(cls) -> RngState:
        return cls(
            python=random.getstate(),
            # numpy's stubs allow a dict, which legacy=True never returns for the global MT19937.
            numpy=np.random.get_state(legacy=True),  # type: ignore[arg-type]
            torch=torch.get_rng_state(),
            cuda=tuple(torch.cuda.get_rng_state_all()) if torch.cuda.is_available() else (),
        )

    def restore(self) -> None:
        random.setstate(self.python)
        np.random.set_state(self.numpy)
        torch.set_rng_state(self.torch)
        if self.cuda and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(list(self.cuda))

    def _tree(self) -> dict[str, Any]:
        """A splittable form: numpy's key array as a list of ints."""
        name, keys, *rest = self.numpy
        return {
            "python": self.python,
            "numpy": (name, np.asarray(keys).tolist(), *rest),
            "torch": self.torch,
            "cuda": self.cuda,
        }

    @classmethod
    def _from_tree(cls, tree: Mapping[str, Any]) -> RngState:
        name, keys, *rest = tree["numpy"]
        return cls(
            python=tree["python"],
            numpy=(name, np.asarray(keys, dtype=np.uint32), *rest),
            torch=tree["torch"],
            cuda=tuple(tree["cuda"]),
        )


@dataclass(frozen=True, eq=False)
class ResumeState:
    """Where training stands after a completed epoch (the weights are saved next to it)."""

    #: epochs completed
    epoch: int
    #: best validation score so far and the epoch that reached it (0: none yet)
    best_metric: float | None
    best_epoch: int
    #: epochs since the best one, for early stopping
    stale_epochs: int
    optimizer: dict[str, Any]
    scheduler: dict[str, Any] | None
    rng: RngState
    #: the float16 loss scaler's state (None: no active scaler, or a checkpoint from before)
    scaler: dict[str, Any] | None = None

    @classmethod
    def capture(
        cls,
        *,
        epoch: int,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
        best_metric: float | None = None,
        best_epoch: int = 0,
        stale_epochs: int = 0,
        scaler: torch.amp.GradScaler | None = None,
    ) -> ResumeState:
        """The current state. It refers to the optimizer's live tensors: save it right away."""
        return cls(
            epoch=epoch,
            best_metric=best_metric,
            best_epoch=best_epoch,
            stale_epochs=stale_epochs,
            optimizer=optimizer.state_dict(),
            scheduler=None if scheduler is None else scheduler.state_dict(),
            rng=RngState.capture(),
            scaler=scaler.state_dict() if scaler is not None and scaler.is_enabled() else None,
        )

    def restore(
        self,
        *,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
        scaler: torch.amp.GradScaler | None = None,
    ) -> None:
        """Put the optimizer, scheduler, loss scaler and random generators back into the saved
        state. A scaler saved by a float16 run is restored only into an active scaler."""
        optimizer.load_state_dict(self.optimizer)
        if scheduler is not None:
            if self.scheduler is None:
                raise RationalizerError("the saved resume state has no learning-rate schedule")
            scheduler.load_state_dict(self.scheduler)
        if scaler is not None and scaler.is_enabled() and self.scaler is not None:
            scaler.load_state_dict(self.scaler)
        self.rng.restore()

    def _tree(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "best_metric": self.best_metric,
            "best_epoch": self.best_epoch,
            "stale_epochs": self.stale_epochs,
            "optimizer": self.optimizer,
            "scheduler": self.scheduler,
            "rng": self.rng._tree(),
            "scaler": self.scaler,
        }

    @classmethod
    def _from_tree(cls, tree: Mapping[str, Any]) -> ResumeState:
        return cls(
            epoch=tree["epoch"],
            best_metric=tree["best_metric"],
            best_epoch=tree["best_epoch"],
            stale_epochs=tree["stale_epochs"],
            optimizer=tree["optimizer"],
            scheduler=tree["scheduler"],
            rng=RngState._from_tree(tree["rng"]),
            scaler=tree.get("scaler"),
        )


# ---------------------------------------------------------------------------------------------
# Saving


def save_checkpoint(
    run_dir: str | Path,
    *,
    model: torch.nn.Module,
    model_config: Mapping[str, Any],
    train_config: TrainConfig,
    labels: tuple[str, ...],
    vocabulary: WordVocabulary | None,
    save_weights: bool = True,
    resume: ResumeState | None = None,
) -> None:
    """Save a run into ``run_dir`` (created if needed).

    ``model``'s weights become ``model.safetensors`` when ``save_weights`` (pass False after an
    epoch that did not improve, to keep the selected model) or when the directory has none yet.
    With ``resume``, the resume files receive ``model``'s current weights and the state; without,
    stale resume files are removed, as the run is then complete. ``model_config`` must be
    JSON-serialisable (``dataclasses.asdict`` of the model's config).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "rationalizer_version": __version__,
        "labels": list(labels),
        "model_config": dict(model_config),
        "train_config": train_config.model_dump(mode="json"),
        "vocabulary": None if vocabulary is None else VOCABULARY_FILE,
    }
    if vocabulary is not None:
        vocabulary.save(run_dir / VOCABULARY_FILE)
    weights = run_dir / WEIGHTS_FILE
    if save_weights or not weights.is_file():
        write_atomic(weights, lambda temporary: save_model(model, str(temporary)))
    if resume is None:
        for name in (RESUME_FILE, RESUME_TENSORS_FILE):
            (run_dir / name).unlink(missing_ok=True)
    else:
        save_id = uuid.uuid4().hex
        tensors: Tensors = {}
        layout = _split({**resume._tree(), "model": model.state_dict()}, "resume", tensors)
        write_atomic(
            run_dir / RESUME_TENSORS_FILE,
            lambda temporary: save_file(tensors, temporary, metadata={"save_id": save_id}),
        )
        write_json(run_dir / RESUME_FILE, "resume", {"save_id": save_id, "state": layout})
    write_json(run_dir / CONFIG_FILE, "run", config)


# ---------------------------------------------------------------------------------------------
# Loading


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """A loaded run directory."""

    run_dir: Path
    rationalizer_version: str
    model_config: dict[str, Any]
    train_config: TrainConfig
    labels: tuple[str, ...]
    vocabulary: WordVocabulary | None
    #: weights of the selected model, every name of tied weights included
    state_dict: Tensors
    #: where training stood after the last completed epoch (None: finished or not asked for)
    resume: ResumeState | None
    #: the weights after that epoch, which may differ from the selected ``state_dict``
    resume_model_state: Tensors | None


@dataclass(frozen=True)
class _RunFile:
    """The payload of ``config.json``."""

    __pydantic_config__ = ConfigDict(extra="forbid")
    rationalizer_version: str
    labels: tuple[str, ...]
    model_config: dict[str, Any]
    train_config: dict[str, Any]
    vocabulary: str | None


@dataclass(frozen=True)
class _ResumeFile:
    """The payload of ``resume.json``."""

    __pydantic_config__ = ConfigDict(extra="forbid")
    save_id: str
    state: dict[str, Any]


_Layout = TypeVar("_Layout", _RunFile, _ResumeFile)


def _read_run_file(path: Path, kind: str, layout: type[_Layout]) -> _Layout:
    """``path``'s payload of file ``kind`` in its ``layout``; a missing file is named as a part
    of the run directory."""
    if not path.is_file():
        raise RationalizerError(f"{path} is missing: not a complete rationalizer run directory")
    return validated(TypeAdapter(layout), read_json(path, kind), path)


def _read_tensors(path: Path) -> tuple[Tensors, dict[str, str]]:
    """All tensors of a safetensors file and its metadata; DataFormatError when it is corrupt."""
    if not path.is_file():
        raise RationalizerError(f"{path} is missing: not a complete rationalizer run directory")
    try:
        with safe_open(str(path), framework="pt") as handle:
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118 (not a dict)
            metadata = handle.metadata() or {}
    except (SafetensorError, OSError) as err:
        raise DataFormatError(path, f"not a readable safetensors file ({err})") from None
    return tensors, metadata


def _read_weights(path: Path) -> Tensors:
    """The weights saved by ``safetensors.torch.save_model``, with tied names restored: its
    metadata maps each name it left out to the stored name sharing the tensor."""
    tensors, aliases = _read_tensors(path)
    for alias, stored in aliases.items():
        if stored in tensors and alias not in tensors:
            tensors[alias] = tensors[stored]
    return tensors


def _read_resume(run_dir: Path) -> tuple[ResumeState, Tensors] | None:
    path = run_dir / RESUME_FILE
    if not path.is_file():
        return None
    header = _read_run_file(path, "resume", _ResumeFile)
    tensors_path = run_dir / RESUME_TENSORS_FILE
    tensors, metadata = _read_tensors(tensors_path)
    if metadata.get("save_id") != header.save_id:
        raise RationalizerError(
            f"the resume state in {run_dir} is torn: {RESUME_FILE} and {RESUME_TENSORS_FILE} "
            "come from different saves (the run was stopped while saving); delete both files to "
            "restart training from the beginning"
        )
    try:
        tree = _join(header.state, tensors)
        return ResumeState._from_tree(tree), tree["model"]
    except KeyError as err:
        raise DataFormatError(path, f"missing entry {err}", field="state") from None
    except (TypeError, ValueError) as err:
        raise DataFormatError(path, f"malformed state ({err})", field="state") from None


def load_checkpoint(run_dir: str | Path, *, with_resume: bool = True) -> Checkpoint:
    """Load a run directory written by :func:`save_checkpoint`.

    ``with_resume=False`` skips the resume state (prediction needs only the selected model).
    Raises :class:`RationalizerError` for a missing directory or file, and
    :class:`DataFormatError` naming the file (and the field) for a foreign or newer file and for
    corrupt content.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RationalizerError(f"run directory {run_dir} does not exist")
    config_path = run_dir / CONFIG_FILE
    run = _read_run_file(config_path, "run", _RunFile)
    try:
        train_config = TrainConfig.model_validate(run.train_config)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(("train_config", *(str(part) for part in first["loc"])))
        raise DataFormatError(config_path, first["msg"], field=field) from None
    vocabulary = None if run.vocabulary is None else WordVocabulary.load(run_dir / run.vocabulary)
    resume = _read_resume(run_dir) if with_resume else None
    return Checkpoint(
        run_dir=run_dir,
        rationalizer_version=run.rationalizer_version,
        model_config=run.model_config,
        train_config=train_config,
        labels=run.labels,
        vocabulary=vocabulary,
        state_dict=_read_weights(run_dir / WEIGHTS_FILE),
        resume=None if resume is None else resume[0],
        resume_model_state=None if resume is None else resume[1],
    )
