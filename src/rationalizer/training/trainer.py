"""The one training loop every method shares.

A run directory holds everything about a run: ``config.json`` and ``model.safetensors`` (the
selected model), ``vocab.json`` for word-level models, ``metrics.jsonl`` (one line per epoch),
``summary.json``, and while training ``resume.*`` (the last completed epoch, so an interrupted
run continues where it stopped). SSR runs also keep ``shortcuts.json``/``shortcuts.md``.

Launched by torchrun on N processes (:mod:`rationalizer.distributed`), the loop trains one
model with DistributedDataParallel: every global batch of N × ``batch_size`` examples, the
batch one process of ``batch_size`` × N would take, is split among the processes, and their
gradients are averaged. Rank 0 alone validates, writes the run directory and shows progress;
the checkpoint is the same whatever the number of processes, so a run resumes on any number.
"""

from __future__ import annotations

import functools
import json
import operator
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from transformers import get_linear_schedule_with_warmup

from rationalizer import distributed
from rationalizer._environment import machine_info
from rationalizer.allocator import keep_freed_memory
from rationalizer.data import Dataset, Example, load
from rationalizer.data.embeddings import WordEmbeddings, load_embeddings
from rationalizer.errors import RationalizerError
from rationalizer.files import read_json, write_json
from rationalizer.metrics import classification_metrics, token_prf
from rationalizer.models import ModelConfig, RationalizerModel
from rationalizer.provenance import code_provenance
from rationalizer.training.augment import augment
from rationalizer.training.batching import (
    BucketBatchSampler,
    EncodedExample,
    TrainingExample,
    build_encoder,
    choose_annotated,
    collate_batch,
    encode_examples,
    length_batches,
    shard_batch,
    to_device,
)
from rationalizer.training.checkpoint import (
    ResumeState,
    load_checkpoint,
    save_checkpoint,
)
from rationalizer.training.config import DEFAULT_SELECTION_RATE, Override, TrainConfig
from rationalizer.training.methods import LossWeights, Method, get_method_class
from rationalizer.training.precision import autocast, autocast_dtype, grad_scaler

METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"
#: validation metrics where lower is better (everything else: higher)
_LOWER_IS_BETTER = {"loss"}


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    best_epoch: int
    best_metric: float
    validation: dict[str, float]
    epochs_run: int
    seconds: float
    examples_per_second: float


def seed_everything(seed: int) -> None:
    """One seed for Python, numpy and torch, so a run is reproducible."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def seed_rank(seed: int, epoch: int, rank: int) -> None:
    """Seed the sampling noise (dropout, Gumbel) of one rank's epoch in a multi-process run:
    independent across ranks, and fixed by (seed, epoch, rank), so that a resumed run draws
    the same noise as an uninterrupted one whatever the random state it resumed from."""
    torch.manual_seed(int(np.random.SeedSequence((seed, epoch, rank)).generate_state(1)[0]))


class TrainingStep(torch.nn.Module):
    """The model's forward pass and the method's losses as one module: what
    DistributedDataParallel wraps, so that every weight a loss term reads (a second predictor
    pass, the virtual encoder) is inside the forward it synchronises."""

    def __init__(self, model: RationalizerModel, method: Method, config: TrainConfig) -> None:
        super().__init__()
        self.model = model
        self.method = method
        self.config = config

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict, torch.Tensor, torch.Tensor]:
        """Total loss, loss terms, and the logits and mask of the sampled rationale."""
        cfg = self.config
        out = self.model(
            batch, sample=True, tau=cfg.gumbel_tau, straight_through=cfg.straight_through
        )
        terms = self.method.losses(self.model, batch, out)
        # reduce, not sum: sum starts from the int 0, which would type the total as int or Tensor.
        return functools.reduce(operator.add, terms.values()), terms, out.logits, out.mask


def optimize(
    step: torch.nn.Module,
    batch: dict,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    parameters: Sequence[torch.nn.Parameter],
    grad_clip: float,
    autocast_to: torch.dtype | None,
    loss_weight: float | None = None,
) -> tuple[torch.Tensor, dict, torch.Tensor, torch.Tensor]:
    """One optimizer step on ``batch``: what :class:`TrainingStep` returns, after its loss
    (times ``loss_weight`` where given, see :func:`shard_batch`) updated the weights. A
    function of its own so that ``benchmarks/train_speed.py`` times exactly the trainer's step."""
    with autocast(autocast_to, batch["input_ids"].device):
        loss, terms, logits, mask = step(batch)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss if loss_weight is None else loss * loss_weight).backward()
    scaler.unscale_(optimizer)
    torch.nn.utils.clip_grad_norm_(parameters, grad_clip)
    scaler.step(optimizer)
    scaler.update()
    return loss, terms, logits, mask


