"""Explaining several inputs at once gives each the explanation it gets alone, for every method
and every adapter kind, whatever the padding; the batches really are packed; the adapters'
packed paths answer each row as its instance alone, in the adapter's precision."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from tests.explain.known_answer import BagOfWords

from rationalizer.data.pretrained import minilm_path
from rationalizer.data.tokenization import SubwordTokenizer
from rationalizer.explain import Explanation, HFClassifierAdapter, get_explainer, list_explainers
from rationalizer.explain.adapters import (
    CallableAdapter,
    ClassifierAdapter,
    EncodedAdapter,
    RationalizerAdapter,
)
from rationalizer.explain.adapters.base import keep_everything

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
#: the fixtures of the adapters that pack instances into shared forward passes
PACKING = {"gru": "rationalizer_adapter", "bert": "tiny_bert"}
#: the fixture of one adapter of each kind: the packing ones, then a custom adapter and a black
#: box that answer instance by instance
ADAPTERS = PACKING | {"custom": "bag_of_words", "black box": "black_box"}


def kinds(names: Iterable[str]) -> list:
    """Adapter kinds as parameters; the GRU, a trained run, makes its tests slow."""
    return [pytest.param(kind, marks=pytest.mark.slow) if kind == "gru" else kind for kind in names]


#: float32 models: packing changes the order of a few sums, nothing more
TOLERANCE = {"rel": 1e-4, "abs": 1e-5}
#: bfloat16 keeps 8 significant bits: packing may round a few products differently
BF16_TOLERANCE = {"rel": 2e-2, "abs": 1e-3}


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


@pytest.fixture
def bag_of_words() -> BagOfWords:
    """A custom adapter, with embeddings and gradients but no packed paths of its own."""
    return BagOfWords({"gripping": 2.0, "dull": -1.5, "superb": 1.0}, bias=0.3, max_words=12)


@pytest.fixture
def black_box(bag_of_words) -> CallableAdapter:
    return bag_of_words.as_black_box()


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
def test_a_batch_explains_each_input_as_alone_on_other_adapters(bag_of_words, method, options):
    """Adapters without a packed path (here a custom one) run instance by instance."""
    assert_same(*explain_each_and_all(bag_of_words, method, options))


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


# ---------------------------------------------------------------------------------------------
# the adapters' packed paths


@pytest.mark.parametrize("kind", kinds(ADAPTERS))
def test_probabilities_batch_match_each_instances_own(request, kind):
    model = request.getfixturevalue(ADAPTERS[kind])
    instances = model.prepare_all(TEXTS)
    rng = np.random.default_rng(0)
    # every instance twice, rows interleaved: each row answers for its own instance
    rows = instances + instances[::-1]
    keep = [rng.integers(0, 2, instance.num_words) for instance in rows]
    packed = model.probabilities_batch(rows, keep, batch_size=3)
    each = [model.probabilities(i, k[None])[0] for i, k in zip(rows, keep, strict=True)]
    assert packed == pytest.approx(np.array(each), **TOLERANCE)


@pytest.mark.parametrize("kind", kinds(["gru", "bert", "custom"]))
def test_logits_from_embeddings_batch_match_each_instances_own(request, kind):
    model = request.getfixturevalue(ADAPTERS[kind])
    instances = model.prepare_all(TEXTS)
    inputs, baselines = model.padded_embeddings(instances)
    rows = instances + instances[::-1]
    padded = torch.cat([inputs, baselines.flip(0)]).detach().requires_grad_()
    packed = model.logits_from_embeddings_batch(rows, padded)
    each = torch.cat(
        [
            model.logits_from_embeddings(instance, row[None, : len(instance.encoding)])
            for instance, row in zip(rows, padded, strict=True)
        ]
    )
    assert packed.detach().numpy() == pytest.approx(each.detach().numpy(), **TOLERANCE)
    # differentiable, and a row's padding never reaches the model
    packed.sum().backward()
    for instance, gradient in zip(rows, padded.grad, strict=True):
        assert gradient[len(instance.encoding) :].abs().sum() == 0
        assert gradient[: len(instance.encoding)].abs().sum() > 0


def test_padded_embeddings_pad_with_zeros_after_each_instances_positions(tiny_bert):
    instances = tiny_bert.prepare_all(TEXTS)
    inputs, baselines = tiny_bert.padded_embeddings(instances)
    longest = max(len(instance.encoding) for instance in instances)
    width = tiny_bert.model.config.hidden_size
    assert inputs.shape == baselines.shape == (len(instances), longest, width)
    for row, instance in enumerate(instances):
        length = len(instance.encoding)
        assert torch.equal(inputs[row, :length], tiny_bert.embeddings(instance)[0])
        assert torch.equal(baselines[row, :length], tiny_bert.baseline_embeddings(instance)[0])
        assert not inputs[row, length:].any() and not baselines[row, length:].any()


def test_adapters_that_cannot_pack_run_each_instance_on_its_own(black_box):
    """The default packed path: one call per instance, at most ``batch_size`` rows each."""
    calls: list[list[str]] = []

    def classify(word_lists):
        calls.append([" ".join(words) for words in word_lists])
        return black_box.fn(word_lists)

    recorded = CallableAdapter(classify, black_box.labels)
    first, second = recorded.prepare_all(["dull film", "superb"])
    keep = [np.ones(2), np.array([1, 0]), np.ones(1), np.array([0, 1]), np.zeros(2)]
    recorded.probabilities_batch([first, first, second, first, first], keep, batch_size=2)
    assert calls == [["dull film", "dull"], ["film", ""], ["superb"]]


# ---------------------------------------------------------------------------------------------
# precision


@contextmanager
def autocast_dtypes(model: EncodedAdapter) -> Iterator[set[torch.dtype | None]]:
    """The autocast dtype (None: autocast off) every linear layer of ``model`` ran under."""
    seen: set[torch.dtype | None] = set()

    def record(*_) -> None:
        on = torch.is_autocast_enabled("cpu")
        seen.add(torch.get_autocast_dtype("cpu") if on else None)

    layers = [m for m in model.module.modules() if isinstance(m, torch.nn.Linear)]
    handles = [layer.register_forward_pre_hook(record) for layer in layers]
    try:
        yield seen
    finally:
        for handle in handles:
            handle.remove()


@pytest.fixture(params=kinds(PACKING))
def bf16_adapter(request, tiny_bert) -> EncodedAdapter:
    """A packing adapter computing in bfloat16 (on the CPU): the GRU run, or the tiny BERT."""
    if request.param == "gru":
        shared = request.getfixturevalue("rationalizer_adapter")
        return RationalizerAdapter(shared.rationalizer, autocast_to=torch.bfloat16)
    model = HFClassifierAdapter(tiny_bert.model, tiny_bert.encoder)
    model.autocast_to = torch.bfloat16
    return model


def test_packed_logits_compute_in_the_adapters_precision(bf16_adapter):
    """From embeddings, several instances packed, as from token ids one at a time."""
    instances = bf16_adapter.prepare_all(TEXTS)
    inputs, _ = bf16_adapter.padded_embeddings(instances)
    with torch.no_grad(), autocast_dtypes(bf16_adapter) as dtypes:
        packed = bf16_adapter.logits_from_embeddings_batch(instances, inputs)
    assert dtypes == {torch.bfloat16}
    alone = torch.cat([bf16_adapter.logits([i], keep_everything([i])) for i in instances])
    # bfloat16 both: equal to its rounding, which is absolute at the logits' scale (one bf16
    # step near 1 is 2**-7), so a logit near 0 may differ by far more than its own size.
    assert packed.dtype == alone.dtype == torch.bfloat16
    torch.testing.assert_close(packed, alone.detach(), rtol=1.6e-2, atol=2**-7)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("method", ["gradient-x-input", "c-lime", "occlusion", "greedy"])
def test_every_forward_pass_of_a_bf16_adapter_runs_in_bf16(bf16_adapter, method):
    """Packed or not, each method's model inputs run in the adapter's precision. Scores are not
    compared: bfloat16 rounds differently in batches of other shapes, and a word's score, a sum
    of many cancelling terms, carries that rounding."""
    with autocast_dtypes(bf16_adapter) as dtypes:
        each, together = explain_each_and_all(bf16_adapter, method, OPTIONS.get(method, {}))
    assert dtypes == {torch.bfloat16}
    for one, batched in zip(each, together, strict=True):
        assert batched.probabilities == pytest.approx(one.probabilities, **BF16_TOLERANCE)
