"""Greedy rationalization: known answers, the stopping rule, units, and every adapter kind."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from tests.explain.known_answer import BagOfWords

from rationalizer.data import load
from rationalizer.errors import RationalizerError
from rationalizer.explain.adapters.base import ClassifierAdapter, Instance
from rationalizer.explain.base import get_explainer
from rationalizer.explain.methods.greedy import Greedy, search_units
from rationalizer.explain.search import approximation_ratio, smallest_sufficient_subset


class LinearBagOfWords(ClassifierAdapter):
    """A black box: softmax of the kept words' weight rows plus a bias (unknown words: 0)."""

    masking = "delete"

    def __init__(self, weights: dict[str, list[float]], bias: list[float], labels=("a", "b")):
        self.weights = {word: np.asarray(row, dtype=float) for word, row in weights.items()}
        self.bias = np.asarray(bias, dtype=float)
        self.labels = tuple(labels)

    def prepare(self, text, query=None) -> Instance:
        return Instance(tuple(text.split()) if isinstance(text, str) else tuple(text), query)

    def probabilities(self, instance: Instance, keep: np.ndarray) -> np.ndarray:
        zero = np.zeros(len(self.labels))
        rows = np.array([self.weights.get(word, zero) for word in instance.words])
        logits = np.asarray(keep, dtype=float) @ rows + self.bias
        probabilities = np.exp(logits - logits.max(1, keepdims=True))
        return probabilities / probabilities.sum(1, keepdims=True)


def random_linear_model(rng: np.random.Generator, vocabulary: list[str], classes: int):
    weights = {word: rng.normal(size=classes).tolist() for word in vocabulary}
    labels = tuple("abcdefg"[:classes])
    return LinearBagOfWords(weights, rng.normal(size=classes).tolist(), labels)


def chosen_in_order(scores) -> list[int]:
    """Word indices in selection order (highest score first), from greedy's scores."""
    scores = np.asarray(scores)
    return [int(i) for i in np.argsort(-scores, kind="stable") if scores[i] > 0]


def is_top(model: ClassifierAdapter, words, kept: list[int], target: str) -> bool:
    instance = model.prepare(words)
    keep = np.zeros((1, instance.num_words), dtype=np.int8)
    keep[0, kept] = 1
    return model.labels[int(model.probabilities(instance, keep)[0].argmax())] == target


VOCABULARY = [
    *("the", "film", "plot", "was", "brilliant", "dull"),
    *("slow", "actors", "great", "script", "music", "ending"),
]


# ------------------------------------------------------------------ known answers
def test_greedy_is_registered_and_describes_its_scores():
    assert get_explainer("greedy") is Greedy
    assert "selection order" in Greedy.description


def test_a_model_that_reads_one_word_gets_exactly_that_word():
    # ReLU bag of words with one positive weight: only 'brilliant' moves the prediction.
    model = BagOfWords({"brilliant": 3.0, "dull": -2.0}, bias=-1.0, relu=True)
    [explanation] = Greedy().attribute(model, "the well-made plot was brilliant , the end dull")
    assert explanation.target == "pos"
    assert explanation.rationale_words == ["brilliant"]
    assert explanation.scores == (0, 0, 0, 0, 1.0, 0, 0, 0, 0)


def test_words_the_model_never_saw_are_never_chosen():
    model = BagOfWords({"great": 2.0, "superb": 5.0}, bias=-1.0, max_words=4)
    [explanation] = Greedy().attribute(model, "great film , truly superb")
    assert explanation.rationale_words == ["great"]
    assert explanation.scores[4] == 0


@pytest.mark.parametrize("seed", range(8))
def test_on_a_two_class_linear_model_greedy_is_optimal(seed):
    # Adding the word with the largest weight for the target first is optimal for two classes.
    rng = np.random.default_rng(seed)
    model = random_linear_model(rng, VOCABULARY, classes=2)
    words = list(rng.choice(VOCABULARY, size=int(rng.integers(4, 11))))
    [explanation] = Greedy(unit="word", min_size=0).attribute(model, [words])
    optimum = smallest_sufficient_subset(model, words)
    assert explanation.rationale_mask.sum() == optimum.sum()
    assert approximation_ratio(int(explanation.rationale_mask.sum()), int(optimum.sum())) == 1


