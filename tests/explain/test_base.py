"""The shared explainer interface: rationale rules, the registry and the one `attribute` call."""

from __future__ import annotations

import numpy as np
import pytest

from rationalizer.data import Span
from rationalizer.errors import RationalizerError, UnknownNameError
from rationalizer.explain import base
from rationalizer.explain.adapters.base import ClassifierAdapter, Instance
from rationalizer.explain.base import (
    Explainer,
    ExplainerOptions,
    Explanation,
    RationaleRule,
    get_explainer,
)


class WordCounter(ClassifierAdapter):
    """A black box whose 'good' probability rises with each kept 'good' word."""

    labels = ("bad", "good")
    masking = "delete"

    def prepare(self, text, query=None) -> Instance:
        words = tuple(text.split()) if isinstance(text, str) else tuple(text)
        return Instance(words, query)

    def probabilities(self, instance: Instance, keep: np.ndarray) -> np.ndarray:
        good = np.array([w == "good" for w in instance.words], dtype=float)
        logit = np.asarray(keep, dtype=float) @ good - 0.5
        p = 1 / (1 + np.exp(-logit))
        return np.stack([1 - p, p], axis=1)


class KeptWordEffect(Explainer):
    """Test method: each word's score is the target probability with that word alone."""

    name = "test-kept-word-effect"
    description = "target probability with one word kept"

    class Options(ExplainerOptions):
        scale: float = 1.0

    def word_scores(self, model, instance, target):
        alone = model.probabilities(instance, np.eye(instance.num_words, dtype=np.int8))
        return self.options.scale * (alone[:, target] - 0.5)


# Test methods must not stay in the registry, where other tests (and `--list`) would see them:
# defining the class registered it, so take it out, and register it only while a test runs.
base._EXPLAINERS.pop(KeptWordEffect.name)


@pytest.fixture(autouse=True)
def test_methods_registered(monkeypatch):
    """The registry with :class:`KeptWordEffect` for one test; whatever the test registers
    is gone afterwards."""
    base.list_explainers()  # built-in methods first, as outside the tests
    registry = dict(base._EXPLAINERS) | {KeptWordEffect.name: KeptWordEffect}
    monkeypatch.setattr(base, "_EXPLAINERS", registry)


# ------------------------------------------------------------------ rules
@pytest.mark.parametrize(
    ("rule", "scores", "expected"),
    [
        (RationaleRule("top-k", 2), [0.1, 0.9, 0.5, 0.7], [0, 1, 0, 1]),
        (RationaleRule("fraction", 0.5), [0.1, 0.9, 0.5, 0.7], [0, 1, 0, 1]),
        (RationaleRule("fraction", 0.1), [0.1, 0.9, 0.5, 0.7], [0, 1, 0, 0]),  # at least one
        (RationaleRule("threshold", 0.5), [0.1, 0.9, 0.5, 0.7], [0, 1, 1, 1]),
        (RationaleRule("top-k", 3), [-1.0, 2.0, 0.0, 1.0], [0, 1, 0, 1]),  # only positive
        (RationaleRule("top-k", 1), [0.5, 0.5, 0.1], [1, 0, 0]),  # ties: earlier word
        (RationaleRule("top-k", 2), [np.nan, 0.2, 0.1], [0, 1, 1]),  # NaN never chosen
        (RationaleRule("top-k", 5), [0.3, 0.2], [1, 1]),
    ],
)
def test_rules_select_the_documented_words(rule, scores, expected):
    mask = rule.select(scores)
    assert mask.dtype == np.int8
    assert mask.tolist() == expected