def selection_rate_target(examples: Sequence[Example], annotated: frozenset[str]) -> Override:
    """The default sparsity target k, filled in for an unset ``selection_rate``: the gold
    rationale density (micro) of the annotated examples."""
    chosen = [ex for ex in examples if ex.id in annotated]
    words = sum(len(ex.document) for ex in chosen)
    rationale = sum(int(ex.rationale_mask().sum()) for ex in chosen)
    if not words or not rationale:
        return Override(
            "selection_rate",
            None,
            DEFAULT_SELECTION_RATE,
            "not set, and no annotated example has a rationale: the default target",
        )
    return Override(
        "selection_rate",
        None,
        rationale / words,
        "not set: the gold rationale density of the annotated training examples",
    )


#: A selector whose validation selection rate stays below this share of its target rate k
#: selects (almost) nothing; one above ALL_SELECTION_RATE (with a target below it) selects
#: (almost) everything. Either way its rationales explain nothing.
EMPTY_SELECTION_SHARE = 0.1
ALL_SELECTION_RATE = 0.9
_SELECTION_ADVICE = (
    'selection = "topk" (--selection topk) holds every example to ⌈k × words⌉, and the semi '
    "method learns from a few human rationales"
)


def degenerate_selection_warning(validation: Mapping[str, float], target: float) -> str | None:
    """What to tell a user whose selected epoch selects (almost) no words or (almost) all of
    them, where an unsupervised selector often ends up; None otherwise."""
    rate = validation.get("selection_rate")
    if rate is None:
        return None
    seen = f"it selects {rate:.4f} of the validation words against a target rate of {target:.3f}"
    if rate < EMPTY_SELECTION_SHARE * target:
        return (
            f"the selected epoch's rationales are (almost) empty: {seen}, so its predictions "
            "rest on the always-kept positions (query, special tokens) and little else. "
            + _SELECTION_ADVICE
        )
    if rate > ALL_SELECTION_RATE > target:
        return (
            f"the selected epoch's rationales are (almost) the whole input: {seen}, so they "
            "do not say what the prediction rests on. " + _SELECTION_ADVICE
        )
    return None