@pytest.mark.parametrize("seed", range(8))
def test_the_stopping_rule_holds_and_greedy_is_never_below_the_optimum(seed):
    rng = np.random.default_rng(100 + seed)
    model = random_linear_model(rng, VOCABULARY, classes=3)
    words = list(rng.choice(VOCABULARY, size=int(rng.integers(3, 10))))
    [explanation] = Greedy(unit="word", min_size=0).attribute(model, [words])
    order = chosen_in_order(explanation.scores)
    assert explanation.rationale_mask.tolist() == [int(i in order) for i in range(len(words))]
    # sufficient, and no strict prefix of the selection order is
    assert is_top(model, words, order, explanation.target)
    for size in range(len(order)):
        assert not is_top(model, words, order[:size], explanation.target)
    optimum = smallest_sufficient_subset(model, words)
    assert approximation_ratio(len(order), int(optimum.sum())) >= 1


def test_scores_are_the_selection_order_in_zero_to_one():
    model = LinearBagOfWords({"good": [0, 3.0], "fine": [0, 2.0], "ok": [0, 1.0]}, [5.5, 0])
    [explanation] = Greedy().attribute(model, "ok the good film fine")
    assert explanation.scores == pytest.approx((1 / 3, 0, 1, 0, 2 / 3))
    assert explanation.rationale_words == ["ok", "good", "fine"]
    assert explanation.settings == {
        "batch_size": 64,
        "seed": 0,
        "unit": "sentence",
        "span_width": 20,
        "refine": True,
        "max_steps": None,
        "min_size": 1,
    }


def test_an_input_the_model_needs_no_word_of_gets_its_most_supportive_word_by_default():
    # With every word removed the model already predicts 'neg' (bias −1).
    model = BagOfWords({"brilliant": 3.0, "dull": -2.0}, bias=-1.0)
    [explanation] = Greedy().attribute(model, "a dull film")
    assert explanation.target == "neg"
    assert explanation.rationale_words == ["dull"]
    assert explanation.scores == (0, 1.0, 0)
    # the paper's definition: the empty set suffices, so the rationale is empty
    [pure] = Greedy(min_size=0).attribute(model, "a dull film")
    assert pure.rationale == ()
    assert pure.scores == (0, 0, 0)


def test_min_size_words_are_chosen_in_order_of_support_even_after_the_target_is_top():
    model = LinearBagOfWords({"good": [0, 3.0], "fine": [0, 2.0], "ok": [0, 1.0]}, [1.0, 0])
    # 'good' alone already makes 'b' the top class
    [one] = Greedy(unit="word").attribute(model, "ok the good film fine")
    assert one.rationale_words == ["good"]
    [three] = Greedy(unit="word", min_size=3).attribute(model, "ok the good film fine")
    assert three.scores == pytest.approx((1 / 3, 0, 1, 0, 2 / 3))
    # an input shorter than min_size is chosen whole, and that is no failure
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        [whole] = Greedy(min_size=10).attribute(model, "good film")
    assert whole.rationale_words == ["good", "film"]


def test_batches_of_any_size_give_the_same_rationale():
    rng = np.random.default_rng(7)
    model = random_linear_model(rng, VOCABULARY, classes=3)
    words = [list(rng.choice(VOCABULARY, size=9))]
    [whole] = Greedy(unit="word").attribute(model, words)
    [chunked] = Greedy(unit="word", batch_size=2).attribute(model, words)
    assert chunked.scores == whole.scores


@pytest.mark.parametrize("seed", range(4))
def test_by_default_an_input_without_sentence_breaks_gets_the_word_level_rationale(seed):
    rng = np.random.default_rng(200 + seed)
    model = random_linear_model(rng, VOCABULARY, classes=3)
    words = [list(rng.choice(VOCABULARY, size=10))]
    [default] = Greedy().attribute(model, words)
    [word_level] = Greedy(unit="word").attribute(model, words)
    assert default.scores == word_level.scores


def test_max_steps_and_unreachable_targets_warn_that_the_rationale_is_not_sufficient():
    model = LinearBagOfWords({"good": [0, 1.0], "fine": [0, 1.0], "ok": [0, 1.0]}, [2.5, 0])
    with pytest.warns(UserWarning, match=r"still not the top prediction after 1 word\(s\)"):
        [capped] = Greedy(unit="word", max_steps=1).attribute(model, "good fine ok")
    assert capped.rationale_mask.sum() == 1
    with pytest.warns(UserWarning, match="not sufficient"):
        [unreachable] = Greedy().attribute(model, "good dull", target="b")
    assert unreachable.rationale_words == ["good", "dull"]


def test_bad_options_are_refused():
    for options in ({"unit": "paragraph"}, {"span_width": 0}, {"max_steps": 0}, {"min_size": -1}):
        with pytest.raises(RationalizerError, match="explainer greedy"):
            Greedy(**options)


