"""Compare the nine post-hoc explainers of ``rationalizer.explain`` on three trained classifiers.

Models (built once and cached under ``benchmarks/.cache/explainers/``, which is not committed):

* ``movies-gru``: a semi-supervised BiGRU rationalizer trained on movies with
  ``rationalizer.train`` (or the run given with ``--movies-run``); its predictor is explained as
  a classifier of the whole review through ``RationalizerAdapter``;
* ``movies-gru-compatible``: the same model after word-dropout fine-tuning (Vafa et al.'s
  *compatibility*), so that inputs with most words removed are less foreign to it;
* ``hatexplain-minilm``: the bundled MiniLM fine-tuned on HateXplain with
  ``rationalizer.explain.finetune``, explained through ``HFClassifierAdapter`` ([MASK] masking).

Every method explains each model's own prediction on a fixed, seeded sample of test examples
(``explain_dataset``), and ``rationalizer.metrics.evaluate`` scores the records: plausibility
(token F1 of the hard rationale, AUPRC of the soft scores, both against the human rationales)
and faithfulness (comprehensiveness, sufficiency and their AOPC, on token ids);
``rationalizer.explain.agreement`` compares the methods' word scores pair by pair. Greedy
rationalization also gets its approximation ratio against exhaustive search on short HateXplain
posts, its rationale length, and its time on 700-word movie reviews.

Run from the repository root, with ``RATIONALIZER_DATA`` pointing at the datasets::

    python -m benchmarks.explainers                    # everything (about an hour on 2 cores)
    python -m benchmarks.explainers --movies-run runs/movies-semi
    python -m benchmarks.explainers --methods greedy occlusion --out-dir /tmp/explainers

It writes ``explainers.json`` and ``explainers.md`` to ``--out-dir`` (default
``benchmarks/results``). Each model, and each method's result on a model, is cached with the
settings and the code it was made with; a rerun with the same settings reuses them, so an
interrupted run loses at most the method it was in. A cached result made by other code (the
package or this script changed since) is computed again, and a model folder built by other code
is refused, unless ``--reuse-stale`` is given: then they are reused and marked.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from threadpoolctl import threadpool_limits

import rationalizer
from benchmarks.common import command_line, module_command, read_json, write_json
from rationalizer._environment import (
    STALE_MARK,
    benchmark_provenance,
    code_text,
    machine_info,
    same_code,
)
from rationalizer.data import Dataset, load, write_results
from rationalizer.data.pretrained import minilm_path
from rationalizer.data.stats import split_stats
from rationalizer.errors import RationalizerError
from rationalizer.explain import (
    Explainer,
    HFClassifierAdapter,
    RationaleRule,
    RationalizerAdapter,
    agreement,
    approximation_ratio,
    explain_dataset,
    finetune,
    get_explainer,
    list_explainers,
)
from rationalizer.explain.adapters import Instance
from rationalizer.explain.adapters.encoded import EncodedAdapter
from rationalizer.explain.methods.greedy import at_least, search_units
from rationalizer.explain.search import classifier_scorer, exhaustive_search
from rationalizer.metrics import evaluate, flatten
from rationalizer.provenance import describe
from rationalizer.training.inference import Rationalizer

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parent.parent
CACHE_DIR = Path("benchmarks/.cache/explainers")
RESULTS_DIR = Path("benchmarks/results")
#: in a folder this benchmark built: the settings it was built with, and how long it took
#: and by which code
SETTINGS_FILE = "benchmark-settings.json"
BUILD_FILE = "benchmark-build.json"

#: The movies rationalizer: semi-supervised RNP, whose predictor reads the full review on the
#: annotated quarter of the training set (FR's predictor only ever reads selected words and
#: misclassifies most full reviews). About 12 minutes on one thread of a busy 2-core machine.
MOVIES_TRAINING: dict[str, Any] = {
    "dataset": "movies",
    "method": "semi",
    "encoder": "gru",
    "max_length": 512,
    "hidden_size": 100,
    "epochs": 6,
    "batch_size": 32,
    "patience": 3,
    "select_by": "accuracy",
    "labeled_fraction": 0.25,
}
#: Compatibility fine-tuning of the movies predictor (learning rate: the GRU default).
#: Greedy and the perturbation methods show the model inputs with most words removed, so most
#: words are dropped: of 0.5, 0.8 and 0.9, only 0.9 raised the validation accuracy with 10% of
#: the words without lowering it on full inputs.
COMPATIBILITY: dict[str, Any] = {"word_dropout": 0.9, "epochs": 3, "batch_size": 32}
#: The HateXplain classifier: MiniLM, one epoch over the whole training split.
HATEXPLAIN_FINETUNING: dict[str, Any] = {"epochs": 1, "batch_size": 16, "lr": 1e-4}
HATEXPLAIN_MAX_LENGTH = 128

#: share of words kept (at random) for the partial-input accuracy of each model
PARTIAL_INPUT_FRACTION = 0.1
#: greedy's yardstick: exhaustive search over posts of at most this many words ...
SHORT_POST_WORDS = 12
#: ... for these minimum sizes: the paper's definition, and greedy's default
MIN_SIZES = (0, 1)
#: the issue's timing target: greedy on a review of this many words ...
LONG_REVIEW_WORDS = 700
#: ... in under this many seconds on 2 CPU cores
LONG_REVIEW_TARGET_SECONDS = 2.0
#: the greedy searches timed on them: the default, and the paper's search over every word
TIMED_SEARCHES: dict[str, dict[str, Any]] = {"sentences, then words": {}, "words": {"unit": "word"}}


# --------------------------------------------------------------------------------- helpers
def as_json(data: Any) -> Any:
    """``data`` as it reads back from a JSON file (tuples as lists, paths as text), so that
    settings compare equal to stored ones."""
    return json.loads(json.dumps(data, default=str))


def provenance() -> dict[str, Any]:
    """The code that makes this benchmark's models and results now: the package and this
    script."""
    return benchmark_provenance(SCRIPT)


def stale_note(stored: Mapping[str, Any]) -> dict[str, str]:
    """``{"made_by": …}`` for a cached item made by other code than now; empty otherwise."""
    made = stored.get("provenance")
    return {} if same_code(made, provenance()) else {"made_by": describe(made)}


def cached_folder(
    folder: Path,
    settings: Mapping[str, Any],
    build: Callable[[Path], None],
    reuse_stale: bool = False,
) -> Path:
    """``folder``, built by ``build`` unless an earlier run built it with the same settings
    and, unless ``reuse_stale``, the same code.

    A folder built with other settings or by other code is refused, never mixed in or silently
    deleted.
    """
    marker = folder / SETTINGS_FILE
    stored = read_json(marker)
    if stored is not None and stored != as_json(settings):
        raise RationalizerError(
            f"{folder} was built with other settings than this benchmark's; delete it to rebuild it"
        )
    if stored is None:
        build(folder)
        built = read_json(folder / BUILD_FILE) or {}
        write_json(folder / BUILD_FILE, built | {"provenance": provenance()})
        write_json(marker, settings)
    elif not reuse_stale and (note := stale_note(read_json(folder / BUILD_FILE) or {})):
        raise RationalizerError(
            f"{folder} was built by other code ({note['made_by']}); delete it to rebuild it, or "
            "pass --reuse-stale to reuse it (its results are then marked stale)"
        )
    return folder


def sample_examples(dataset: Dataset, count: int, seed: int) -> Dataset:
    """A seeded random sample of ``count`` examples, kept in dataset order."""
    if count >= len(dataset):
        return dataset
    chosen = np.sort(np.random.default_rng(seed).choice(len(dataset), count, replace=False))
    return replace(dataset, examples=tuple(dataset.examples[i] for i in chosen))


@contextmanager
def cpu_threads(count: int) -> Iterator[None]:
    """Torch and BLAS limited to ``count`` threads inside the block."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        with threadpool_limits(count):
            yield
    finally:
        torch.set_num_threads(before)


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (other work sharing the machine)."""
    return [round(value, 2) for value in os.getloadavg()]


class Stopwatch:
    """An explainer that records how long each explanation took (``Explanation.seconds``:
    the prediction and the method, not the faithfulness measurement around it).

    :func:`explain_dataset` asks an explainer only for its ``name``, ``options`` (the batch
    size) and ``attribute``.
    """

    def __init__(self, explainer: Explainer) -> None:
        self.explainer = explainer
        self.name = explainer.name
        self.options = explainer.options
        self.seconds: list[float] = []

    def attribute(self, *args: Any, **kwargs: Any) -> list:
        explanations = self.explainer.attribute(*args, **kwargs)
        self.seconds += [explanation.seconds for explanation in explanations]
        return explanations


# ---------------------------------------------------------------------------------- models
@dataclass
class Model:
    """A classifier under test: its adapter, the split it is explained on, and how it was made."""

    name: str
    dataset: str
    adapter: EncodedAdapter
    description: str
    #: everything that determines the model (a cached result of another model is not reused)
    settings: dict[str, Any]
    #: validation accuracy (full and partial inputs) and build time
    info: dict[str, Any] = field(default_factory=dict)


def accuracy(adapter: EncodedAdapter, dataset: Dataset, keep_fraction: float = 1.0) -> float:
    """Accuracy on ``dataset`` with each word kept with probability ``keep_fraction`` (the
    same random words for every model)."""
    rng = np.random.default_rng(0)
    correct = 0
    for start in range(0, len(dataset), adapter.batch_size):
        examples = dataset.examples[start : start + adapter.batch_size]
        instances = [adapter.prepare(ex.document.tokens, ex.query) for ex in examples]
        keep = [rng.random(instance.num_words) < keep_fraction for instance in instances]
        with torch.no_grad():
            predicted = adapter.logits(instances, keep).argmax(-1).tolist()
        correct += sum(
            adapter.labels[p] == ex.label for p, ex in zip(predicted, examples, strict=True)
        )
    return correct / len(dataset)


def model_info(
    name: str,
    folder: Path,
    adapter: EncodedAdapter,
    dataset: str,
    settings: Mapping,
    cache: Path,
    reuse_stale: bool = False,
) -> dict[str, Any]:
    """Validation accuracy on full and on partial inputs (computed once per model and code,
    and cached under ``cache``), the seconds it took to build the model if this benchmark
    built it, and ``made_by`` where the model or its accuracy came from other code."""
    path = cache / "results" / name / "model.json"
    stored = read_json(path)
    if (
        stored is None
        or stored["settings"] != as_json(settings)
        or (stale_note(stored) and not reuse_stale)
    ):
        validation = load(dataset, "validation")
        stored = {
            "settings": settings,
            "validation_accuracy": accuracy(adapter, validation),
            f"validation_accuracy_{PARTIAL_INPUT_FRACTION:g}_words": accuracy(
                adapter, validation, PARTIAL_INPUT_FRACTION
            ),
            "provenance": provenance(),
        }
        write_json(path, stored)
    built = read_json(folder / BUILD_FILE)
    notes = [f"built by {n}" for n in stale_note(built).values()] if built is not None else []
    notes += [f"accuracy measured by {n}" for n in stale_note(stored).values()]
    info = {key: value for key, value in stored.items() if key not in ("settings", "provenance")}
    info["build_seconds"] = (built or {}).get("seconds")
    if notes:
        info["made_by"] = "; ".join(notes)
    return info


def timed_build(folder: Path, build: Callable[[], Any]) -> None:
    started = time.perf_counter()
    build()
    write_json(folder / BUILD_FILE, {"seconds": time.perf_counter() - started})


def movies_models(
    run: Path | None, cache: Path, seed: int, console: Console, reuse_stale: bool = False
) -> list[Model]:
    """The movies rationalizer (trained here unless ``run`` is given) and its compatible copy."""
    if run is None:
        settings = MOVIES_TRAINING | {"seed": seed}
        run = cache / "models" / "movies-gru"

        def train(folder: Path) -> None:
            timed_build(folder, lambda: rationalizer.train(folder, console, **settings))

        cached_folder(run, settings, train, reuse_stale)
    config = Rationalizer.load(run).config
    source = {"run": str(run), "config": json.loads(config.to_json())}
    compatible_settings = {"source": source, "finetune": COMPATIBILITY | {"seed": seed}}

    def make_compatible(folder: Path) -> None:
        adapter = RationalizerAdapter.load(run)
        train = load("movies", "train")
        timed_build(
            folder,
            lambda: finetune(adapter, train, seed=seed, out_dir=folder, **COMPATIBILITY),
        )

    compatible = cached_folder(
        cache / "models" / "movies-gru-compatible",
        compatible_settings,
        make_compatible,
        reuse_stale,
    )
    models = []
    for name, folder, settings, description in (
        (
            "movies-gru",
            run,
            source,
            f"{config.method} {config.encoder} rationalizer, its predictor on the full input",
        ),
        (
            "movies-gru-compatible",
            compatible,
            compatible_settings,
            f"movies-gru after {COMPATIBILITY['epochs']} epochs of word-dropout "
            f"({COMPATIBILITY['word_dropout']:g}) fine-tuning",
        ),
    ):
        adapter = RationalizerAdapter.load(folder)
        info = model_info(name, folder, adapter, "movies", settings, cache, reuse_stale)
        models.append(Model(name, "movies", adapter, description, settings, info))
    return models


def hatexplain_model(cache: Path, seed: int, reuse_stale: bool = False) -> Model:
    """MiniLM fine-tuned on the HateXplain training split."""
    settings = {
        "base": "minilm",
        "max_length": HATEXPLAIN_MAX_LENGTH,
        "finetune": HATEXPLAIN_FINETUNING | {"seed": seed},
    }

    def build(folder: Path) -> None:
        train = load("hatexplain", "train")
        torch.manual_seed(seed)
        adapter = HFClassifierAdapter.from_pretrained(
            minilm_path(), labels=train.labels, max_length=HATEXPLAIN_MAX_LENGTH
        )
        timed_build(
            folder,
            lambda: finetune(adapter, train, seed=seed, out_dir=folder, **HATEXPLAIN_FINETUNING),
        )

    name = "hatexplain-minilm"
    folder = cached_folder(cache / "models" / name, settings, build, reuse_stale)
    adapter = HFClassifierAdapter.from_pretrained(folder, max_length=HATEXPLAIN_MAX_LENGTH)
    return Model(
        name,
        "hatexplain",
        adapter,
        "MiniLM (6-layer BERT) fine-tuned on HateXplain, [MASK] masking",
        settings,
        model_info(name, folder, adapter, "hatexplain", settings, cache, reuse_stale),
    )


# ---------------------------------------------------------------------------------- methods
def method_scores(report: Mapping[str, Any], seconds: Sequence[float]) -> dict[str, float]:
    """The benchmark's numbers from an :func:`evaluate` report.

    Rationale metrics come from the ``annotated_only`` section when the sample mixes examples
    with and without a human rationale (HateXplain's non-toxic posts have none); faithfulness
    is over every example.
    """
    flat = flatten(report)
    prefix = "annotated_only." if any(k.startswith("annotated_only.") for k in flat) else ""
    return {
        "token_f1": flat[f"{prefix}token_prf.instance_micro.f1"],
        "token_precision": flat[f"{prefix}token_prf.instance_micro.p"],
        "token_recall": flat[f"{prefix}token_prf.instance_micro.r"],
        "auprc": flat[f"{prefix}token_soft_metrics.auprc"],
        "selection_rate": flat[f"{prefix}selection_rate.micro"],
        "comprehensiveness": flat["classification_scores.comprehensiveness"],
        "sufficiency": flat["classification_scores.sufficiency"],
        "aopc_comprehensiveness": flat["classification_scores.comprehensiveness_aopc"],
        "aopc_sufficiency": flat["classification_scores.sufficiency_aopc"],
        "seconds_per_example": statistics.fmean(seconds),
    }


def run_method(
    model: Model,
    explainer: Explainer,
    sample: Dataset,
    cache: Path,
    console: Console,
    reuse_stale: bool = False,
) -> tuple[dict[str, float], list]:
    """The method's scores on ``model`` over ``sample`` (cached with the code that made them)
    and its results records; ``wall_seconds`` is the time of the whole :func:`explain_dataset`
    call when it ran, ``load_average_after`` the machine's load when it ended, and
    ``made_by`` names the other code that made a stale result reused with ``reuse_stale``."""
    folder = cache / "results" / model.name
    settings = {
        "model": model.settings,
        "method": explainer.name,
        "options": explainer.settings,
        "examples": [example.id for example in sample],
    }
    stored = read_json(folder / f"{explainer.name}.json")
    records_path = folder / f"{explainer.name}.jsonl"
    if (
        stored is not None
        and stored["settings"] == as_json(settings)
        and (reuse_stale or not stale_note(stored))
    ):
        console.print(f"{model.name} / {explainer.name}: cached")
        records = rationalizer.read_results(records_path, sample)
        return stored["scores"] | stored["run"] | stale_note(stored), records
    stopwatch = Stopwatch(explainer)
    started = time.perf_counter()
    records = explain_dataset(
        stopwatch,  # type: ignore[arg-type]
        model.adapter,
        sample,
        progress=True,
        console=console,
    )
    run = {"wall_seconds": time.perf_counter() - started, "load_average_after": load_average()}
    scores = method_scores(evaluate(sample, records), stopwatch.seconds)
    folder.mkdir(parents=True, exist_ok=True)
    write_results(records_path, records)
    write_json(
        folder / f"{explainer.name}.json",
        {"settings": settings, "scores": scores, "run": run, "provenance": provenance()},
    )
    console.print(
        f"{model.name} / {explainer.name}: token F1 {scores['token_f1']:.3f}, comprehensiveness "
        f"{scores['comprehensiveness']:.3f}, {scores['seconds_per_example']:.2f} s/example"
    )
    return scores | run, records


def method_agreement(records: Mapping[str, Sequence], rule: RationaleRule) -> dict[str, Any]:
    """Kendall tau-b and top-k overlap of every pair of methods' word scores on the sample, k
    the hard rule's share of words (the length of the score methods' hard rationales)."""
    return agreement(records, k=rule.value).to_dict()


def hard_rule(dataset: str) -> RationaleRule:
    """Score methods keep the top share of words equal to the human rationales' density on
    the training split, so their hard rationales are as long as a human's on average."""
    density = split_stats(load(dataset, "train")).density_micro
    return RationaleRule("fraction", round(density, 4))