class Trainer:
    """Trains one run from a :class:`TrainConfig` into ``run_dir``.

    ``shortcut_masks`` (word-level, by example id) must be given for SSR methods; the API
    and CLI compute them with :func:`rationalizer.training.discovery.discover_shortcuts`.
    """

    def __init__(
        self,
        config: TrainConfig,
        run_dir: str | Path,
        *,
        shortcut_masks: dict[str, np.ndarray] | None = None,
        console: Console | None = None,
        train: Dataset | None = None,
        validation: Dataset | None = None,
    ) -> None:
        distributed.resolve_device(config.device)  # an unavailable device fails before loading
        self.config = config
        self.run_dir = Path(run_dir)
        self.console = console or Console(stderr=True)
        self.train_data = train or limit_examples(
            load(config.dataset, "train", config.data_dir), config
        )
        self.validation_data = validation or load(config.dataset, "validation", config.data_dir)
        self.labels = self.train_data.labels
        self.method_class: type[Method] = get_method_class(config.method)
        if self.method_class.needs_shortcuts and shortcut_masks is None:
            raise RationalizerError(f"method {config.method!r} needs discovered shortcut masks")
        self.shortcut_masks = shortcut_masks or {}
        self.autocast_dtype = autocast_dtype(config.precision, config.device, config.encoder_kind)

    # ----------------------------------------------------------------------------- data
    def _training_examples(self, annotated: frozenset[str]) -> list[TrainingExample]:
        base = [
            TrainingExample(
                example=ex,
                annotated=ex.id in annotated,
                shortcut_words=self.shortcut_masks.get(ex.id),
            )
            for ex in self.train_data
        ]
        if self.config.augment == "none":
            return base
        copies = augment(
            base,
            self.config.augment,
            copies=self.config.augment_copies,
            seed=self.config.seed,
            embeddings=_word_vectors_if_needed(self.config),
        )
        # Random replacements destroy the shortcut, so those copies get no shortcut loss.
        copies = [
            replace(c, shortcut_words=None)
            if c.example.metadata.get("augmentation") == "random"
            else c
            for c in copies
        ]
        return base + copies

    # ----------------------------------------------------------------------------- loop
    def fit(self) -> TrainResult:
        """Train (or resume, or return the finished run), on every process of the launch."""
        keep_freed_memory()  # each step's large buffers are reused, not faulted in again
        with distributed.session(self.config.device) as context:
            self.context = context
            self.device = distributed.resolve_device(self.config.device)
            if not context.is_main:
                self.console = Console(quiet=True)
            with distributed.guard("training"), distributed.run_dir_lock(self.run_dir):
                return self._fit()

    def _fit(self) -> TrainResult:
        cfg = self.config
        context = self.context
        finished = self._finished_result()
        if finished is not None:
            return finished
        # The code as training starts, which is what the process loaded: a commit or an edit
        # made while a long run trains must not be named as the code that made it.
        made_by = code_provenance()
        if context.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        seed_everything(cfg.seed)
        annotated, weights, overrides = self._settings_used()
        self.method = self.method_class(weights)
        outside = sorted(set(self.shortcut_masks) - annotated)
        if outside:
            raise RationalizerError(
                f"shortcut masks were given for {len(outside)} examples outside the annotated "
                f"set (e.g. {outside[0]!r}); discover them with the same labeled fraction and seed"
            )
        examples = self._training_examples(annotated)
        if cfg.augment != "none" and len(examples) == len(self.train_data):
            overrides.append(
                Override(
                    "augment",
                    cfg.augment,
                    "none",
                    "no annotated example has a shortcut word to replace, so no copy was made",
                )
            )
        encoder, embedding_matrix, vocabulary = build_encoder(cfg, [t.example for t in examples])
        train_encoded, truncation = encode_examples(encoder, examples, self.labels, cfg.max_length)
        val_encoded, _ = encode_examples(
            encoder,
            [
                TrainingExample(ex, annotated=False, shortcut_words=None)
                for ex in self.validation_data
            ],
            self.labels,
            cfg.max_length,
        )
        if truncation.truncated_examples:
            self.console.print(f"[yellow]{truncation}[/]")
        selection, selection_rate = _selection(
            cfg, self.method_class.selects, weights.selection_rate
        )
        model_config = ModelConfig(
            encoder="gru" if cfg.encoder == "gru" else "transformer",
            num_labels=len(self.labels),
            vocab_size=len(vocabulary.words) if vocabulary is not None else 0,
            embedding_dim=embedding_matrix.shape[1] if embedding_matrix is not None else 50,
            hidden_size=cfg.hidden_size,
            transformer_path=None if cfg.encoder == "gru" else cfg.encoder,
            shared_encoder=self.method_class.shared_encoder,
            selects=self.method_class.selects,
            virtual_encoder=self.method_class.virtual_encoder,
            dropout=cfg.dropout,
            freeze_embeddings=not cfg.train_embeddings,
            query_attention=cfg.encoder == "gru" and cfg.query_attention,
            selection=selection,
            selection_rate=selection_rate,
        )
        model = RationalizerModel.build(model_config, embedding_matrix).to(self.device)
        optimizer = torch.optim.AdamW(
            [p for p in model.parameters() if p.requires_grad],
            lr=cfg.learning_rate,
            weight_decay=cfg.weight_decay,
        )
        # One global batch per step, split among the processes.
        sampler = BucketBatchSampler(
            [e.length for e in train_encoded], cfg.batch_size * context.world_size, seed=cfg.seed
        )
        total_steps = cfg.epochs * len(sampler)
        scheduler = get_linear_schedule_with_warmup(
            optimizer, int(cfg.warmup_ratio * total_steps), total_steps
        )
        scaler = grad_scaler(self.autocast_dtype, self.device)
        step: torch.nn.Module = TrainingStep(model, self.method, cfg)
        if context.distributed:
            # Loss terms that only some batches have (annotated, shortcut examples) leave
            # weights unused in a step, which DDP must be told to expect.
            step = torch.nn.parallel.DistributedDataParallel(
                step,
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=True,
            )

        state = self._resume(model, optimizer, scheduler, scaler, steps_per_epoch=len(sampler))
        start_epoch = state.epoch + 1 if state else 1
        best_metric = state.best_metric if state else None
        best_epoch = state.best_epoch if state else 0
        stale = state.stale_epochs if state else 0
        started = time.perf_counter()
        seen_examples = 0
        epoch = start_epoch - 1
        for epoch in range(start_epoch, cfg.epochs + 1):
            sampler.set_epoch(epoch)
            if context.distributed:
                seed_rank(cfg.seed, epoch, context.rank)
            train_stats, n = self._train_epoch(
                step, optimizer, scheduler, scaler, sampler, train_encoded, epoch
            )
            seen_examples += n
            if context.is_main:
                # Validation on rank 0 alone gives exactly the numbers of a one-process run.
                validation = evaluate_encoded(
                    model,
                    val_encoded,
                    self.validation_data,
                    self.labels,
                    cfg.batch_size,
                    self.autocast_dtype,
                )
                score = validation[cfg.select_by]
                improved = best_metric is None or (
                    score < best_metric
                    if cfg.select_by in _LOWER_IS_BETTER
                    else score > best_metric
                )
                if improved:
                    best_metric, best_epoch, stale = score, epoch, 0
                else:
                    stale += 1
                self._log_epoch(epoch, train_stats, validation, improved)
                save_checkpoint(
                    self.run_dir,
                    model=model,
                    model_config=asdict(model_config),
                    train_config=cfg,
                    labels=self.labels,
                    vocabulary=vocabulary,
                    save_weights=improved,
                    resume=ResumeState.capture(
                        epoch=epoch,
                        optimizer=optimizer,
                        scheduler=scheduler,
                        best_metric=best_metric,
                        best_epoch=best_epoch,
                        stale_epochs=stale,
                        scaler=scaler,
                    ),
                )
            # Every rank stops where rank 0's early stopping does.
            stale = distributed.broadcast(stale, f"validation of epoch {epoch}")
            if stale >= cfg.patience:
                self.console.print(
                    f"early stop: validation {cfg.select_by} did not improve for {stale} epochs"
                )
                break
        seconds = time.perf_counter() - started
        if not context.is_main:
            return distributed.receive(TrainResult, "the end of training")
        best = self._read_metrics()[best_epoch - 1]["validation"] if best_epoch else {}
        result = TrainResult(
            run_dir=self.run_dir,
            best_epoch=best_epoch,
            best_metric=float(best_metric) if best_metric is not None else float("nan"),
            validation=best,
            epochs_run=epoch - start_epoch + 1,
            seconds=seconds,
            examples_per_second=seen_examples / seconds if seconds > 0 else 0.0,
        )
        summary = asdict(result) | {
            "run_dir": str(self.run_dir.name),
            "annotated_examples": len(annotated),
            "training_examples": len(examples),
            "selection_rate_target": weights.selection_rate,
            "truncation": str(truncation),
            "parameters": model.num_parameters(),
            "seed": cfg.seed,
            "provenance": made_by,
            # Floating-point results, and so the run, repeat bit for bit only on a machine
            # with the same CPU instruction sets (or GPU), thread and process count.
            "machine": machine_info()
            | {
                "device": str(self.device),
                "processes": context.world_size,
                "torch_threads": torch.get_num_threads(),
            },
            "effective_config": cfg.effective(overrides),
            "overrides": [asdict(override) for override in overrides],
        }
        write_json(self.run_dir / SUMMARY_FILE, "summary", summary)
        if self.method_class.selects and (
            warning := degenerate_selection_warning(best, weights.selection_rate)
        ):
            self.console.print(f"[yellow]warning:[/yellow] {warning}")
        return distributed.broadcast(result, "the end of training")

    def _settings_used(self) -> tuple[frozenset[str], LossWeights, list[Override]]:
        """The annotated examples and loss weights of this run, with each setting it uses
        with another value than the configuration gives (and why), for the summary."""
        cfg = self.config
        overrides = cfg.filled_defaults()
        fraction = cfg.labeled_fraction
        if self.method_class.annotates_everything and fraction != 1.0:
            fraction = 1.0
            overrides.append(
                Override(
                    "labeled_fraction",
                    cfg.labeled_fraction,
                    fraction,
                    f"{cfg.method} supervises the selector with every human rationale",
                )
            )
        annotated = choose_annotated(self.train_data, fraction, cfg.seed)
        rate = cfg.selection_rate
        if rate is None:
            target = selection_rate_target(self.train_data.examples, annotated)
            rate = target.used
            overrides.append(target)
        shortcut_weight = cfg.shortcut_weight
        no_shortcut = self.method_class.needs_shortcuts and not any(
            mask.any() for mask in self.shortcut_masks.values()
        )
        if no_shortcut and shortcut_weight != 0.0:
            # SSR_virt's term on D_u would push the predictor towards uniform on the output of
            # a virtual encoder that never saw a shortcut: noise, not shortcut knowledge.
            shortcut_weight = 0.0
            reason = (
                "no annotated example has a shortcut word, so the shortcut terms are off and "
                f"{cfg.method} trains like `semi` (semi-supervised FR)"
            )
            overrides.append(Override("shortcut_weight", cfg.shortcut_weight, 0.0, reason))
            self.console.print(f"[yellow]note:[/yellow] {reason}")
        weights = LossWeights(
            sparsity=cfg.sparsity_weight,
            continuity=cfg.continuity_weight,
            selection_rate=rate,
            supervision=cfg.supervision_weight,
            rationale_class_weight=((1 - rate) / rate) ** cfg.balance_supervision,
            shortcut=shortcut_weight,
            annotated_task_input=cfg.annotated_task_input,
        )
        return annotated, weights, overrides

    def _finished_result(self) -> TrainResult | None:
        """A run that already finished with these settings is not trained again."""
        summary_path = self.run_dir / SUMMARY_FILE
        if not summary_path.is_file():
            return None
        if not load_checkpoint(self.run_dir, with_resume=False).train_config.same_run(self.config):
            raise RationalizerError(
                f"{self.run_dir} holds a finished run with a different configuration; "
                "use another --out directory"
            )
        summary = read_json(summary_path, "summary")
        self.console.print(f"{self.run_dir} is already trained with these settings")
        fields = {name: summary[name] for name in TrainResult.__dataclass_fields__}
        return TrainResult(**fields | {"run_dir": self.run_dir})

    def _resume(
        self, model, optimizer, scheduler, scaler, steps_per_epoch: int
    ) -> ResumeState | None:
        """Continue an interrupted run from its last completed epoch, if one is there.

        The checkpoint holds the global state (weights, optimizer, epochs done), the same on
        every rank. Run on another number of processes, an epoch has another number of
        steps: the learning-rate schedule then continues from the same share of the run.
        """
        if not (self.run_dir / "config.json").is_file():
            return None
        checkpoint = load_checkpoint(self.run_dir)
        if checkpoint.resume is None:
            return None
        if not checkpoint.train_config.same_run(self.config):
            raise RationalizerError(
                f"{self.run_dir} holds a run with a different configuration; "
                "use another --out directory or the same settings to resume"
            )
        model.load_state_dict(checkpoint.resume_model_state)
        checkpoint.resume.restore(optimizer=optimizer, scheduler=scheduler, scaler=scaler)
        steps_done = checkpoint.resume.epoch * steps_per_epoch
        if scheduler.last_epoch != steps_done:
            scheduler.last_epoch = steps_done
            rates = [
                base * factor(steps_done)
                for base, factor in zip(scheduler.base_lrs, scheduler.lr_lambdas, strict=True)
            ]
            for group, rate in zip(optimizer.param_groups, rates, strict=True):
                group["lr"] = rate
            scheduler._last_lr = rates
        self.console.print(f"resuming {self.run_dir} after epoch {checkpoint.resume.epoch}")
        return checkpoint.resume

    def _train_epoch(
        self, step, optimizer, scheduler, scaler, sampler, encoded, epoch
    ) -> tuple[dict, int]:
        """One epoch on this rank's share of every global batch; the statistics are summed
        over all ranks."""
        cfg = self.config
        context = self.context
        step.train()
        parameters = [p for p in step.parameters() if p.requires_grad]
        totals: dict[str, float] = {}
        correct = selected = selectable = count = 0
        columns = (
            TextColumn(f"epoch {epoch}/{cfg.epochs}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[stats]}"),
        )
        with Progress(*columns, console=self.console, transient=True) as progress:
            task = progress.add_task("train", total=len(sampler), stats="")
            for indices in sampler:
                weight = 1.0
                if context.distributed:
                    indices, weight = shard_batch(indices, context.rank, context.world_size)
                batch = to_device(collate_batch([encoded[i] for i in indices]), self.device)
                loss, terms, logits, mask = optimize(
                    step,
                    batch,
                    optimizer,
                    scaler,
                    parameters,
                    cfg.grad_clip,
                    self.autocast_dtype,
                    loss_weight=weight if context.distributed else None,
                )
                scheduler.step()
                if not weight:
                    continue  # a stand-in example of an empty share: not trained on
                n = len(indices)
                count += n
                for name, value in terms.items():
                    totals[name] = totals.get(name, 0.0) + float(value.detach()) * n
                totals["loss"] = totals.get("loss", 0.0) + float(loss.detach()) * n
                correct += int((logits.argmax(-1) == batch["labels"]).sum())
                hard = (mask > 0.5) & batch["selectable"]
                selected += int(hard.sum())
                selectable += int(batch["selectable"].sum())
                progress.update(
                    task,
                    advance=1,
                    stats=f"loss {totals['loss'] / count:.3f}  acc {correct / count:.3f}  "
                    f"selected {selected / max(selectable, 1):.3f}",
                )
        if context.distributed:
            shares = distributed.gather(
                (totals, correct, selected, selectable, count), f"the end of epoch {epoch}"
            )
            totals = {}
            for share, *_ in shares:
                for name, value in share.items():
                    totals[name] = totals.get(name, 0.0) + value
            by_field = list(zip(*shares, strict=True))
            correct, selected, selectable, count = (sum(counts) for counts in by_field[1:])
        stats = {name: value / count for name, value in totals.items()}
        stats["accuracy"] = correct / count
        stats["selection_rate"] = selected / max(selectable, 1)
        stats["learning_rate"] = scheduler.get_last_lr()[0]
        return stats, count

    def _log_epoch(self, epoch: int, train: dict, validation: dict, improved: bool) -> None:
        line = {"epoch": epoch, "train": train, "validation": validation, "best": improved}
        with (self.run_dir / METRICS_FILE).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")
        mark = " [green]★ best[/]" if improved else ""
        self.console.print(
            f"epoch {epoch}: train loss {train['loss']:.4f} acc {train['accuracy']:.3f} | "
            f"validation acc {validation['accuracy']:.3f} F1w {validation['weighted_f1']:.3f} "
            f"token F1 {validation['token_f1']:.3f} selected {validation['selection_rate']:.3f}"
            f"{mark}"
        )

    def _read_metrics(self) -> list[dict]:
        lines = (self.run_dir / METRICS_FILE).read_text(encoding="utf-8").splitlines()
        by_epoch = {}
        for line in lines:
            record = json.loads(line)
            by_epoch[record["epoch"]] = record  # a resumed run may have re-logged an epoch
        return [by_epoch[e] for e in sorted(by_epoch)]


