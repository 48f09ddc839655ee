"""Perturbation methods: exact answers on bag-of-words models, black boxes, real classifiers."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.linear_model import Ridge
from tests.explain.known_answer import BagOfWords
from torch.utils.data import DataLoader, TensorDataset

import rationalizer
from rationalizer.errors import RationalizerError
from rationalizer.explain import get_explainer
from rationalizer.explain.methods.perturbation import LinearSurrogate, exponential_cosine_kernel

KEEP_VECTOR_METHODS = ["occlusion", "lime", "kernel-shap"]
PERTURBATION_METHODS = [*KEEP_VECTOR_METHODS, "c-lime"]
SAMPLING_METHODS = ["lime", "kernel-shap", "c-lime"]
WEIGHTS = {"good": 2.0, "bad": -1.5, "well": 0.5, "made": 0.7, "film": 0.1}
TEXT = "a good but bad well-made film"
CONTRIBUTIONS = np.array([0, 2.0, 0, -1.5, 0.5 + 0.7, 0.1])
REVIEW = (
    "the plot is thin and the ending drags , but the acting is superb and the score is "
    "wonderful ; a moving , beautifully shot film"
)


def explain(method: str, model, text: str = TEXT, target="pos", n_samples=32, **options):
    """The word scores of ``method`` (``n_samples`` is dropped for occlusion, which has none)."""
    if method != "occlusion":
        options["n_samples"] = n_samples
    [explanation] = get_explainer(method)(**options).attribute(model, text, target=target)
    return np.array(explanation.scores)


@pytest.fixture
def linear() -> BagOfWords:
    return BagOfWords(WEIGHTS, bias=0.3)


# ------------------------------------------------------------------ known answers
@pytest.mark.parametrize("method", ["occlusion", "kernel-shap", "c-lime"])
@pytest.mark.parametrize(("target", "sign"), [("pos", 1.0), ("neg", -1.0)])
def test_additive_estimates_recover_each_words_contribution(linear, method, target, sign):
    """The target's log-odds is linear in the kept words (and in C-LIME's word weights), so
    occlusion, Shapley values and a least-squares fit all give each word's weight."""
    scores = explain(method, linear, target=target, n_samples=64)
    assert scores == pytest.approx(sign * CONTRIBUTIONS, abs=1e-5)


def test_occlusion_of_probabilities_is_the_drop_when_the_word_is_removed():
    model = BagOfWords(WEIGHTS, relu=True)
    instance = model.prepare(TEXT)
    full = model.probabilities(instance, np.ones((1, 6)))[0, 1]
    without = model.probabilities(instance, 1 - np.eye(6, dtype=np.int8))[:, 1]
    assert explain("occlusion", model, output="probability") == pytest.approx(full - without)


def test_an_occlusion_window_over_the_whole_text_credits_each_word_with_the_total(linear):
    assert explain("occlusion", linear, window=10) == pytest.approx([CONTRIBUTIONS.sum()] * 6)


@pytest.mark.parametrize("method", ["lime", "kernel-shap"])
@pytest.mark.parametrize("output", ["log-odds", "probability"])
def test_lime_and_kernel_shap_rank_the_important_words_first(method, output):
    model = BagOfWords({"superb": 3.0, "moving": 2.0, "fine": 1.0, "dull": -2.5})
    text = "a dull plot , fine sets , superb acting and a moving end"
    scores = explain(method, model, text, output=output, n_samples=128)
    ranked = [text.split()[i] for i in np.argsort(-scores)]
    assert ranked[:3] == ["superb", "moving", "fine"]
    assert ranked[-1] == "dull"


@pytest.mark.parametrize("method", PERTURBATION_METHODS)
def test_a_model_that_reads_one_word_ranks_it_first(method):
    model = BagOfWords({"superb": 3.0}, relu=True, default=-1.0)
    scores = explain(method, model, "a dull plot , superb acting , dull end", n_samples=64)
    assert (np.delete(scores, 4) < scores[4]).all()


@pytest.mark.parametrize("method", PERTURBATION_METHODS)
def test_words_cut_by_truncation_score_zero(method):
    scores = explain(method, BagOfWords(WEIGHTS, max_words=3))
    assert scores.shape == (6,)
    assert scores[3:].tolist() == [0, 0, 0]
    assert scores[1] > 0


@pytest.mark.parametrize("method", PERTURBATION_METHODS)
def test_a_single_word_is_explained(linear, method):
    assert explain(method, linear, "good", n_samples=16)[0] > 0


def test_kernel_shap_of_a_single_word_is_exact(linear):
    assert explain("kernel-shap", linear, "good") == pytest.approx([2.0])


@pytest.mark.parametrize("method", SAMPLING_METHODS)
def test_sampling_methods_depend_on_their_seed_only(method):
    model = BagOfWords(WEIGHTS, relu=True)
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    first = explain(method, model, output="probability", n_samples=16, seed=1)
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's generator untouched
    again = explain(method, model, output="probability", n_samples=16, seed=1)
    assert again == pytest.approx(first, abs=0)
    assert explain(method, model, output="probability", n_samples=16, seed=2) != pytest.approx(
        first
    )