# ----------------------------------------------------------------------------------- greedy
def ratio_summary(sizes: Sequence[tuple[int, int]]) -> dict[str, Any]:
    """Approximation ratios of (greedy size, optimal size) pairs.

    The mean and maximum are over the inputs whose smallest sufficient subset is not empty;
    with an empty optimum greedy (without a minimum size) is empty too, and ratio 1 says
    nothing.
    """
    ratios = [approximation_ratio(g, o) for g, o in sizes if o > 0]
    return {
        "inputs": len(sizes),
        "inputs_with_empty_optimum": sum(o == 0 for _, o in sizes),
        "mean_ratio": statistics.fmean(ratios) if ratios else None,
        "max_ratio": max(ratios) if ratios else None,
        "share_optimal": sum(r == 1 for r in ratios) / len(ratios) if ratios else None,
        "mean_greedy_words": statistics.fmean(g for g, o in sizes if o > 0) if ratios else None,
        "mean_optimal_words": statistics.fmean(o for _, o in sizes if o > 0) if ratios else None,
    }


def smallest_subset_size(
    adapter: EncodedAdapter, instance: Instance, target: int, min_size: int
) -> int:
    """How many words the smallest subset of at least ``min_size`` words has on which the
    model predicts ``target`` (exhaustive search; the whole input always qualifies)."""
    words = search_units(instance, "word", span_width=1)
    scorer = classifier_scorer(adapter, instance, target, words, adapter.batch_size)
    count = instance.seen_words
    return exhaustive_search(at_least(scorer, min(min_size, count)), count).size


