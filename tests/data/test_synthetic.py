"""The synthetic dataset: determinism, balance, known gold rationales and planted shortcuts."""

from __future__ import annotations

from collections import Counter

import pytest

from rationalizer.data import load
from rationalizer.data.embeddings import load_glove
from rationalizer.data.synthetic import (
    INTENSIFIERS,
    MAX_EVIDENCE,
    MAX_WORDS,
    MIN_EVIDENCE,
    MIN_WORDS,
    NEGATION_RATE,
    NEGATIVE_WORDS,
    NEGATORS,
    PLANTED_SHORTCUTS,
    POSITIVE_WORDS,
    SHORTCUT_PRECISION,
    SHORTCUT_RATE,
    SyntheticLoader,
    generate,
)
from rationalizer.errors import RationalizerError


@pytest.fixture(scope="module")
def train():
    return SyntheticLoader().load_split("train")


def _contents(dataset):
    """Everything an example says, metadata included (Example equality ignores metadata)."""
    return [(ex, dict(ex.metadata)) for ex in dataset]


def test_same_seed_gives_identical_data_and_other_seeds_differ():
    assert _contents(generate("validation", 300, seed=7)) == _contents(
        generate("validation", 300, seed=7)
    )
    texts = [ex.document.tokens for ex in generate("validation", 300, seed=7)]
    assert texts != [ex.document.tokens for ex in generate("validation", 300, seed=8)]


def test_a_split_does_not_depend_on_the_other_splits_sizes():
    default = SyntheticLoader()
    resized = SyntheticLoader(sizes={"train": 5, "val": 3})
    assert len(resized.load_split("train")) == 5
    assert len(resized.load_split("validation")) == 3
    assert _contents(resized.load_split("test")) == _contents(default.load_split("test"))
    assert _contents(SyntheticLoader(seed=3).load_split("test")) == _contents(
        generate("test", 400, seed=3)
    )


def test_default_split_sizes_through_the_registry():
    assert len(load("synthetic", "train")) == 2000
    assert len(load("synthetic", "validation")) == 400
    assert len(load("synthetic", "test")) == 400
    val = load("synthetic", "val")
    assert val.split == "validation"
    assert val.labels == ("neg", "pos")


def test_labels_are_balanced(train):
    assert Counter(ex.label for ex in train) == {"neg": 1000, "pos": 1000}
    assert Counter(ex.label for ex in generate("test", 7)) == {"neg": 4, "pos": 3}


def test_reviews_have_the_documented_shape(train):
    ids = [ex.id for ex in train]
    assert len(set(ids)) == len(ids)
    for ex in train:
        doc = ex.document
        assert MIN_WORDS <= len(doc) <= MAX_WORDS
        assert doc.sentence_starts[0] == 0
        for sentence in doc.sentences():
            assert doc.tokens[sentence.end - 1] == "."
        assert all(token == token.lower() for token in doc.tokens)
        assert len(ex.evidence) == 1  # one evidence group
        assert MIN_EVIDENCE <= len(ex.evidence[0]) <= MAX_EVIDENCE
    lengths = [len(ex.document) for ex in train]
    assert max(lengths) - min(lengths) > 100  # lengths vary


def _polarity(phrase: tuple[str, ...]) -> str | None:
    """The label an evidence phrase states, by the lexicon's definition; None if it is not one."""
    *modifiers, word = phrase
    if word in POSITIVE_WORDS:
        polarity = "pos"
    elif word in NEGATIVE_WORDS:
        polarity = "neg"
    else:
        return None
    if modifiers == []:
        return polarity
    if len(modifiers) == 1 and modifiers[0] in INTENSIFIERS:
        return polarity
    if len(modifiers) == 1 and modifiers[0] in NEGATORS:
        return "neg" if polarity == "pos" else "pos"
    return None


def test_every_gold_span_is_a_lexicon_phrase_stating_the_label(train):
    negated = total = 0
    for ex in train:
        for evidence in ex.evidence[0]:
            phrase = ex.document.tokens[evidence.span.start : evidence.span.end]
            assert _polarity(phrase) == ex.label, (ex.id, phrase)
            negated += phrase[0] in NEGATORS
            total += 1
    # negated phrases exist, so the sentiment word alone would mislead a model
    assert abs(negated / total - NEGATION_RATE) < 0.03


def test_sentiment_words_occur_only_inside_the_rationale(train):
    lexicon = set(POSITIVE_WORDS) | set(NEGATIVE_WORDS) | set(NEGATORS) | set(INTENSIFIERS)
    for ex in train:
        mask = ex.rationale_mask()
        outside = {tok for tok, m in zip(ex.document.tokens, mask, strict=True) if not m}
        assert not outside & lexicon, (ex.id, outside & lexicon)


def test_shortcut_metadata_matches_the_tokens(train):
    phrases = {tuple(p.split()): p for p in PLANTED_SHORTCUTS}
    for ex in train:
        tokens = ex.document.tokens
        recorded = ex.metadata["shortcut_spans"]
        assert len(recorded) == len(ex.metadata["shortcut_phrases"]) <= 1
        for (start, end), phrase in zip(recorded, ex.metadata["shortcut_phrases"], strict=True):
            assert " ".join(tokens[start:end]) == phrase
        # every occurrence of a planted phrase in the text is recorded, and nothing else is
        found = [
            (i, i + len(words))
            for words in phrases
            for i in range(len(tokens) - len(words) + 1)
            if tokens[i : i + len(words)] == words
        ]
        assert sorted(found) == sorted(recorded)


def test_rationale_never_overlaps_a_shortcut(train):
    for ex in train:
        mask = ex.rationale_mask()
        for start, end in ex.metadata["shortcut_spans"]:
            assert not mask[start:end].any(), ex.id


def test_shortcut_label_skew_matches_the_planted_precision(train):
    with_phrase: Counter[str] = Counter()
    skewed: Counter[str] = Counter()
    for ex in train:
        for phrase in ex.metadata["shortcut_phrases"]:
            with_phrase[phrase] += 1
            skewed[phrase] += ex.label == PLANTED_SHORTCUTS[phrase]
    assert set(with_phrase) == set(PLANTED_SHORTCUTS)
    for phrase, count in with_phrase.items():
        # ~400 examples per phrase: a binomial standard error of 0.015 at p = 0.9
        assert abs(skewed[phrase] / count - SHORTCUT_PRECISION) < 0.06, phrase
    present = sum(with_phrase.values()) / len(train)
    assert abs(present - SHORTCUT_RATE) < 0.03
    # so the shortcut alone cannot solve the task: some reviews lack one, some point the wrong way
    assert sum(with_phrase.values()) < len(train)
    assert sum(with_phrase.values()) - sum(skewed.values()) > 0


def test_every_word_is_known_to_glove(train):
    glove = load_glove()
    vocabulary = {token for ex in train for token in ex.document.tokens}
    assert {word for word in vocabulary if word not in glove} == set()
    assert len(vocabulary) > 250  # not a trivially tiny vocabulary


def test_negative_size_is_a_clear_error():
    with pytest.raises(RationalizerError, match="number of examples"):
        generate("train", -1)
