"""Explaining several inputs at once gives each the explanation it gets alone, for every method
and every adapter kind, whatever the padding; and the batches really are packed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.explain.known_answer import BagOfWords

from rationalizer.data.pretrained import minilm_path
from rationalizer.data.tokenization import SubwordTokenizer
from rationalizer.explain import Explanation, HFClassifierAdapter, get_explainer, list_explainers
from rationalizer.explain.adapters import ClassifierAdapter
from rationalizer.explain.methods.batching import row_probabilities

#: inputs of very different lengths, so every batch pads most of its rows
TEXTS = [
    "a gripping , beautifully acted film",
    "dull",
    "the plot is thin and the ending drags , but the acting is superb and the score is "
    "wonderful ; a moving , beautifully shot film that stays with you",
    "not good , not bad",
    "an utterly forgettable , lazy sequel",
]
#: small settings, so that every method is quick on every adapter
OPTIONS: dict[str, dict] = {
    "smoothgrad": {"n_samples": 4},
    "integrated-gradients": {"n_steps": 8},
    "lime": {"n_samples": 24},
    "kernel-shap": {"n_samples": 24},
    "c-lime": {"n_samples": 24},
    "greedy": {"unit": "word"},
}
CASES = [(name, OPTIONS.get(name, {})) for name in list_explainers()] + [
    ("occlusion", {"window": 3})
]
#: float32 models: packing changes the order of a few sums, nothing more
TOLERANCE = {"rel": 1e-4, "abs": 1e-5}


@pytest.fixture(scope="module")
def tiny_bert() -> HFClassifierAdapter:
    """A two-layer BERT with random weights (seeded) and MiniLM's tokenizer: padding of a real
    attention model, at no training cost."""
    from transformers import BertConfig, BertForSequenceClassification

    tokenizer = SubwordTokenizer.from_pretrained(minilm_path(), max_length=24)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.tokenizer.vocab_size,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=2,
        id2label={0: "neg", 1: "pos"},
    )
    return HFClassifierAdapter(BertForSequenceClassification(config), tokenizer)


def explain_each_and_all(
    model: ClassifierAdapter, method: str, options: dict
) -> tuple[list[Explanation], list[Explanation]]:
    """The explanations of :data:`TEXTS` one at a time (batch size 1) and all at once."""
    alone = get_explainer(method)(batch_size=1, **options)
    together = get_explainer(method)(batch_size=4, **options)
    targets = [0, 1, None, 1, None]
    each = [
        alone.attribute(model, text, target)[0] for text, target in zip(TEXTS, targets, strict=True)
    ]
    return each, together.attribute(model, TEXTS, targets)


def assert_same(each: list[Explanation], together: list[Explanation]) -> None:
    for one, batched in zip(each, together, strict=True):
        assert batched.words == one.words
        assert batched.target == one.target
        assert batched.scores == pytest.approx(one.scores, **TOLERANCE)
        assert batched.rationale == one.rationale
        assert batched.probabilities == pytest.approx(one.probabilities, **TOLERANCE)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(("method", "options"), CASES)
def test_a_batch_explains_each_input_as_alone_on_a_gru(rationalizer_adapter, method, options):
    assert_same(*explain_each_and_all(rationalizer_adapter, method, options))


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(("method", "options"), CASES)
def test_a_batch_explains_each_input_as_alone_on_a_transformer(tiny_bert, method, options):
    assert_same(*explain_each_and_all(tiny_bert, method, options))


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(("method", "options"), CASES)
def test_a_batch_explains_each_input_as_alone_on_other_adapters(method, options):
    """Adapters without a packed path (here a custom one) run instance by instance."""
    model = BagOfWords({"gripping": 2.0, "dull": -1.5, "superb": 1.0}, bias=0.3, max_words=12)
    assert_same(*explain_each_and_all(model, method, options))


def test_batch_size_one_runs_one_model_input_per_forward_pass(rationalizer_adapter, monkeypatch):
    sizes = record_forward_sizes(rationalizer_adapter, monkeypatch)
    get_explainer("occlusion")(batch_size=1).attribute(rationalizer_adapter, TEXTS[:2])
    assert set(sizes) == {1}


@pytest.mark.parametrize("method", ["gradient-x-input", "occlusion"])
def test_inputs_of_several_examples_share_forward_passes(rationalizer_adapter, monkeypatch, method):
    """Short inputs are packed together up to the batch size (the GRU's packed path)."""
    sizes = record_forward_sizes(rationalizer_adapter, monkeypatch)
    get_explainer(method)(batch_size=8).attribute(rationalizer_adapter, ["dull", "not good"] * 4)
    assert 2 < max(sizes) <= 8  # more rows than one example has, never more than the batch


def test_integrated_gradients_pack_the_path_points_of_several_examples(
    rationalizer_adapter, monkeypatch
):
    sizes = record_forward_sizes(rationalizer_adapter, monkeypatch)
    explainer = get_explainer("integrated-gradients")(batch_size=8, n_steps=4)
    explainer.attribute(rationalizer_adapter, ["dull", "not good", "bad", "fine film"])
    # two examples' 4 steps fill a pass of 8: per group, the full inputs, then the path
    assert sizes == [2, 8, 2, 8]


def test_row_probabilities_match_each_instances_own(rationalizer_adapter):
    instances = rationalizer_adapter.prepare_all(TEXTS)
    rng = np.random.default_rng(0)
    keep = [rng.integers(0, 2, instance.num_words) for instance in instances]
    packed = row_probabilities(rationalizer_adapter, instances, keep, batch_size=3)
    each = [
        rationalizer_adapter.probabilities(i, k[None])[0]
        for i, k in zip(instances, keep, strict=True)
    ]
    assert packed == pytest.approx(np.array(each), **TOLERANCE)


def test_groups_sort_by_length_and_respect_the_batch_size():
    model = BagOfWords({})
    instances = model.prepare_all(["a b c", "a", "a b", "a b c d", "a"])
    assert get_explainer("gradient-x-input")(batch_size=2).groups(instances) == [
        [1, 4],
        [2, 0],
        [3],
    ]
    assert get_explainer("occlusion")(window=2, batch_size=4).groups(instances) == [
        [1, 4],
        [2],
        [0],
        [3],
    ]
    assert get_explainer("lime")(batch_size=64).groups(instances) == [[1], [4], [2], [0], [3]]
    # occlusion runs one input per word: examples are packed until they fill a forward pass
    assert get_explainer("occlusion")(batch_size=4).groups(instances) == [[1, 4, 2], [0], [3]]
    smoothgrad = get_explainer("smoothgrad")(batch_size=32, n_samples=16)
    assert smoothgrad.groups(instances) == [[1, 4], [2, 0], [3]]


def test_an_explainer_must_implement_scores():
    from rationalizer.explain import Explainer

    with pytest.raises(TypeError, match="neither word_scores nor word_scores_batch"):

        class Empty(Explainer):
            name = "empty-for-test"
            description = "nothing"


def record_forward_sizes(model, monkeypatch) -> list[int]:
    """The number of rows of every forward pass of ``model``'s classifier from now on."""
    sizes: list[int] = []
    classify = model.rationalizer.model.classify

    def counted(batch, mask):
        sizes.append(int(batch["input_ids"].shape[0]))
        return classify(batch, mask)

    monkeypatch.setattr(model.rationalizer.model, "classify", counted)
    return sizes