def approximation(model: Model, count: int, seed: int) -> dict[str, Any]:
    """Word-level greedy against exhaustive search on a seeded sample of test posts of at most
    :data:`SHORT_POST_WORDS` words, for each of :data:`MIN_SIZES`."""
    test = load(model.dataset, "test")
    short = replace(test, examples=tuple(ex for ex in test if len(ex.document) <= SHORT_POST_WORDS))
    sample = sample_examples(short, count, seed)
    result: dict[str, Any] = {
        "model": model.name,
        "split": f"{model.dataset}/test, posts of at most {SHORT_POST_WORDS} words",
    }
    for min_size in MIN_SIZES:
        greedy = get_explainer("greedy")(unit="word", min_size=min_size)
        sizes = []
        for example in sample:
            instance = model.adapter.prepare(example.document.tokens, example.query)
            [explanation] = greedy.attribute(model.adapter, instance)
            target = model.adapter.label_index(explanation.target)
            optimum = smallest_subset_size(model.adapter, instance, target, min_size)
            sizes.append((int(explanation.rationale_mask.sum()), optimum))
        result[f"min_size_{min_size}"] = {"greedy_settings": greedy.settings} | ratio_summary(sizes)
    return result


def rationale_length(model: Model, sample: Dataset, records: Sequence) -> dict[str, Any]:
    """Greedy's rationale length on the sample, and how often the model already predicts the
    explained class with every word removed (where ``min_size=0`` would give nothing)."""
    words, shares, empty_suffices = [], [], 0
    for example, record in zip(sample, records, strict=True):
        chosen = sum(
            s.end_token - s.start_token for s in record.rationales[0].hard_rationale_predictions
        )
        instance = model.adapter.prepare(example.document.tokens, example.query)
        words.append(chosen)
        shares.append(chosen / instance.seen_words)
        empty = model.adapter.probabilities(instance, np.zeros((1, instance.num_words), np.int8))
        empty_suffices += model.adapter.labels[int(empty[0].argmax())] == record.classification
    return {
        "mean_words": statistics.fmean(words),
        "median_words": statistics.median(words),
        "mean_share_of_words": statistics.fmean(shares),
        "share_predicted_with_no_word": empty_suffices / len(words),
    }


