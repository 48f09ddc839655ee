"""Word ↔ subword alignment, fuzzed: any words, query and length limit give an exact alignment
(every kept word encoded as it is alone, masks and scores round-trip) or a RationalizerError."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.fuzz.strategies import FUZZ

from rationalizer.data.pretrained import minilm_path
from rationalizer.data.tokenization import SubwordTokenizer, WordTokenizer, WordVocabulary
from rationalizer.errors import RationalizerError

#: pieces that tokenizers treat specially: their own special tokens, a continuation marker,
#: zero-width and combining characters, an emoji with its variation selector; and a lone
#: surrogate, which a Python string can hold but no Unicode text can
TRICKY = ("[CLS]", "[SEP]", "[UNK]", "[PAD]", "[MASK]", "##", "\u200d", "\ufe0f", "\u0301")
TRICKY += ("🙂\ufe0f", "\ud800", "\udfff")
#: a word as the data model holds one: non-empty, no whitespace, any other character
piece = st.text(min_size=1, max_size=4) | st.sampled_from(TRICKY)
words = st.lists(
    st.lists(piece, min_size=1, max_size=3).map("".join).filter(lambda w: w.split() == [w]),
    max_size=12,
)
queries = st.none() | words.filter(bool)
max_lengths = st.none() | st.integers(min_value=1, max_value=40)


@pytest.fixture(scope="module")
def minilm() -> SubwordTokenizer:
    return SubwordTokenizer.from_pretrained(minilm_path())


@pytest.fixture(scope="module")
def vocabulary() -> WordVocabulary:
    return WordVocabulary.build([["a", "good", "film", "A"]], None, min_freq=1, dim=4)


def _encode_or_refuse(tokenizer, document, query, max_length):
    try:
        return tokenizer.encode(document, query, max_length)
    except RationalizerError as error:
        message = str(error)
        assert len(message.splitlines()) == 1, error
        too_small = max_length is not None and "too small" in message
        assert too_small or "lone surrogate" in message, error
        return None


def _assert_round_trips(encoding, document, max_length) -> None:
    assert encoding.num_words + encoding.truncated_words == len(document)
    if max_length is not None:
        assert len(encoding) <= max_length
    values = np.arange(len(document), dtype=np.float64)
    back = encoding.positions_to_words(encoding.words_to_positions(values), "first")
    assert back[: encoding.num_words].tolist() == values[: encoding.num_words].tolist()
    assert np.isnan(back[encoding.num_words :]).all()
    mask = (values % 2).astype(np.int8)
    selected = encoding.position_mask_to_words(encoding.words_to_positions(mask))
    assert selected.tolist() == [*mask[: encoding.num_words], *[0] * encoding.truncated_words]


@FUZZ
@given(document=words, query=queries, max_length=max_lengths)
def test_subword_alignment_is_exact_for_any_words(minilm, document, query, max_length):
    encoding = _encode_or_refuse(minilm, document, query, max_length)
    if encoding is None:
        return
    _assert_round_trips(encoding, document, max_length)
    tokenizer = minilm.tokenizer
    for i, word in enumerate(document[: encoding.num_words]):
        alone = tokenizer([word], is_split_into_words=True, add_special_tokens=False)
        expected = alone["input_ids"] or [tokenizer.unk_token_id]
        assert encoding.input_ids[encoding.word_ids == i].tolist() == expected, word


@FUZZ
@given(document=words, query=queries, max_length=max_lengths)
def test_word_alignment_is_one_position_per_word(vocabulary, document, query, max_length):
    tokenizer = WordTokenizer(vocabulary)
    encoding = _encode_or_refuse(tokenizer, document, query, max_length)
    if encoding is None:
        return
    _assert_round_trips(encoding, document, max_length)
    kept = document[: encoding.num_words]
    assert encoding.input_ids[encoding.word_ids >= 0].tolist() == vocabulary.ids(kept)
