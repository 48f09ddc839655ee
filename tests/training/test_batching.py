"""The training data pipeline on real data: annotated subset, encoding, collation, bucketing."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from rationalizer.data import Dataset, Document, Evidence, Example, Span, load
from rationalizer.data.embeddings import load_glove
from rationalizer.data.pretrained import minilm_path
from rationalizer.data.tokenization import SubwordTokenizer, WordTokenizer
from rationalizer.errors import RationalizerError
from rationalizer.training.batching import (
    BucketBatchSampler,
    EncodedExample,
    TrainingExample,
    build_encoder,
    choose_annotated,
    collate_batch,
    encode_examples,
    length_batches,
    shard_batch,
    to_device,
)
from rationalizer.training.config import TrainConfig

BATCH_KEYS = {
    "input_ids",
    "attention_mask",
    "token_type_ids",
    "word_ids",
    "selectable",
    "labels",
    "gold_mask",
    "has_gold",
    "shortcut_mask",
    "has_shortcut",
    "is_augmented",
    "index",
}


@pytest.fixture(scope="module")
def movies(data_dir: Path) -> Dataset:
    """Zaidan's tagged reviews (file-number split): their train split holds one unannotated
    review, ``posR_161.txt``, and no query, which the tests below rely on."""
    return load("movies-zaidan", "train", data_dir)


@pytest.fixture(scope="module")
def hatexplain(data_dir: Path) -> Dataset:
    return load("hatexplain", "train", data_dir)


@pytest.fixture(scope="module")
def fever(data_dir: Path) -> Dataset:
    return load("fever", "validation", data_dir)


@pytest.fixture(scope="module")
def word_tokenizer(movies: Dataset, hatexplain: Dataset, fever: Dataset) -> WordTokenizer:
    examples = [*movies[:200], *hatexplain[:200], *fever[:50]]
    tokenizer, _, _ = build_encoder(TrainConfig(dataset="movies"), examples)
    assert isinstance(tokenizer, WordTokenizer)
    return tokenizer


@pytest.fixture(scope="module")
def minilm() -> SubwordTokenizer:
    return SubwordTokenizer.from_pretrained(minilm_path())


def annotated_items(examples) -> list[TrainingExample]:
    return [TrainingExample(ex, ex.is_annotated, None) for ex in examples]


def check_alignment(batch: dict, items: list[TrainingExample], encoded) -> None:
    """Every position's gold value is its word's gold value, looked up through word_ids."""
    for row, item in enumerate(items):
        word_ids = batch["word_ids"][row].numpy()
        gold_words = item.example.rationale_mask() if item.annotated else None
        real = batch["attention_mask"][row].numpy() == 1
        assert real.sum() == encoded[row].length
        for position, word in enumerate(word_ids):
            expected = 0.0 if word < 0 or gold_words is None else float(gold_words[word])
            assert batch["gold_mask"][row, position].item() == expected
        assert torch.equal(batch["selectable"][row], batch["word_ids"][row] >= 0)
        # padding is never selectable and never gold
        assert not batch["selectable"][row][~torch.from_numpy(real)].any()


# ---------------------------------------------------------------------------------------------
# choose_annotated


def test_quarter_of_movies_is_stratified(movies: Dataset) -> None:
    chosen = choose_annotated(movies, 0.25, seed=0)
    # round(0.25 * 1400) = 350 of the 1,399 annotated reviews (700 neg, 699 pos; posR_161 has no
    # tags). Quotas 350 * 700/1399 = 175.125 and 350 * 699/1399 = 174.875: floors 175 + 174, the
    # remaining one goes to the larger fraction (pos).
    assert len(chosen) == 350
    by_id = movies.by_id()
    assert Counter(by_id[i].label for i in chosen) == {"neg": 175, "pos": 175}
    assert "posR_161.txt" not in chosen
    assert all(by_id[i].is_annotated for i in chosen)


def test_half_of_movies(movies: Dataset) -> None:
    # 700 wanted: 700 * 700/1399 = 350.25 and 700 * 699/1399 = 349.75 -> 350 + 349 + 1 (pos).
    chosen = choose_annotated(movies, 0.5, seed=3)
    assert Counter(movies.by_id()[i].label for i in chosen) == {"neg": 350, "pos": 350}


def test_hatexplain_counts_posts_with_empty_rationales(hatexplain: Dataset) -> None:
    # All 5,514 train posts are annotated (non-toxic ones with an empty rationale).
    # round(0.25 * 5514) = round(1378.5) = 1379 (half up). Quotas: toxic 1379 * 3295/5514 =
    # 824.04, non-toxic 1379 * 2219/5514 = 554.95 -> 824 + 554, the last one to non-toxic.
    chosen = choose_annotated(hatexplain, 0.25, seed=0)
    assert Counter(hatexplain.by_id()[i].label for i in chosen) == {"toxic": 824, "non-toxic": 555}


def test_choice_is_fixed_by_the_seed(movies: Dataset) -> None:
    first = choose_annotated(movies, 0.25, seed=7)
    assert choose_annotated(movies, 0.25, seed=7) == first
    other = choose_annotated(movies, 0.25, seed=8)
    assert other != first
    assert len(other) == len(first)


def test_fraction_edges(movies: Dataset) -> None:
    assert choose_annotated(movies, 0.0, seed=0) == frozenset()
    everything = choose_annotated(movies, 1.0, seed=0)
    assert everything == {ex.id for ex in movies if ex.is_annotated}
    assert len(everything) == 1399
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        choose_annotated(movies, 1.5, seed=0)


# ---------------------------------------------------------------------------------------------
# TrainingExample


def test_training_example_checks(movies: Dataset) -> None:
    review = movies[0]
    unannotated = movies.by_id()["posR_161.txt"]
    with pytest.raises(ValueError, match="no human annotation"):
        TrainingExample(unannotated, annotated=True, shortcut_words=None)
    with pytest.raises(ValueError, match="only known for annotated"):
        TrainingExample(review, annotated=False, shortcut_words=np.zeros(len(review.document)))
    with pytest.raises(ValueError, match="0/1 for each of its"):
        TrainingExample(review, annotated=True, shortcut_words=np.zeros(3))
    item = TrainingExample(review, annotated=True, shortcut_words=np.ones(len(review.document)))
    assert item.shortcut_words.dtype == np.int8


# ---------------------------------------------------------------------------------------------
# Encoding and collation


def test_movies_with_the_word_tokenizer(movies: Dataset, word_tokenizer: WordTokenizer) -> None:
    chosen = choose_annotated(movies, 0.25, seed=0)
    items = [TrainingExample(ex, ex.id in chosen, None) for ex in movies]
    encoded, report = encode_examples(word_tokenizer, items, movies.labels, max_length=512)
    # one position per word, no special tokens: exactly the reviews over 512 words are cut
    long_reviews = [ex for ex in movies if len(ex.document) > 512]
    assert report.truncated_examples == len(long_reviews)
    assert report.dropped_words == sum(len(ex.document) - 512 for ex in long_reviews)
    assert [e.index for e in encoded] == list(range(len(movies)))

    rows = [0, 1, 700, 701, 1399]  # both labels, in and out of the annotated set
    batch = collate_batch([encoded[i] for i in rows])
    assert set(batch) == BATCH_KEYS
    width = max(encoded[i].length for i in rows)
    for key in ("input_ids", "attention_mask", "word_ids", "selectable", "gold_mask"):
        assert batch[key].shape == (5, width)
    assert batch["labels"].tolist() == [movies.labels.index(movies[i].label) for i in rows]
    assert batch["has_gold"].tolist() == [movies[i].id in chosen for i in rows]
    assert batch["index"].tolist() == rows
    assert batch["gold_mask"].dtype == torch.float32
    assert not batch["has_shortcut"].any()
    assert not batch["is_augmented"].any()
    # without a query, every real position is a document word
    assert torch.equal(batch["selectable"], batch["attention_mask"] == 1)
    check_alignment(batch, [items[i] for i in rows], [encoded[i] for i in rows])


def test_unannotated_examples_have_no_gold(movies: Dataset, word_tokenizer) -> None:
    review = movies[0]
    assert review.has_rationale
    items = [TrainingExample(review, False, None), TrainingExample(review, True, None)]
    encoded, _ = encode_examples(word_tokenizer, items, movies.labels, len(review.document))
    batch = collate_batch(encoded)
    assert batch["gold_mask"][0].sum() == 0
    assert batch["gold_mask"][1].sum() == review.rationale_mask().sum()


def test_subword_positions_share_their_words_gold(movies: Dataset, minilm) -> None:
    items = annotated_items(movies[:16])
    encoded, _ = encode_examples(minilm, items, movies.labels, max_length=256)
    batch = collate_batch(encoded)
    check_alignment(batch, items, encoded)
    word_ids = batch["word_ids"]
    # some gold words really are split into several subwords, so the check above covered them
    split_gold = [
        (row, word)
        for row in range(len(items))
        for word, count in Counter(word_ids[row][word_ids[row] >= 0].tolist()).items()
        if count > 1 and items[row].example.rationale_mask()[word]
    ]
    assert split_gold
    # [CLS] and the final [SEP] are real positions the selector never chooses
    cls, sep = minilm.tokenizer.cls_token_id, minilm.tokenizer.sep_token_id
    assert (batch["input_ids"][:, 0] == cls).all()
    assert not batch["selectable"][:, 0].any()
    for row, item in enumerate(encoded):
        last = item.length - 1
        assert batch["input_ids"][row, last] == sep
        assert not batch["selectable"][row, last]


def query_positions(batch: dict, row: int) -> int:
    """Real positions that are not document words."""
    real = batch["attention_mask"][row] == 1
    return int((real & ~batch["selectable"][row]).sum())


def test_hatexplain_query_is_never_selectable(hatexplain: Dataset, word_tokenizer, minilm) -> None:
    toxic = [ex for ex in hatexplain if ex.has_rationale][:4]
    items = annotated_items(toxic)
    assert toxic[0].query == "What is the class?"
    words = collate_batch(encode_examples(word_tokenizer, items, hatexplain.labels)[0])
    # 4 query words + <sep> come before the document
    assert all(query_positions(words, row) == 5 for row in range(4))
    assert not words["selectable"][:, :5].any()
    assert words["selectable"][:, 5].all()
    encoded, _ = encode_examples(minilm, items, hatexplain.labels)
    pieces = collate_batch(encoded)
    query = minilm.tokenizer("What is the class?", add_special_tokens=False)["input_ids"]
    # [CLS] query [SEP] document [SEP]
    assert all(query_positions(pieces, row) == len(query) + 3 for row in range(4))
    assert pieces["input_ids"][0, 1 : 1 + len(query)].tolist() == query
    check_alignment(words, items, encode_examples(word_tokenizer, items, hatexplain.labels)[0])
    check_alignment(pieces, items, encoded)


def test_fever_claim_positions(fever: Dataset, word_tokenizer, minilm) -> None:
    claim = fever[0]
    claim_words = claim.query.split()
    items = [TrainingExample(claim, True, None)]
    for tokenizer in (word_tokenizer, minilm):
        encoded, _ = encode_examples(tokenizer, items, fever.labels, max_length=128)
        batch = collate_batch(encoded)
        is_query = torch.from_numpy(encoded[0].encoding.is_query)
        assert int(is_query.sum()) >= len(claim_words)
        assert not batch["selectable"][0][is_query].any()
        assert (batch["gold_mask"][0][is_query] == 0).all()
        # the document starts right after the query and its separator
        assert batch["word_ids"][0][batch["selectable"][0]][0] == 0
        check_alignment(batch, items, encoded)
    assert batch["token_type_ids"][0][batch["selectable"][0]].eq(1).all()


def test_vocabulary_covers_queries(fever: Dataset) -> None:
    claims = fever[:20]
    tokenizer, matrix, vocabulary = build_encoder(TrainConfig(dataset="fever"), claims)
    assert vocabulary is not None and tokenizer.vocabulary is vocabulary
    assert matrix.shape == (len(vocabulary), 50)
    in_documents = {w.lower() for ex in claims for w in ex.document.tokens}
    glove = load_glove()
    only_in_claims = {
        w.lower() for ex in claims for w in ex.query.split() if w.lower() not in in_documents
    }
    with_vector = [w for w in only_in_claims if w in glove]
    assert with_vector
    assert all(w in vocabulary for w in with_vector)


def test_transformer_length_limit() -> None:
    with pytest.raises(RationalizerError, match="exceeds the 512 positions"):
        build_encoder(TrainConfig(encoder="minilm", max_length=1024), [])


def test_shortcut_and_augmentation_flags(movies: Dataset, word_tokenizer) -> None:
    review = movies[0]
    length = len(review.document)
    early = np.zeros(length, dtype=np.int8)
    early[[2, 3]] = 1
    late = np.zeros(length, dtype=np.int8)
    late[-1] = 1  # beyond the truncation below
    items = [
        TrainingExample(review, True, early),
        TrainingExample(review, True, late),
        TrainingExample(review, True, np.zeros(length)),
        TrainingExample(review, True, early, augmented=True),
    ]
    encoded, report = encode_examples(word_tokenizer, items, movies.labels, max_length=50)
    assert report.truncated_examples == 4
    batch = collate_batch(encoded)
    assert batch["shortcut_mask"][0].nonzero().flatten().tolist() == [2, 3]
    assert batch["has_shortcut"].tolist() == [True, False, False, True]
    assert batch["is_augmented"].tolist() == [False, False, False, True]


def test_collate_errors(movies: Dataset, word_tokenizer) -> None:
    with pytest.raises(ValueError, match="empty batch"):
        collate_batch([])
    (item,) = encode_examples(word_tokenizer, annotated_items(movies[:1]), movies.labels)[0]
    other = EncodedExample(**{**item.__dict__, "pad_id": 99})
    with pytest.raises(ValueError, match="different encoders"):
        collate_batch([item, other])
    with pytest.raises(RationalizerError, match="not one of"):
        encode_examples(word_tokenizer, annotated_items(movies[:1]), ("good", "bad"))


def test_to_device(movies: Dataset, word_tokenizer) -> None:
    batch = collate_batch(
        encode_examples(word_tokenizer, annotated_items(movies[:2]), movies.labels)[0]
    )
    moved = to_device(batch, "meta")
    assert moved.keys() == batch.keys()
    assert all(t.device.type == "meta" and t.shape == batch[k].shape for k, t in moved.items())


def test_multi_document_example_gets_a_clear_error() -> None:
    example = Example(
        "two-docs",
        (Document("d1", ("a", "b")), Document("d2", ("c",))),
        "pos",
        evidence=((Evidence("d1", Span(0, 1)),),),
    )
    with pytest.raises(RationalizerError, match="'two-docs' has 2 documents"):
        TrainingExample(example, annotated=True, shortcut_words=None)


# ---------------------------------------------------------------------------------------------
# Bucketing


@pytest.fixture(scope="module")
def lengths() -> np.ndarray:
    return np.random.default_rng(0).integers(1, 1000, size=1003)


def epoch_batches(sampler: BucketBatchSampler, epoch: int) -> list[list[int]]:
    sampler.set_epoch(epoch)
    return list(sampler)


def test_every_index_once_per_epoch(lengths: np.ndarray) -> None:
    sampler = BucketBatchSampler(lengths, batch_size=32, seed=0, batches_per_bucket=4)
    for epoch in (0, 1):
        batches = epoch_batches(sampler, epoch)
        assert len(batches) == len(sampler) == math.ceil(1003 / 32)
        assert sorted(i for batch in batches for i in batch) == list(range(1003))
        assert sorted(len(b) for b in batches)[1:] == [32] * (len(batches) - 1)


def test_batches_hold_similar_lengths(lengths: np.ndarray) -> None:
    sampler = BucketBatchSampler(lengths, batch_size=32, seed=0, batches_per_bucket=8)
    spread = np.mean([np.ptp(lengths[b]) for b in epoch_batches(sampler, 0)])
    # A bucket of 256 random lengths out of 1..999 sorted and cut in 8 spans about 1000/8 per
    # batch; a random batch of 32 spans about 1000 * 31/33 ≈ 940.
    assert spread < 250


def test_order_is_fixed_by_seed_and_epoch(lengths: np.ndarray) -> None:
    first = BucketBatchSampler(lengths, batch_size=16, seed=5)
    second = BucketBatchSampler(lengths, batch_size=16, seed=5)
    assert epoch_batches(first, 2) == epoch_batches(second, 2)
    assert epoch_batches(first, 2) != epoch_batches(first, 3)
    other_seed = BucketBatchSampler(lengths, batch_size=16, seed=6)
    assert epoch_batches(other_seed, 2) != epoch_batches(first, 2)


def test_unshuffled_batches_follow_length(lengths: np.ndarray) -> None:
    sampler = BucketBatchSampler(lengths, batch_size=100, seed=0, shuffle=False)
    batches = epoch_batches(sampler, 0)
    assert epoch_batches(sampler, 1) == batches
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == list(range(1003))
    assert np.all(np.diff(lengths[flat]) >= 0)


def test_real_reviews_through_a_data_loader(movies: Dataset, word_tokenizer) -> None:
    encoded, _ = encode_examples(word_tokenizer, annotated_items(movies[:300]), movies.labels, 512)
    sampler = BucketBatchSampler([e.length for e in encoded], batch_size=32, seed=1)
    loader = torch.utils.data.DataLoader(encoded, batch_sampler=sampler, collate_fn=collate_batch)
    seen = []
    padding = 0
    for batch in loader:
        seen.extend(batch["index"].tolist())
        padding += int((batch["attention_mask"] == 0).sum())
    assert sorted(seen) == list(range(300))
    real = sum(e.length for e in encoded)
    assert padding < 0.1 * real


def test_evaluation_batches_depend_only_on_lengths() -> None:
    lengths = [5, 3, 9, 3, 1]
    assert length_batches(lengths, 2) == [[4, 1], [3, 0], [2]]
    sampler = BucketBatchSampler(lengths, 2, seed=0, shuffle=False)
    assert list(sampler) == length_batches(lengths, 2)


@pytest.mark.parametrize("size", [1, 2, 7, 16])
def test_a_global_batch_is_split_among_ranks_with_weights_of_its_mean(size: int) -> None:
    batch = list(range(100, 100 + size))
    shares = [shard_batch(batch, rank, 2) for rank in range(2)]
    trained = [i for part, weight in shares if weight for i in part]
    assert trained == batch  # every example once, in order
    # data-parallel training averages the ranks' weighted mean losses: the mean of the batch
    averaged = sum(weight * np.mean(part) for part, weight in shares) / 2
    assert averaged == pytest.approx(np.mean(batch))