def timing_summary(seconds: Sequence[float]) -> dict[str, float]:
    return {
        "mean_seconds": statistics.fmean(seconds),
        "median_seconds": statistics.median(seconds),
        "max_seconds": max(seconds),
    }


def long_review_timing(
    model: Model, count: int, seed: int, thread_counts: Sequence[int]
) -> dict[str, Any]:
    """Each of :data:`TIMED_SEARCHES` on the first :data:`LONG_REVIEW_WORDS` words of a seeded
    sample of test reviews, with each number of threads. The reviews are read whole: the BiGRU
    has no position limit, so the adapter's length limit is raised for this measurement."""
    assert isinstance(model.adapter, RationalizerAdapter)
    source = model.adapter.rationalizer
    reader = Rationalizer(
        source.model,
        source.encoder,
        source.labels,
        source.config.with_overrides(max_length=LONG_REVIEW_WORDS),
    )
    adapter = RationalizerAdapter(reader, batch_size=model.adapter.batch_size)
    test = load(model.dataset, "test")
    reviews = [ex.document.tokens[:LONG_REVIEW_WORDS] for ex in test]
    reviews = [words for words in reviews if len(words) == LONG_REVIEW_WORDS]
    chosen = np.sort(np.random.default_rng(seed).choice(len(reviews), count, replace=False))
    searches: dict[str, Any] = {}
    for search, options in TIMED_SEARCHES.items():
        greedy = get_explainer("greedy")(**options)
        entry: dict[str, Any] = {"greedy_settings": greedy.settings}
        for threads in thread_counts:
            with cpu_threads(threads):
                before = load_average()
                explanations = [greedy.attribute(adapter, [reviews[i]])[0] for i in chosen]
                entry[f"{threads}_threads"] = timing_summary([e.seconds for e in explanations]) | {
                    "load_average_before": before,
                    "load_average_after": load_average(),
                }
        words = [int(e.rationale_mask.sum()) for e in explanations]
        searches[search] = entry | {"mean_rationale_words": statistics.fmean(words)}
    return {
        "reviews": count,
        "words": LONG_REVIEW_WORDS,
        "target_seconds": LONG_REVIEW_TARGET_SECONDS,
        "searches": searches,
    }


