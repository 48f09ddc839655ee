"""Gradient methods: exact answers on bag-of-words models, refusals, and real classifiers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.explain.known_answer import BagOfWords, pieces

from rationalizer.errors import RationalizerError
from rationalizer.explain import get_explainer
from rationalizer.explain.methods.shared import output_from_logits

GRADIENT_METHODS = ["vanilla-gradients", "gradient-x-input", "smoothgrad", "integrated-gradients"]
ADDITIVE_METHODS = ["gradient-x-input", "integrated-gradients"]
WEIGHTS = {"good": 2.0, "bad": -1.5, "well": 0.5, "made": 0.7, "film": 0.1}
TEXT = "a good but bad well-made film"
REVIEW = (
    "the plot is thin and the ending drags , but the acting is superb and the score is "
    "wonderful ; a moving , beautifully shot film"
)


def explain(method: str, model, text: str = TEXT, target="pos", **options):
    [explanation] = get_explainer(method)(**options).attribute(model, text, target=target)
    return np.array(explanation.scores)


@pytest.fixture
def linear() -> BagOfWords:
    return BagOfWords(WEIGHTS, bias=0.3)


@pytest.mark.parametrize("method", ADDITIVE_METHODS)
@pytest.mark.parametrize(("target", "sign"), [("pos", 1.0), ("neg", -1.0)])
def test_additive_methods_recover_each_words_contribution(linear, method, target, sign):
    expected = sign * np.array([0, 2.0, 0, -1.5, 0.5 + 0.7, 0.1])
    assert linear.contributions(linear.prepare(TEXT), target) == pytest.approx(expected)
    assert explain(method, linear, target=target) == pytest.approx(expected)


def test_probability_output_follows_the_chain_rule(linear):
    """On a linear model p = σ(z): gradient × input of p is p(1 − p) times the contribution."""
    instance = linear.prepare(TEXT)
    probability = linear.probabilities(instance, np.ones((1, 6)))[0, 1]
    expected = probability * (1 - probability) * linear.contributions(instance)
    assert explain("gradient-x-input", linear, output="probability") == pytest.approx(expected)


def test_integrated_gradients_are_complete_on_a_nonlinear_model():
    model = BagOfWords(WEIGHTS, relu=True)
    scores = explain("integrated-gradients", model, output="probability", n_steps=64)
    instance = model.prepare(TEXT)
    full, empty = model.probabilities(instance, np.array([[1] * 6, [0] * 6]))[:, 1]
    assert scores.sum() == pytest.approx(full - empty, rel=1e-4)
    assert scores[3] == 0  # ReLU silences the negative word


@pytest.mark.parametrize("method", ["vanilla-gradients", "smoothgrad"])
def test_gradient_norms_of_a_linear_model_count_word_pieces(linear, method):
    """A linear model's gradient is the same unit vector at every position, so a word's score
    is the square root of its number of pieces, whatever its weight."""
    expected = [np.sqrt(len(pieces(word))) for word in TEXT.split()]
    assert explain(method, linear) == pytest.approx(expected)


@pytest.mark.parametrize("method", GRADIENT_METHODS)
def test_a_model_that_reads_one_word_ranks_it_first(method):
    model = BagOfWords({"superb": 3.0}, relu=True, default=-1.0)
    scores = explain(method, model, "a dull plot , superb acting , dull end")
    assert (np.delete(scores, 4) < scores[4]).all()


@pytest.mark.parametrize("method", GRADIENT_METHODS)
def test_words_cut_by_truncation_score_zero(method):
    model = BagOfWords(WEIGHTS, max_words=3)
    scores = explain(method, model)
    assert scores.shape == (6,)
    assert scores[3:].tolist() == [0, 0, 0]
    assert scores[1] != 0


def test_smoothgrad_depends_on_its_seed_only():
    model = BagOfWords(WEIGHTS, relu=True)
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    first = explain("smoothgrad", model, seed=1)
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's generator untouched
    assert explain("smoothgrad", model, seed=1) == pytest.approx(first, abs=0)
    assert explain("smoothgrad", model, seed=2) != pytest.approx(first)


@pytest.mark.parametrize("method", GRADIENT_METHODS)
def test_a_black_box_is_refused_with_the_reason(linear, method):
    with pytest.raises(RationalizerError, match=f"{method} needs gradients .* black-box"):
        explain(method, linear.as_black_box())


@pytest.mark.parametrize(
    ("options", "message"), [({"n_steps": 0}, "n_steps"), ({"noise": -1.0}, "noise")]
)
def test_bad_options_are_refused(options, message):
    method = "integrated-gradients" if "n_steps" in options else "smoothgrad"
    with pytest.raises(RationalizerError, match=f"{method}: {message}"):
        get_explainer(method)(**options)


# ------------------------------------------------------------------ real classifiers
@pytest.fixture(params=["rationalizer_adapter", "hf_adapter"])
def trained(request):
    return request.getfixturevalue(request.param)


@pytest.mark.parametrize("method", GRADIENT_METHODS)
def test_real_classifiers_get_one_finite_score_per_word(trained, method):
    options = {"smoothgrad": {"n_samples": 4}, "integrated-gradients": {"n_steps": 8}}
    first = explain(method, trained, REVIEW, target=None, **options.get(method, {}))
    assert first.shape == (len(REVIEW.split()),)
    assert np.isfinite(first).all()
    assert np.abs(first).max() > 0
    again = explain(method, trained, REVIEW, target=None, **options.get(method, {}))
    assert again == pytest.approx(first, abs=1e-6)


def integrated_gradients_gap(model, instance) -> tuple[float, float]:
    """The sum of integrated gradients' word scores, and f(input) − f(baseline)."""
    [explanation] = get_explainer("integrated-gradients")(n_steps=32).attribute(model, instance)
    target = model.labels.index(explanation.target)
    with torch.no_grad():
        ends = torch.cat([model.embeddings(instance), model.baseline_embeddings(instance)])
        full, baseline = output_from_logits(
            model.logits_from_embeddings(instance, ends), target, "log-odds"
        ).tolist()
    return sum(explanation.scores), full - baseline


def test_integrated_gradients_are_complete_on_real_classifiers(trained):
    total, gap = integrated_gradients_gap(trained, trained.prepare(REVIEW))
    assert total == pytest.approx(gap, rel=0.05, abs=1e-3)


def test_a_query_is_kept_out_of_the_attribution(hf_adapter):
    """Only document words are scored; the query is in the baseline too, so it takes no share
    of f(input) − f(baseline)."""
    instance = hf_adapter.prepare(REVIEW, query="is the acting any good ?")
    total, gap = integrated_gradients_gap(hf_adapter, instance)
    assert total == pytest.approx(gap, rel=0.05, abs=1e-3)
    [explanation] = get_explainer("gradient-x-input")().attribute(hf_adapter, instance)
    assert len(explanation.scores) == len(REVIEW.split())
