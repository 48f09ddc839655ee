"""A trained run as a Python object: :class:`Rationalizer` loads it, predicts texts and writes
ERASER records of datasets; :class:`Prediction` is one text's label and rationale.

model = rationalizer.Rationalizer.load("runs/movies-ssr")
model.predict(["a gripping , beautifully acted film ."])[0].rationale
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from rationalizer import distributed
from rationalizer.data import Dataset, Document, Example, Span, mask_to_spans
from rationalizer.data.labels import LabelMap, relabel
from rationalizer.data.results import ResultRecord
from rationalizer.data.tokenization import Encoding, SubwordTokenizer, WordTokenizer
from rationalizer.errors import RationalizerError
from rationalizer.highlight import Highlight, Highlightable
from rationalizer.metrics.evaluate import DEFAULT_AOPC_THRESHOLDS
from rationalizer.metrics.ranking import top_fraction_words
from rationalizer.models import ModelConfig, RationalizerModel
from rationalizer.training.batching import (
    EncodedExample,
    TrainingExample,
    encode_examples,
    length_batches,
)
from rationalizer.training.checkpoint import load_checkpoint
from rationalizer.training.config import TrainConfig
from rationalizer.training.hub import local_folder, push_to_hub, save_pretrained
from rationalizer.training.methods import keep_mask
from rationalizer.training.precision import Precision, autocast_dtype, checked_precision
from rationalizer.training.trainer import iter_model, run_model


@dataclass(frozen=True)
class Prediction(Highlightable):
    """A prediction with the rationale the predictor read: words, label, spans, scores
    (the selector's probability of each word). Shows as highlighted text in a notebook;
    :meth:`to_svg` and :meth:`to_latex` export it as a figure."""

    words: tuple[str, ...]
    label: str
    probabilities: dict[str, float]
    rationale: tuple[Span, ...]
    scores: tuple[float, ...]

    @property
    def rationale_words(self) -> list[str]:
        return [self.words[i] for span in self.rationale for i in span.positions()]

    def highlight(self) -> Highlight:
        """The words shaded by selector probability (1 is full colour), the rationale bold."""
        return Highlight(
            self.words,
            rationale=self.rationale,
            scores=self.scores,
            score_scale=1.0,
            score_name="selector probability",
            signed=False,
        )

    def summary(self) -> str:
        probabilities = ", ".join(f"{k} {v:.3f}" for k, v in self.probabilities.items())
        selected = sum(len(span) for span in self.rationale)
        return (
            f"predicted {self.label} ({probabilities}) reading {selected} of "
            f"{len(self.words)} words"
        )


class Rationalizer:
    """A trained self-explaining classifier loaded from a run directory."""

    def __init__(
        self,
        model: RationalizerModel,
        encoder: WordTokenizer | SubwordTokenizer,
        labels: Sequence[str],
        config: TrainConfig,
        precision: Precision | None = None,
    ):
        self.model = model.eval()
        self.encoder = encoder
        self.labels = tuple(labels)
        self.config = config
        self.precision: Precision = checked_precision(precision or config.precision)
        #: the folder the model was loaded from (its summary and shortcuts feed the model card)
        self.run_dir: Path | None = None

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        """The mixed-precision dtype of :attr:`precision` (by default the one the model was
        trained and validated with) on the model's device."""
        return autocast_dtype(self.precision, self.device, self.config.encoder_kind)

    @classmethod
    def load(
        cls,
        run_dir: str | Path,
        *,
        device: str | torch.device | None = None,
        precision: Precision | None = None,
    ) -> Rationalizer:
        """The model of a run directory on ``device`` (cpu, cuda, cuda:N or mps; default cpu),
        computing in ``precision`` (fp32, bf16, fp16, auto; default: the run's setting)."""
        target = distributed.resolve_device(device, flag="device")
        checkpoint = load_checkpoint(run_dir, with_resume=False)
        model_config = ModelConfig(**checkpoint.model_config)
        bundled = checkpoint.run_dir / str(model_config.transformer_path)
        if model_config.transformer_path is not None and bundled.is_dir():
            # a saved model's own encoder/ folder (save_pretrained), not one under the cwd
            model_config = replace(model_config, transformer_path=str(bundled))
        model = RationalizerModel.build(model_config)
        model.load_state_dict(checkpoint.state_dict)
        model.to(target)
        encoder: WordTokenizer | SubwordTokenizer
        if checkpoint.vocabulary is not None:
            encoder = WordTokenizer(checkpoint.vocabulary)
        else:
            from rationalizer.data.pretrained import resolve_model_path

            assert model_config.transformer_path is not None  # ModelConfig requires it
            encoder = SubwordTokenizer.from_pretrained(
                resolve_model_path(model_config.transformer_path)
            )
        loaded = cls(model, encoder, checkpoint.labels, checkpoint.train_config, precision)
        loaded.run_dir = checkpoint.run_dir
        return loaded

    # ------------------------------------------------------------------ Hugging Face Hub
    @classmethod
    def from_pretrained(
        cls,
        spec: str | Path,
        *,
        revision: str | None = None,
        device: str | torch.device | None = None,
        precision: Precision | None = None,
    ) -> Rationalizer:
        """A model from a folder (a run directory or a :meth:`save_pretrained` folder) or a
        Hub ID such as ``org/movies-ssr``: downloaded when online, read from the Hugging Face
        cache under ``HF_HUB_OFFLINE=1``."""
        return cls.load(local_folder(spec, revision), device=device, precision=precision)

    def save_pretrained(
        self, out_dir: str | Path, *, evaluation: str | Path | Mapping | None = None
    ) -> Path:
        """Save in Hub layout (``config.json``, ``model.safetensors``, ``README.md`` model
        card); ``evaluation`` (``rationalizer evaluate --json`` output) adds test metrics and
        faithfulness to the card."""
        return save_pretrained(self, out_dir, evaluation)

    def push_to_hub(
        self,
        repo_id: str,
        *,
        evaluation: str | Path | Mapping | None = None,
        private: bool | None = None,
        token: str | None = None,
    ) -> str:
        """:meth:`save_pretrained` into Hub repository ``repo_id`` (created if needed); the
        commit's URL."""
        return push_to_hub(self, repo_id, evaluation=evaluation, private=private, token=token)

    # ------------------------------------------------------------------ plain texts
    def predict(
        self,
        texts: Sequence[str] | Sequence[Sequence[str]],
        queries: Sequence[str | None] | None = None,
        batch_size: int = 32,
    ) -> list[Prediction]:
        """Label, probabilities and word-level rationale for each text.

        A text is a string (split on whitespace) or a list of words; ``queries`` gives the
        claim or question of pair tasks.
        """
        examples = []
        for i, text in enumerate(texts):
            words = tuple(text.split()) if isinstance(text, str) else tuple(text)
            if not words:
                raise RationalizerError(f"text {i} is empty")
            query = queries[i] if queries is not None else None
            examples.append(
                Example(str(i), (Document(str(i), words),), self.labels[0], query=query)
            )
        return [prediction for prediction, _ in self._run(examples, batch_size)]

    # ------------------------------------------------------------------ datasets
    def predict_dataset(
        self,
        dataset: Dataset,
        batch_size: int = 32,
        aopc_thresholds: Sequence[float] = DEFAULT_AOPC_THRESHOLDS,
        label_map: LabelMap | None = None,
    ) -> list[ResultRecord]:
        """ERASER results records with faithfulness scores computed on token ids.

        ``label_map`` (``{"neg": "NEG"}``: model label → dataset label) reads a dataset whose
        labels differ from the model's; labels that differ only in case are matched with a
        :class:`~rationalizer.data.labels.LabelsMatchedWarning`.

        Comprehensiveness reruns the predictor with the rationale's positions masked out,
        sufficiency with only them kept; the thresholded scores do the same for the top
        fraction of words by selector probability (for AOPC; a word's is the mean of its
        subwords', and all its positions go or stay together), counted as the post-hoc
        explainers count them. Masking reuses the model's own mechanism, so no text is decoded
        and re-tokenised.
        """
        dataset = relabel(dataset, self.labels, label_map)
        encoded = self._encode(dataset)
        batches = length_batches([e.length for e in encoded], batch_size)
        records: dict[int, ResultRecord] = {}
        for done in self._iter_records(dataset, encoded, batches, aopc_thresholds):
            records.update(done)
        return [records[i] for i in range(len(dataset))]

    def prediction_batches(self, dataset: Dataset, batch_size: int = 32) -> list[list[int]]:
        """The batches (example indices) :meth:`predict_dataset` runs. They depend only on the
        examples' lengths, so processes that share them out compute every example exactly as
        one process does."""
        return length_batches([e.length for e in self._encode(dataset)], batch_size)

    def iter_dataset_records(
        self,
        dataset: Dataset,
        batches: Sequence[Sequence[int]],
        aopc_thresholds: Sequence[float] = DEFAULT_AOPC_THRESHOLDS,
    ) -> Iterator[list[ResultRecord]]:
        """The records of :meth:`predict_dataset` for the given batches of
        :meth:`prediction_batches`, one list per batch as it is done."""
        encoded = self._encode(dataset)
        for done in self._iter_records(dataset, encoded, batches, aopc_thresholds):
            yield [record for _, record in done]

    def _iter_records(
        self,
        dataset: Dataset,
        encoded: Sequence[EncodedExample],
        batches: Sequence[Sequence[int]],
        aopc_thresholds: Sequence[float],
    ) -> Iterator[list[tuple[int, ResultRecord]]]:
        def faithfulness(model, batch, out):
            def probabilities(kept: torch.Tensor) -> np.ndarray:
                return (
                    torch.softmax(model.classify(batch, keep_mask(batch, kept)).float(), -1)
                    .cpu()
                    .numpy()
                )

            selectable = batch["selectable"].float()
            chosen = out.mask * selectable
            extra = {
                "comprehensiveness": probabilities(selectable - chosen),
                "sufficiency": probabilities(chosen),
            }
            select_probability = torch.softmax(out.selector_logits.float(), -1)[..., 1].cpu()
            rows = [encoded[i] for i in batch["index"].tolist()]
            word_scores = [
                _word_scores(row.encoding, select_probability[j, : row.length].numpy())
                for j, row in enumerate(rows)
            ]
            for t in aopc_thresholds:
                top = _top_word_positions(rows, word_scores, t, selectable.shape[1])
                top = top.to(selectable.device)
                extra[f"comp@{t}"] = probabilities(selectable - top)
                extra[f"suff@{t}"] = probabilities(top)
            return extra

        for done in iter_model(self.model, encoded, batches, faithfulness, self.autocast_dtype):
            records = []
            for i, row in done:
                ex = dataset[i]
                prediction = self._prediction(ex, encoded[i], row)
                record = ResultRecord.single_document(
                    ex.id,
                    ex.document.docid,
                    ((span.start, span.end) for span in prediction.rationale),
                    prediction.scores,
                    self.labels,
                    row["probabilities"],
                    row["comprehensiveness"],
                    row["sufficiency"],
                    ((t, row[f"comp@{t}"], row[f"suff@{t}"]) for t in aopc_thresholds),
                )
                records.append((i, record))
            yield records

    # ------------------------------------------------------------------ shared
    def _encode(self, examples: Sequence[Example]) -> list[EncodedExample]:
        encoded, _ = encode_examples(
            self.encoder,
            [TrainingExample(ex, annotated=False, shortcut_words=None) for ex in examples],
            self.labels,
            self.config.max_length,
        )
        return encoded

    def _run(self, examples: Sequence[Example], batch_size: int) -> list[tuple[Prediction, dict]]:
        """Encode, run the model and map every output to words."""
        encoded = self._encode(examples)
        rows = run_model(self.model, encoded, batch_size, autocast_to=self.autocast_dtype)
        return [
            (self._prediction(ex, enc, row), row)
            for ex, enc, row in zip(examples, encoded, rows, strict=True)
        ]

    def _prediction(self, example: Example, encoded: EncodedExample, row: dict) -> Prediction:
        """The model's outputs on one example (a row of ``run_model``), on its words."""
        word_mask = encoded.encoding.position_mask_to_words(row["mask"])
        scores = _word_scores(encoded.encoding, row["select_probability"])
        return Prediction(
            words=example.document.tokens,
            label=self.labels[int(row["probabilities"].argmax())],
            probabilities=self._distribution(row["probabilities"]),
            rationale=mask_to_spans(word_mask),
            scores=tuple(float(s) for s in scores),
        )

    def _distribution(self, probabilities: np.ndarray) -> dict[str, float]:
        return dict(zip(self.labels, map(float, probabilities), strict=True))


def _word_scores(encoding: Encoding, select_probability: np.ndarray) -> np.ndarray:
    """Each word's selector probability: the mean over its positions (subwords). Words dropped
    by truncation were never scored: 0, like unselected words."""
    return encoding.positions_to_words(select_probability, aggregate="mean", fill=0.0)


def _top_word_positions(
    encoded: Sequence[EncodedExample],
    word_scores: Sequence[np.ndarray],
    fraction: float,
    length: int,
) -> torch.Tensor:
    """(B, ``length``) 0/1: every position of each example's top ``fraction`` of the words it
    reads by score. Ranking whole words, not positions, makes a subword model's AOPC count the
    same units as the post-hoc explainers' (:mod:`rationalizer.explain.faithfulness`)."""
    top = torch.zeros(len(encoded), length)
    for row, (example, scores) in enumerate(zip(encoded, word_scores, strict=True)):
        words = top_fraction_words(scores, fraction, example.encoding.num_words)
        positions = example.encoding.words_to_positions(words, fill=False)
        top[row, : example.length] = torch.from_numpy(positions.astype(np.float32))
    return top