def _selection(config: TrainConfig, selects: bool, rate: float) -> tuple[str, float | None]:
    """The ModelConfig selection and selection_rate: top-k keeps the run's target rate ``rate``;
    a threshold selection (or none) has no rate."""
    if not selects or config.selection == "threshold":
        return "threshold", None
    return config.selection, rate


def limit_examples(dataset: Dataset, config: TrainConfig) -> Dataset:
    """The training split, subsampled (seeded) when ``max_train_examples`` asks for it."""
    cap = config.max_train_examples
    if cap is None or cap >= len(dataset):
        return dataset
    rng = np.random.default_rng(config.seed)
    keep = np.sort(rng.choice(len(dataset), size=cap, replace=False))
    return replace(dataset, examples=tuple(dataset.examples[i] for i in keep))


def _word_vectors_if_needed(config: TrainConfig) -> WordEmbeddings | None:
    """The run's word vectors where its augmentation looks up neighbours of words."""
    if config.augment in ("semantic", "mixed"):
        return load_embeddings(config.word_vectors)
    return None


def iter_model(
    model: RationalizerModel,
    encoded: Sequence[EncodedExample],
    batches: Iterable[Sequence[int]],
    extra: Callable[[RationalizerModel, dict, object], dict] | None = None,
    autocast_to: torch.dtype | None = None,
) -> Iterator[list[tuple[int, dict]]]:
    """Evaluation-mode outputs of each batch of ``batches`` (indices into ``encoded``), one
    ``(index, row)`` per example, as each batch is done: probabilities, position mask,
    selector scores (see :func:`run_model`)."""
    model.eval()
    device = next(model.parameters()).device
    for chunk in batches:
        with torch.no_grad():
            batch = to_device(collate_batch([encoded[i] for i in chunk]), device)
            with autocast(autocast_to, device):
                out = model(batch, sample=False)
                added = extra(model, batch, out) if extra else {}
            probs = torch.softmax(out.logits.float(), -1).cpu()
            select_prob = torch.softmax(out.selector_logits.float(), -1)[..., 1].cpu()
            mask = out.mask.float().cpu()
        added = {k: v.float() if isinstance(v, torch.Tensor) else v for k, v in added.items()}
        rows = []
        for j, i in enumerate(chunk):
            length = encoded[i].length
            row = {
                "probabilities": probs[j].numpy(),
                "mask": mask[j, :length].numpy(),
                "select_probability": select_prob[j, :length].numpy(),
                **{k: v[j] for k, v in added.items()},
            }
            rows.append((i, row))
        yield rows