# ----------------------------------------------------------------------------------- report
METHOD_COLUMNS: dict[str, str] = {
    "token_f1": "token F1",
    "auprc": "AUPRC",
    "comprehensiveness": "comp ↑",
    "sufficiency": "suff ↓",
    "aopc_comprehensiveness": "AOPC comp ↑",
    "aopc_sufficiency": "AOPC suff ↓",
    "selection_rate": "sel",
    "seconds_per_example": "s/example",
}


def number(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def minutes(seconds: float | None) -> str:
    """Seconds as minutes; a model this benchmark did not build has no build time."""
    return "given" if seconds is None else f"{seconds / 60:.1f}"


def render_markdown(result: Mapping[str, Any]) -> str:
    """The results as Markdown: models, one table per model, greedy's extra measurements."""
    m = result["machine"]
    lines = [
        "# Post-hoc explainers compared",
        "",
        f"Command: `{result['command']}` (seeds {', '.join(map(str, result['seeds']))}); "
        f"wall time {result['wall_seconds'] / 60:.1f} min. Models and method results are "
        "cached, so this can be a rerun: the time to build each model is in the models table "
        "and the time of each model's methods under its table.",
        "",
        f"Machine: {m['platform']}, {m['cpu_count']} CPUs ({m['usable_cpus']} usable), Python "
        f"{m['python']}, torch {m['torch']} with {m['torch_threads']} thread(s); load average "
        f"(1/5/15 min) at the start: {', '.join(map(str, result['load_average_start']))}.",
        "",
        f"Code: {code_text(result.get('provenance'))}.",
        "",
        "## Models",
        "",
        "| model | what it is | validation accuracy | with "
        f"{PARTIAL_INPUT_FRACTION:.0%} of the words | explained examples | hard rule | "
        "built in (min) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, model in result["models"].items():
        partial = model[f"validation_accuracy_{PARTIAL_INPUT_FRACTION:g}_words"]
        lines.append(
            f"| {name}{_mark(model)} | {model['description']} | "
            f"{number(model['validation_accuracy'])} | "
            f"{number(partial)} | {model['examples']} of {model['dataset']}/{model['split']} | "
            f"`{model['rule']}` | {minutes(model['build_seconds'])} |"
        )
    lines += [
        "",
        f"Accuracy with {PARTIAL_INPUT_FRACTION:.0%} of the words: each word kept at random "
        "(seeded) and the rest removed the way the explainers remove them; it shows how much "
        "the model makes of the partial inputs that perturbation methods and greedy show it.",
        "",
        "Each method explains the model's prediction. Token F1 (ERASER instance micro) and "
        "AUPRC compare the hard rationale and the soft scores with the human rationales (on "
        "HateXplain over the toxic posts of the sample, the ones that have one); "
        "comprehensiveness (higher is better), sufficiency (lower is better) and their AOPC "
        "over the top 1/5/10/20/50% of words are measured on token ids with the model's own "
        "masking; `sel` is the share of words in the hard rationale. Score methods' hard "
        "rationales are the top share of words given by the hard rule (the human rationale "
        "density of the training split); greedy chooses its own. s/example: the prediction "
        "and the explanation, not the faithfulness measurement.",
    ]
    for name, model in result["models"].items():
        lines += [
            "",
            f"## {name} ({model['dataset']}/{model['split']}, {model['examples']} examples"
            + (
                f", {model['annotated_examples']} with a human rationale)"
                if model["annotated_examples"] != model["examples"]
                else ")"
            ),
            "",
            "| method | " + " | ".join(METHOD_COLUMNS.values()) + " |",
            "|---|" + "---|" * len(METHOD_COLUMNS),
        ]
        wall = sum(scores.get("wall_seconds", 0.0) for scores in model["methods"].values())
        for method, scores in model["methods"].items():
            cells = [
                number(scores.get(key), 2 if key == "seconds_per_example" else 3)
                for key in METHOD_COLUMNS
            ]
            lines.append(f"| {method}{_mark(scores)} | " + " | ".join(cells) + " |")
        loads = [
            scores["load_average_after"][1]
            for scores in model["methods"].values()
            if "load_average_after" in scores
        ]
        load_text = (
            f"; the 5-minute load average when each method ended was {min(loads):g}–{max(loads):g}"
            if loads
            else " (load not recorded for these cached results)"
        )
        lines += [
            "",
            f"Explaining and measuring the sample took {wall / 60:.1f} min for all methods "
            f"together, on {m['torch_threads']} thread(s){load_text}.",
        ]
        if "agreement" in model:
            lines += _agreement_markdown(model["agreement"])
    lines += _greedy_markdown(result["greedy"])
    lines += _stale_markdown(result["models"])
    return "\n".join(lines) + "\n"


def _agreement_markdown(agreement: Mapping[str, Any]) -> list[str]:
    """One methods × methods table per agreement metric (means over the examples)."""
    methods = agreement["methods"]
    lines = [
        "",
        f"**Agreement** of the methods' word scores, pair by pair, mean over the "
        f"{agreement['examples']} examples: Kendall tau-b (1: the same order, 0: unrelated, −1: "
        f"reversed) and the overlap of the top {agreement['k']:.1%} of the words (the hard "
        "rule's share; words tied at the k-th score share the places left, so a method whose "
        "ties decide its top words, such as greedy, overlaps less than 1 with itself); – where "
        "a method's scores are all equal on every example (no ranking).",
    ]
    for matrix in agreement["metrics"].values():
        lines += [
            "",
            f"| {matrix['name']} | " + " | ".join(methods) + " |",
            "|---|" + "---|" * len(methods),
        ]
        lines += [
            f"| {method} | " + " | ".join(number(value, 2) for value in row) + " |"
            for method, row in zip(methods, matrix["mean"], strict=True)
        ]
    return lines


def _mark(entry: Mapping[str, Any]) -> str:
    return f" {STALE_MARK}" if "made_by" in entry else ""


def _stale_markdown(models: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The models and results made by other code (reused with ``--reuse-stale``)."""
    stale = [
        f"- {name}: {model['made_by']}" for name, model in models.items() if "made_by" in model
    ]
    stale += [
        f"- {name} / {method}: {scores['made_by']}"
        for name, model in models.items()
        for method, scores in model["methods"].items()
        if "made_by" in scores
    ]
    if not stale:
        return []
    return [
        "",
        f"{STALE_MARK} Made by other code than this result's, reused with `--reuse-stale`:",
        "",
        *stale,
    ]


def _greedy_markdown(greedy: Mapping[str, Any]) -> list[str]:
    lines = ["", "## Greedy rationalization", ""]
    ratio = greedy.get("approximation")
    if ratio is not None:
        definitions = {key: ratio[key] for key in ratio if key.startswith("min_size_")}
        inputs = next(iter(definitions.values()))["inputs"]
        lines += [
            "**Approximation ratio**: greedy's size over the smallest sufficient subset's "
            f"(exhaustive search), on {inputs} {ratio['split']}, model {ratio['model']}; "
            "word-level greedy. With `min_size` 0 (the paper's definition) both may be empty: "
            "the mean and maximum are over the inputs whose optimum is not. With `min_size` 1 "
            "(greedy's default) the optimum is the smallest sufficient subset of at least one "
            "word. The issue's target is at most 1.2 (Vafa et al. report 1.1).",
            "",
            "| min_size | inputs | empty optimum | mean ratio | max ratio | greedy optimal | "
            "mean greedy words | mean optimal words |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for key, entry in definitions.items():
            lines.append(
                f"| {key.removeprefix('min_size_')} | {entry['inputs']} | "
                f"{entry['inputs_with_empty_optimum']} | {number(entry['mean_ratio'])} | "
                f"{number(entry['max_ratio'])} | {number(entry['share_optimal'])} | "
                f"{number(entry['mean_greedy_words'], 2)} | "
                f"{number(entry['mean_optimal_words'], 2)} |"
            )
        lines.append("")
    lines += [
        "**Rationale length** of greedy with its defaults (sentences, then words, at least "
        "one word) on each model's sample; *no word needed*: the share of examples whose "
        "explained class the model already predicts with every word removed, where the "
        "paper's definition (`min_size=0`) gives an empty rationale.",
        "",
        "| model | mean words | median words | mean share of words | no word needed |",
        "|---|---|---|---|---|",
    ]
    for name, length in greedy["rationale_length"].items():
        lines.append(
            f"| {name} | {number(length['mean_words'], 1)} | {number(length['median_words'], 1)} "
            f"| {number(length['mean_share_of_words'])} | "
            f"{number(length['share_predicted_with_no_word'])} |"
        )
    timing = greedy.get("long_reviews", {})
    if timing:
        first = next(iter(timing.values()))
        lines += [
            "",
            f"**Time on {first['words']}-word movie reviews** ({first['reviews']} test reviews "
            f"cut to their first {first['words']} words, every word read by the model); the "
            f"issue's target is under {first['target_seconds']:g} s on 2 CPU cores. Seconds "
            "per review, for greedy's default search and for the search over every word. The "
            "load average (1/5/15 min) shows the other work on the machine: torch gets slower, "
            "not faster, with more threads than free cores.",
            "",
            "| model | search | threads | mean s | median s | max s | load before | load after "
            "| rationale words |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for name, entry in timing.items():
            for search, measured in entry["searches"].items():
                for key in (key for key in measured if key.endswith("_threads")):
                    t = measured[key]
                    lines.append(
                        f"| {name} | {search} | {key.removesuffix('_threads')} | "
                        f"{number(t['mean_seconds'], 2)} | {number(t['median_seconds'], 2)} | "
                        f"{number(t['max_seconds'], 2)} | "
                        f"{', '.join(map(str, t['load_average_before']))} | "
                        f"{', '.join(map(str, t['load_average_after']))} | "
                        f"{number(measured['mean_rationale_words'], 1)} |"
                    )
    return lines


# ------------------------------------------------------------------------------------- main
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    methods = list(list_explainers())
    parser = argparse.ArgumentParser(
        prog=module_command(__file__), description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--movies-run",
        type=Path,
        default=None,
        help="explain this rationalizer run directory as the movies model instead of training one",
    )
    parser.add_argument(
        "--methods", nargs="+", choices=methods, default=methods, help="default: all nine"
    )
    parser.add_argument("--movies-examples", type=int, default=50)
    parser.add_argument("--hatexplain-examples", type=int, default=100)
    parser.add_argument(
        "--short-posts",
        type=int,
        default=100,
        help=f"posts of at most {SHORT_POST_WORDS} words for greedy's approximation ratio",
    )
    parser.add_argument(
        "--long-reviews",
        type=int,
        default=10,
        help=f"{LONG_REVIEW_WORDS}-word reviews greedy is timed on",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch and BLAS threads (default 1: the machine is shared with other benchmarks)",
    )
    parser.add_argument(
        "--timing-threads",
        nargs="+",
        type=int,
        default=[1, 2],
        help="thread counts greedy is timed with on long reviews (default: 1 2)",
    )
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR)
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--reuse-stale",
        action="store_true",
        help="reuse cached models and results made by other code instead of making them again "
        "(a model folder made by other code is refused otherwise); the results mark them",
    )
    args = parser.parse_args(argv)
    if min(args.threads, *args.timing_threads) < 1:
        parser.error("thread counts must be at least 1")
    return args


def run_benchmark(args: argparse.Namespace, console: Console, command: str) -> dict[str, Any]:
    started = time.perf_counter()
    result: dict[str, Any] = {
        "command": command,
        "seeds": [args.seed],
        "provenance": provenance(),
        "machine": machine_info() | {"torch_threads": torch.get_num_threads()},
        "load_average_start": load_average(),
        "models": {},
        "greedy": {"rationale_length": {}},
    }
    models = [
        *movies_models(args.movies_run, args.cache_dir, args.seed, console, args.reuse_stale),
        hatexplain_model(args.cache_dir, args.seed, args.reuse_stale),
    ]
    sizes = {"movies": args.movies_examples, "hatexplain": args.hatexplain_examples}
    for model in models:
        sample = sample_examples(load(model.dataset, "test"), sizes[model.dataset], args.seed)
        rule = hard_rule(model.dataset)
        methods: dict[str, dict[str, float]] = {}
        records: dict[str, list] = {}
        for method in args.methods:
            explainer = get_explainer(method)(rule=rule, seed=args.seed)
            methods[method], records[method] = run_method(
                model, explainer, sample, args.cache_dir, console, args.reuse_stale
            )
            if method == "greedy":
                result["greedy"]["rationale_length"][model.name] = rationale_length(
                    model, sample, records[method]
                )
        result["models"][model.name] = {
            "dataset": model.dataset,
            "split": "test",
            "examples": len(sample),
            "annotated_examples": len(sample.annotated()),
            "description": model.description,
            "rule": str(rule),
            **model.info,
            "methods": methods,
        }
        if len(records) > 1:
            result["models"][model.name]["agreement"] = method_agreement(records, rule)
    if "greedy" in args.methods:
        console.print("greedy: approximation ratio against exhaustive search")
        hatexplain = next(m for m in models if m.dataset == "hatexplain")
        result["greedy"]["approximation"] = approximation(hatexplain, args.short_posts, args.seed)
        console.print(f"greedy: timing on {LONG_REVIEW_WORDS}-word reviews")
        result["greedy"]["long_reviews"] = {
            model.name: long_review_timing(model, args.long_reviews, args.seed, args.timing_threads)
            for model in models
            if model.dataset == "movies"
        }
    result["wall_seconds"] = time.perf_counter() - started
    return result


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    os.chdir(ROOT)
    command = command_line(SCRIPT, argv)
    console = Console(stderr=True)
    with cpu_threads(args.threads):
        result = run_benchmark(args, console, command)
    write_json(args.out_dir / "explainers.json", result)
    (args.out_dir / "explainers.md").write_text(render_markdown(result), encoding="utf-8")
    console.print(f"wrote {args.out_dir / 'explainers.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