# ------------------------------------------------------------------ sentences and spans
SENTENCES = "the film was great . the plot is dull ! the actors ? brilliant . music"


def needs_great_and_brilliant() -> LinearBagOfWords:
    """Predicts 'b' on SENTENCES only when both 'great' and 'brilliant' are kept."""
    return LinearBagOfWords(
        {"great": [0, 2.0], "brilliant": [0, 2.0], "dull": [1.0, 0]}, bias=[2.5, 0]
    )


def test_sentences_end_at_terminal_punctuation_and_spans_are_windows():
    instance = Instance(tuple(SENTENCES.split()))
    sentences = search_units(instance, "sentence", span_width=10)
    assert sentences.tolist() == [0] * 5 + [1] * 5 + [2] * 3 + [3] * 2 + [4]
    spans = search_units(instance, "span", span_width=4)
    assert spans.tolist() == [0] * 4 + [1] * 4 + [2] * 4 + [3] * 4
    assert search_units(instance, "word", span_width=4).tolist() == list(range(16))
    raw = search_units(Instance(("great", "film.", "dull", "plot!")), "sentence", 10)
    assert raw.tolist() == [0, 0, 1, 1]


@pytest.mark.parametrize(("unit", "width"), [("sentence", 10), ("span", 3)])
def test_unit_rationales_are_made_of_whole_units(unit, width):
    model = needs_great_and_brilliant()
    [explanation] = Greedy(unit=unit, span_width=width, refine=False).attribute(model, SENTENCES)
    units = search_units(Instance(tuple(SENTENCES.split())), unit, width)
    mask, scores = explanation.rationale_mask, np.asarray(explanation.scores)
    for u in range(units.max() + 1):
        assert len(set(mask[units == u])) == 1
        assert len(set(scores[units == u])) == 1
    assert {"great", "brilliant"} <= set(explanation.rationale_words)
    assert is_top(model, SENTENCES, list(np.flatnonzero(mask)), "b")


def test_refine_keeps_only_the_needed_words_of_the_chosen_units():
    model = needs_great_and_brilliant()
    [coarse] = Greedy(refine=False).attribute(model, SENTENCES)
    [refined] = Greedy().attribute(model, SENTENCES)
    assert refined.rationale_words == ["great", "brilliant"]
    assert set(np.flatnonzero(refined.rationale_mask)) <= set(np.flatnonzero(coarse.rationale_mask))
    assert max(refined.scores) == 1


# ------------------------------------------------------------------ real adapters
def review_words(length: int) -> list[str]:
    review = next(ex for ex in load("movies", "test") if len(ex.document.tokens) >= length)
    return list(review.document.tokens[:length])


def hatexplain_posts(count: int, max_words: int) -> list[list[str]]:
    posts = [ex.document.tokens for ex in load("hatexplain", "test")]
    return [list(post) for post in posts if len(post) <= max_words][:count]


def test_greedy_on_our_rationalizer_is_sufficient_and_skips_truncated_words(rationalizer_adapter):
    words = review_words(200)
    instance = rationalizer_adapter.prepare(words)
    seen = instance.encoding.num_words
    assert seen < len(words)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        [explanation] = Greedy().attribute(rationalizer_adapter, instance)
    assert not np.any(explanation.rationale_mask[seen:])
    assert not np.any(explanation.scores[seen:])
    chosen = list(np.flatnonzero(explanation.rationale_mask))
    assert is_top(rationalizer_adapter, words, chosen, explanation.target)


@pytest.mark.parametrize("adapter", ["hf_adapter", "callable_adapter"])
def test_greedy_on_hatexplain_classifiers_is_sufficient_and_near_the_optimum(adapter, request):
    model = request.getfixturevalue(adapter)
    for words in hatexplain_posts(3, max_words=8):
        [explanation] = Greedy(unit="word", min_size=0).attribute(model, [words])
        order = chosen_in_order(explanation.scores)
        assert is_top(model, words, order, explanation.target)
        assert not order or not is_top(model, words, order[:-1], explanation.target)
        optimum = smallest_sufficient_subset(model, words, explanation.target)
        assert approximation_ratio(len(order), int(optimum.sum())) >= 1


def test_exhaustive_search_refuses_a_thirteen_word_input(callable_adapter):
    words = list(itertools.islice(itertools.cycle(VOCABULARY), 13))
    with pytest.raises(RationalizerError, match="at most 12 words; this input has 13"):
        smallest_sufficient_subset(callable_adapter, words)
