"""Shortcut discovery with a post-hoc explainer: aggregation of top words, and black boxes whose
shortcuts are known."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import pytest
from rich.console import Console
from tests.cli.cli_helpers import invoke
from tests.training.test_shortcuts import LABELS, make_example

from rationalizer.data import Span, load
from rationalizer.data.synthetic import NEGATIVE_WORDS, PLANTED_SHORTCUTS, POSITIVE_WORDS
from rationalizer.errors import RationalizerError
from rationalizer.explain import CallableAdapter, Explanation, RationaleRule, load_adapter
from rationalizer.explain.global_shortcuts import (
    DISCOVERY_RULE,
    annotated_examples,
    discover_with_explainer,
    discovery_explainer,
    top_word_masks,
)
from rationalizer.training.config import TrainConfig
from rationalizer.training.discovery import shortcuts_of_selections
from rationalizer.training.shortcuts import ShortcutReport
from rationalizer.training.trainer import Trainer

#: The classifier of ``benchmarks/posthoc_shortcuts.py``: a full-text BiGRU on synthetic's
#: training split, seconds on one thread.
SMALL_CLASSIFIER = {"dataset": "synthetic", "method": "full-text", "hidden_size": 32, "epochs": 3}


def explained(example, scores: Sequence[float], rule: RationaleRule) -> Explanation:
    """A hand-made explanation of ``example`` whose rationale is ``rule`` over ``scores``."""
    words = example.document.tokens
    mask = rule.select(scores)
    spans = tuple(Span(i, i + 1) for i in np.flatnonzero(mask))
    return Explanation(words, tuple(scores), spans, example.label, {}, "hand-made")


def test_top_words_outside_the_rationale_are_counted_per_phrase_and_word():
    top2 = RationaleRule("top-k", 2)
    examples = [
        # gold "great"; top words "great" (evidence) and "odeon" (a shortcut word)
        make_example("a", "great film at the odeon", "pos", gold=((0, 1),)),
        make_example("b", "fine film at the odeon", "pos", gold=((0, 1),)),
        # top words "the rialto": a two-word shortcut phrase
        make_example("c", "dull film at the rialto", "neg", gold=((0, 1),)),
    ]
    explanations = [
        explained(examples[0], [3, 0, 0, 0, 2], top2),
        explained(examples[1], [1, 0, -1, 0, 2], top2),
        explained(examples[2], [0, 0, 0, 1, 2], top2),
    ]
    selected = top_word_masks(examples, explanations)
    assert selected["a"].tolist() == [1, 0, 0, 0, 1]
    found = shortcuts_of_selections(examples, selected, LABELS, "mine", min_skew=0.0)
    assert found.scores is None  # no planted shortcuts in this dataset
    assert found.masks["a"].tolist() == [0, 0, 0, 0, 1]  # "great" is evidence, not a shortcut
    assert found.masks["c"].tolist() == [0, 0, 0, 1, 1]
    report = found.report
    assert (report.selected_words, report.shortcut_words) == (6, 4)
    assert [(s.phrase, s.count, s.skew_label) for s in report.phrases] == [("odeon", 2, "pos")]
    by_word = {s.phrase: s.count for s in report.unigrams}
    assert by_word == {"odeon": 2}  # "the" and "rialto" are in one example: under min_count 2


def test_explanations_of_other_words_are_refused():
    example = make_example("a", "a b c", "pos", gold=((0, 1),))
    other = explained(make_example("z", "a b", "pos"), [1, 0], DISCOVERY_RULE)
    with pytest.raises(RationalizerError, match=r"example 'a': its explanation is of other"):
        top_word_masks([example], [other])
    with pytest.raises(RationalizerError, match="1 explanations for 2 examples"):
        top_word_masks([example, example], [other])


def test_a_split_without_human_rationales_is_a_clear_error():
    dataset = load("synthetic", "validation")[:3]
    bare = dataset.__class__(
        name=dataset.name,
        split=dataset.split,
        examples=tuple(
            make_example(ex.id, " ".join(ex.document.tokens), ex.label, gold=None) for ex in dataset
        ),
        labels=dataset.labels,
    )
    with pytest.raises(RationalizerError, match="synthetic/validation has no example with a"):
        annotated_examples(bare)


def lexicon_classifier(positive: set[str], negative: set[str]) -> CallableAdapter:
    """A black box that reads only the words of two lexicons: each one it finds moves the
    log-odds of ``pos`` by 3 towards its side."""

    def classify(word_lists: Sequence[Sequence[str]]) -> np.ndarray:
        logits = np.array(
            [3.0 * sum((w in positive) - (w in negative) for w in words) for words in word_lists]
        )
        pos = 1 / (1 + np.exp(-logits))
        return np.stack([1 - pos, pos], axis=1)

    return CallableAdapter(classify, LABELS)


SHORTCUT_WORDS = {
    label: {phrase.split()[-1] for phrase, skew in PLANTED_SHORTCUTS.items() if skew == label}
    for label in LABELS
}


def test_a_shortcut_learner_shows_its_shortcuts_and_an_honest_model_none():
    """The same data, two models: discovery reports the planted phrases of the model that
    reads them, and none of the model that reads only sentiment words (without the label-skew
    filter, what is found comes from the model, not from the data)."""
    data = load("synthetic", "validation")[:80]
    occlusion = discovery_explainer("occlusion")
    cheat = lexicon_classifier(SHORTCUT_WORDS["pos"], SHORTCUT_WORDS["neg"])
    found = discover_with_explainer(occlusion, cheat, data)
    assert found.report.min_skew == 0 and found.report.rank_by == "count"
    top = [stats.phrase for stats in found.report.phrases[:4]]
    assert sorted(top) == ["cousin", "odeon", "rialto", "tuesday"]
    assert found.scores is not None and found.scores["phrase_recall"] == 1.0

    honest = lexicon_classifier(set(POSITIVE_WORDS), set(NEGATIVE_WORDS))
    fair = discover_with_explainer(occlusion, honest, data)
    assert fair.scores is not None and fair.scores["phrase_recall_at_depth"] == 0.0
    assert fair.report.shortcut_words < found.report.shortcut_words


@pytest.mark.slow
def test_a_classifier_trained_on_synthetic_gives_its_planted_shortcuts_away(tmp_path):
    """The default explainer and rule find at least 3 of the 4 planted phrases in the top 20
    of the report on the test split, from a small full-text classifier. Seed 2; the benchmark's
    seeds 0, 1, 2 find 3, 4 and 4 (``benchmarks/results/posthoc_shortcuts.md``)."""
    config = TrainConfig(**SMALL_CLASSIFIER, seed=2)
    Trainer(config, tmp_path / "run", console=Console(file=io.StringIO())).fit()
    adapter = load_adapter(tmp_path / "run")
    found = discover_with_explainer(discovery_explainer(), adapter, load("synthetic", "test"))
    assert found.scores is not None
    assert found.scores["depth"] == 20
    assert found.scores["phrase_recall_at_depth"] >= 3 / 4, found.scores["planted"]


def test_shortcuts_of_a_hugging_face_classifier(hatexplain_classifier_dir, tmp_path):
    out_dir = tmp_path / "found"
    invoke(
        "shortcuts", "--model", f"hf:{hatexplain_classifier_dir}", "--dataset", "hatexplain",
        "--split", "validation", "--limit", "12", "--out", str(out_dir),
    )  # fmt: skip
    posts = load("hatexplain", "validation")[:12]
    report = ShortcutReport.load(out_dir / "shortcuts.json")
    assert report.labels == posts.labels
    assert report.annotated_examples == sum(post.is_annotated for post in posts)
    # at most 3 top words each (top-k:3 takes only words scoring above 0)
    assert report.selected_words is not None
    assert 0 < report.selected_words <= 3 * report.annotated_examples
    # these posts are non-toxic, annotated with an empty rationale: every top word is a shortcut
    assert {post.label for post in posts} == {"non-toxic"}
    assert report.shortcut_words == report.selected_words
    assert not (out_dir / "shortcut-discovery-scores.json").exists()  # nothing planted
