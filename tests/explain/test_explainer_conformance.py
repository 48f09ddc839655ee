"""The contract every registered explainer keeps, checked for each one the registry lists.

A new explainer (one class, registered by its ``name``) is tested here without a line added:
the tests are parametrized from :func:`rationalizer.explain.list_explainers` at collection.
"""

from __future__ import annotations

import math

import pytest
from tests.explain.known_answer import LABELS, BagOfWords

from rationalizer.explain import (
    ClassifierAdapter,
    Explanation,
    RationalizerAdapter,
    explain,
    list_explainers,
)
from rationalizer.explain.base import CAPABILITIES

EXPLAINERS = sorted(list_explainers())
TEXTS = ["a truly wonderful and moving film", "dull , boring and far-too-long", "fine"]
SEED = 3


def bag_of_words() -> BagOfWords:
    """A tiny classifier with every capability (gradients included), trained by nobody."""
    weights = {"wonderful": 2.0, "moving": 1.0, "dull": -1.5, "boring": -1.0, "too": -0.5}
    return BagOfWords(weights, bias=0.2, default=0.1, relu=True)


def assert_contract(name: str, model: ClassifierAdapter, explanations: list[Explanation]) -> None:
    """One explanation per text: its words, a finite score per word, a rationale of sorted,
    disjoint spans inside the text, a distribution over the model's labels, and the method's
    name and every setting it ran with recorded."""
    assert len(explanations) == len(TEXTS)
    for text, explanation in zip(TEXTS, explanations, strict=True):
        words = tuple(text.split())
        assert explanation.words == words
        assert len(explanation.scores) == len(words)
        assert all(math.isfinite(score) for score in explanation.scores), explanation.scores
        ends = [0] + [end for span in explanation.rationale for end in (span.start, span.end)]
        assert ends == sorted(ends) and ends[-1] <= len(words)
        assert all(span.start < span.end for span in explanation.rationale)
        assert explanation.method == name
        assert explanation.settings == list_explainers()[name](seed=SEED).settings
        assert explanation.target in model.labels
        assert set(explanation.probabilities) == set(model.labels)
        assert sum(explanation.probabilities.values()) == pytest.approx(1.0)


def assert_seeded(first: list[Explanation], again: list[Explanation]) -> None:
    """Under one seed a method gives the same scores and rationale every time."""
    assert [e.scores for e in again] == [e.scores for e in first]
    assert [e.rationale for e in again] == [e.rationale for e in first]


@pytest.mark.parametrize("name", EXPLAINERS)
def test_the_explainer_describes_itself(name: str) -> None:
    explainer = list_explainers()[name]
    assert explainer.name == name
    assert explainer.description.strip()
    assert explainer.requires in CAPABILITIES
    # every option has a default, so the method runs with none given
    assert explainer().settings["seed"] == explainer.Options().seed


@pytest.mark.parametrize("name", EXPLAINERS)
def test_the_explainer_keeps_the_contract_on_a_tiny_model(name: str) -> None:
    model = bag_of_words()
    explanations = explain(model, TEXTS, method=name, seed=SEED)
    assert_contract(name, model, explanations)
    assert_seeded(explanations, explain(model, TEXTS, method=name, seed=SEED))
    # a target given by label is the class explained, whatever the model predicts
    explained = explain(model, TEXTS, method=name, target=LABELS[0], seed=SEED)
    assert {e.target for e in explained} == {LABELS[0]}


@pytest.mark.parametrize("name", EXPLAINERS)
def test_the_explainer_keeps_the_contract_on_a_trained_rationalizer(name: str, tiny_run) -> None:
    model = RationalizerAdapter.load(tiny_run())
    explanations = explain(model, TEXTS, method=name, seed=SEED)
    assert_contract(name, model, explanations)
    assert_seeded(explanations, explain(model, TEXTS, method=name, seed=SEED))