def test_rules_parse_and_print_in_the_cli_syntax():
    assert RationaleRule.parse("top-k:5") == RationaleRule("top-k", 5)
    assert RationaleRule.parse("fraction:0.25") == RationaleRule("fraction", 0.25)
    assert str(RationaleRule.parse("top-k:5")) == "top-k:5"
    assert str(RationaleRule("threshold", 0.2)) == "threshold:0.2"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fraction", "KIND:VALUE"),
        ("fraction:x", "not a number"),
        ("fraction:1.5", r"\(0, 1\]"),
        ("fraction:0", r"\(0, 1\]"),
        ("top-k:2.5", "whole k"),
        ("top-k:0", "whole k"),
        ("threshold:nan", "finite"),
        ("best:3", "unknown rationale rule 'best'"),
    ],
)
def test_bad_rules_are_refused_clearly(text, message):
    with pytest.raises(RationalizerError, match=message):
        RationaleRule.parse(text)


# ------------------------------------------------------------------ registry
def test_explainers_register_by_name():
    assert get_explainer("test-kept-word-effect") is KeptWordEffect


def test_an_unknown_explainer_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match="test-kept-word-effect"):
        get_explainer("no-such-method")


def test_a_second_class_with_a_taken_name_is_refused():
    with pytest.raises(RationalizerError, match="two explainers"):

        class Again(KeptWordEffect):
            name = "test-kept-word-effect"


def test_unknown_or_invalid_options_name_the_method():
    with pytest.raises(RationalizerError, match="test-kept-word-effect: colour"):
        KeptWordEffect(colour="red")
    with pytest.raises(RationalizerError, match="scale"):
        KeptWordEffect(scale="big")


# ------------------------------------------------------------------ attribute
def test_attribute_explains_the_prediction_word_by_word():
    model = WordCounter()
    [explanation] = KeptWordEffect(rule="top-k:1").attribute(model, "a good film")
    assert explanation.words == ("a", "good", "film")
    assert explanation.target == "good" == explanation.predicted
    assert explanation.scores[1] > 0 > explanation.scores[0]
    assert explanation.rationale == (Span(1, 2),)
    assert explanation.rationale_words == ["good"]
    assert explanation.probabilities["good"] == pytest.approx(1 / (1 + np.exp(-0.5)))
    assert explanation.settings == {"batch_size": 64, "seed": 0, "scale": 1.0, "rule": "top-k:1"}
    assert explanation.method == "test-kept-word-effect"
    assert explanation.seconds >= 0


def test_attribute_takes_words_instances_targets_and_several_inputs():
    model = WordCounter()
    explainer = KeptWordEffect(scale=2.0)
    texts = [("good", "good"), Instance(("a", "film"), query="q"), "bad film"]
    explanations = explainer.attribute(model, texts, target=["bad", 0, None])
    assert [e.target for e in explanations] == ["bad", "bad", "bad"]
    assert explanations[1].query == "q"
    # scores are for the target: 'good' argues against 'bad'
    assert explanations[0].scores[0] == pytest.approx(2 * ((1 - 1 / (1 + np.exp(-0.5))) - 0.5))


@pytest.mark.parametrize(
    ("inputs", "target", "message"),
    [
        ([], None, "no inputs"),
        ("", None, "input 0 is empty"),
        ("good", "great", "unknown label 'great'"),
        ("good", 2, "out of range"),
        (["a good", "b"], ["good"], "1 targets for 2 inputs"),
    ],
)
def test_bad_calls_are_refused_clearly(inputs, target, message):
    with pytest.raises(RationalizerError, match=message):
        KeptWordEffect().attribute(WordCounter(), inputs, target)


def test_a_black_box_refuses_methods_that_need_gradients():
    class NeedsGradients(KeptWordEffect):
        name = "test-needs-gradients"
        requires = "gradients"

    with pytest.raises(RationalizerError, match=r"needs gradients .* only gives class prob"):
        NeedsGradients().attribute(WordCounter(), "good")


def test_explanations_check_their_lengths_and_serialise():
    with pytest.raises(ValueError, match="2 scores for 1 words"):
        Explanation(("a",), (0.1, 0.2), (), "good", {"good": 1.0}, "m")
    explanation = Explanation(("a", "b"), (0.1, 0.2), (Span(1, 2),), "good", {"good": 1.0}, "m")
    assert explanation.to_dict()["rationale"] == [[1, 2]]
    assert explanation.rationale_mask.tolist() == [0, 1]
