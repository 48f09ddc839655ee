"""Split statistics against the figures published in the data README."""

from __future__ import annotations

import pytest

from rationalizer.data import load
from rationalizer.data.pretrained import minilm_path
from rationalizer.data.stats import split_stats
from rationalizer.data.tokenization import SubwordTokenizer


def test_hatexplain_test_matches_readme(data_dir):
    # README, "Statistics per split file", row "test split 3" (the official test split)
    stats = split_stats(load("hatexplain", "test", data_dir))
    assert stats.examples == 1924
    assert stats.label_counts == {"non-toxic": 782, "toxic": 1142}
    assert stats.mean_tokens == pytest.approx(23.14, abs=0.005)
    assert stats.with_rationale == 1142
    assert stats.rationale_tokens_per_rationale_example == pytest.approx(8.90, abs=0.005)
    assert stats.spans_per_rationale_example == pytest.approx(1.49, abs=0.005)
    assert stats.density_micro == pytest.approx(0.379, abs=0.0005)
    assert stats.density_macro == pytest.approx(0.392, abs=0.0005)
    assert stats.density_all_examples == pytest.approx(0.228, abs=0.0005)


def test_fever_test_matches_readme(data_dir):
    # README, fever-eraser "Counts", test.jsonl column
    stats = split_stats(load("fever", "test", data_dir))
    assert stats.examples == 6111
    assert stats.mean_tokens == pytest.approx(254.6, abs=0.05)
    assert stats.rationale_tokens_per_rationale_example == pytest.approx(39.5, abs=0.05)
    assert stats.density_micro == pytest.approx(0.155, abs=0.0005)
    assert stats.density_macro == pytest.approx(0.234, abs=0.0005)
    assert stats.mean_query_tokens == pytest.approx(8.2, abs=0.05)


def test_movies_word_truncation_counts_dropped_rationale(data_dir):
    test = load("movies", "test", data_dir)
    stats = split_stats(test, max_length=300)
    # computed directly: words beyond position 300, and gold words beyond it
    lengths = [len(ex.document) for ex in test]
    dropped = sum(max(0, n - 300) for n in lengths)
    gold_total = sum(int(ex.rationale_mask().sum()) for ex in test if ex.has_rationale)
    gold_dropped = sum(int(ex.rationale_mask()[300:].sum()) for ex in test if ex.has_rationale)
    assert stats.truncation.truncated_examples == sum(n > 300 for n in lengths)
    assert stats.truncation.dropped_token_fraction == pytest.approx(dropped / sum(lengths))
    assert stats.truncation.dropped_rationale_fraction == pytest.approx(gold_dropped / gold_total)
    assert stats.truncation.unit == "words"


def test_subword_truncation_drops_more_than_word_truncation(data_dir):
    test = load("movies", "test", data_dir)
    tokenizer = SubwordTokenizer.from_pretrained(minilm_path())
    words = split_stats(test, max_length=256).truncation
    subwords = split_stats(test, max_length=256, encoder=tokenizer).truncation
    # each word is at least one subword and [CLS]/[SEP] take two positions
    assert subwords.dropped_token_fraction > words.dropped_token_fraction
    assert subwords.truncated_examples >= words.truncated_examples
    assert subwords.unit == "model positions"


def test_synthetic_stats_and_bad_max_length():
    stats = split_stats(load("synthetic", "validation"))
    assert stats.examples == 400 and stats.with_rationale == 400
    assert stats.label_counts == {"neg": 200, "pos": 200}
    with pytest.raises(ValueError, match="max_length must be positive"):
        split_stats(load("synthetic", "validation"), max_length=0)