def run_model(
    model: RationalizerModel,
    encoded: Sequence[EncodedExample],
    batch_size: int,
    extra: Callable[[RationalizerModel, dict, object], dict] | None = None,
    autocast_to: torch.dtype | None = None,
) -> list[dict]:
    """Evaluation-mode outputs per example: probabilities, position mask, selector scores.

    ``extra`` may add more per-batch outputs (e.g. faithfulness scores); it gets the model,
    the batch and the model's output and returns arrays with the batch as first dimension.
    ``autocast_to``: the run's mixed-precision dtype (see :mod:`~rationalizer.training.precision`).
    The batches are :func:`~rationalizer.training.batching.length_batches`.
    """
    rows: dict[int, dict] = {}
    batches = length_batches([e.length for e in encoded], batch_size)
    for done in iter_model(model, encoded, batches, extra, autocast_to):
        for i, row in done:
            rows[i] = row
    return [rows[i] for i in range(len(encoded))]


def evaluate_encoded(
    model: RationalizerModel,
    encoded: Sequence[EncodedExample],
    dataset: Dataset,
    labels: Sequence[str],
    batch_size: int,
    autocast_to: torch.dtype | None = None,
) -> dict[str, float]:
    """Validation metrics of the faithful path (predictor reads only the selected rationale)."""
    rows = run_model(model, encoded, batch_size, autocast_to=autocast_to)
    predicted = [labels[int(r["probabilities"].argmax())] for r in rows]
    scores = classification_metrics([ex.label for ex in dataset], predicted, labels)
    word_masks = [
        e.encoding.position_mask_to_words(r["mask"]) for e, r in zip(encoded, rows, strict=True)
    ]
    with_gold = [i for i, ex in enumerate(dataset) if ex.has_rationale]
    prf = token_prf(
        [dataset[i].rationale_mask() for i in with_gold], [word_masks[i] for i in with_gold]
    )
    chosen = sum(int(m.sum()) for m in word_masks)
    total = sum(len(m) for m in word_masks)
    losses = [
        -float(np.log(max(r["probabilities"][labels.index(ex.label)], 1e-12)))
        for r, ex in zip(rows, dataset, strict=True)
    ]
    return {
        "accuracy": float(scores["accuracy"]),
        "weighted_f1": float(scores["prf"]["weighted avg"]["f1-score"]),
        "macro_f1": float(scores["prf"]["macro avg"]["f1-score"]),
        "token_f1": float(prf["instance_micro"]["f1"]) if with_gold else float("nan"),
        "token_precision": float(prf["instance_micro"]["p"]) if with_gold else float("nan"),
        "token_recall": float(prf["instance_micro"]["r"]) if with_gold else float("nan"),
        "selection_rate": chosen / max(total, 1),
        "loss": float(np.mean(losses)),
    }