# ------------------------------------------------------------------ black boxes
@pytest.mark.parametrize("method", KEEP_VECTOR_METHODS)
def test_a_black_box_gets_the_same_scores_as_the_open_model(linear, method):
    open_model = explain(method, linear)
    assert explain(method, linear.as_black_box()) == pytest.approx(open_model)


def test_c_lime_refuses_a_black_box_with_the_reason(linear):
    with pytest.raises(RationalizerError, match="c-lime needs access to its input embeddings"):
        explain("c-lime", linear.as_black_box())


@pytest.mark.parametrize(
    ("method", "options", "message"),
    [
        ("occlusion", {"window": 0}, "window"),
        ("lime", {"kernel_width": 0.0}, "kernel_width"),
        ("kernel-shap", {"n_samples": 1}, "n_samples"),
        ("c-lime", {"noise": 0.0}, "noise"),
        ("lime", {"output": "logits"}, "output"),
    ],
)
def test_bad_options_are_refused(method, options, message):
    with pytest.raises(RationalizerError, match=f"{method}: {message}"):
        get_explainer(method)(**options)


# ------------------------------------------------------------------ real classifiers
ADAPTERS = ["rationalizer_adapter", "hf_adapter", "callable_adapter"]


@pytest.fixture(params=ADAPTERS)
def trained(request):
    return request.getfixturevalue(request.param)


@pytest.mark.parametrize(
    ("adapter", "method"),
    [(adapter, method) for adapter in ADAPTERS[:2] for method in PERTURBATION_METHODS]
    + [("callable_adapter", method) for method in KEEP_VECTOR_METHODS],
)
def test_every_adapter_kind_gets_one_finite_score_per_word(request, adapter, method):
    trained = request.getfixturevalue(adapter)
    first = explain(method, trained, REVIEW, target=None, n_samples=24)
    assert first.shape == (len(REVIEW.split()),)
    assert np.isfinite(first).all()
    assert np.abs(first).max() > 0
    assert explain(method, trained, REVIEW, target=None, n_samples=24) == pytest.approx(first)


def test_occlusion_on_real_classifiers_is_the_drop_when_the_word_is_removed(trained):
    instance = trained.prepare(REVIEW)
    [explanation] = get_explainer("occlusion")(output="probability").attribute(trained, instance)
    target = trained.labels.index(explanation.target)
    count = instance.num_words
    full = trained.probabilities(instance, np.ones((1, count), np.int8))[0, target]
    without = trained.probabilities(instance, 1 - np.eye(count, dtype=np.int8))[:, target]
    assert explanation.scores == pytest.approx(full - without, abs=1e-6)


def test_kernel_shap_scores_add_up_to_the_full_minus_the_empty_input(trained):
    instance = trained.prepare(REVIEW)
    [explanation] = get_explainer("kernel-shap")(n_samples=32).attribute(trained, instance)
    target = trained.labels.index(explanation.target)
    ends = trained.probabilities(instance, np.array([[1], [0]]).repeat(instance.num_words, 1))
    full, empty = np.log(ends[:, target] / (1 - ends[:, target]))
    assert sum(explanation.scores) == pytest.approx(full - empty, rel=1e-3, abs=1e-3)


# ------------------------------------------------------------------ Captum's public API only
def test_the_lime_kernel_is_exponential_in_the_cosine_distance():
    full = torch.ones(1, 4, dtype=torch.float64)
    half = torch.tensor([[1.0, 1.0, 0.0, 0.0]], dtype=torch.float64)
    distance = 1 - 2 / (2 * np.sqrt(2))  # cosine similarity 2 / (|full| · |half|)
    similarity = exponential_cosine_kernel(0.25)
    assert similarity(full, half, None) == pytest.approx(np.exp(-(distance**2) / 0.125))
    assert similarity(full, full, None) == pytest.approx(1.0)


def test_the_linear_surrogate_is_a_weighted_fit_over_every_batch_of_the_loader():
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randint(0, 2, (40, 5), generator=generator).float()
    outputs = inputs @ torch.tensor([1.0, -2.0, 0.5, 0.0, 3.0]) + 0.1 * torch.randn(40)
    weights = torch.rand(40, generator=generator)
    surrogate = LinearSurrogate(Ridge(alpha=1.0))
    surrogate.fit(DataLoader(TensorDataset(inputs, outputs, weights), batch_size=16))
    reference = Ridge(alpha=1.0).fit(inputs.numpy(), outputs.numpy(), sample_weight=weights)
    assert surrogate.representation().shape == (1, 5)
    assert surrogate.representation()[0].numpy() == pytest.approx(reference.coef_, rel=1e-6)


def test_no_module_imports_captums_private_modules():
    """Captum's ``_``-prefixed modules change without notice; only its public API is used."""
    private = re.compile(r"^\s*(from|import) captum(\.\w+)*\._", re.MULTILINE)
    sources = sorted(Path(rationalizer.__file__).parent.rglob("*.py"))
    assert sources
    assert [str(path) for path in sources if private.search(path.read_text("utf-8"))] == []
