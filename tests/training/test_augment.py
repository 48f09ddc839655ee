"""Data augmentation at shortcut positions: random, semantic and mixed copies."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from rationalizer.data import Document, Evidence, Example, Span, load, spans_to_mask
from rationalizer.data.embeddings import load_glove
from rationalizer.errors import RationalizerError, UnknownNameError
from rationalizer.training.augment import Datastore, augment
from rationalizer.training.batching import TrainingExample

WEEKDAYS = {"monday", "wednesday", "thursday", "friday", "saturday", "sunday"}
RELATIVES = {"brother", "sister", "father", "mother", "uncle", "daughter", "neighbor"}


def make_example(example_id: str, text: str, gold: tuple[tuple[int, int], ...] | None) -> Example:
    evidence = None if gold is None else (tuple(Evidence(example_id, Span(*s)) for s in gold),)
    tokens = tuple(text.split())
    return Example(example_id, (Document(example_id, tokens),), "pos", evidence=evidence)


def annotated(example: Example, shortcut: list[tuple[int, int]] | None) -> TrainingExample:
    words = None
    if shortcut is not None:
        words = spans_to_mask([Span(*s) for s in shortcut], len(example.document))
    return TrainingExample(example, annotated=True, shortcut_words=words)


@pytest.fixture(scope="module")
def glove():
    return load_glove()


@pytest.fixture(scope="module")
def synthetic_items():
    """150 synthetic reviews, planted shortcuts as their shortcut words, plus 10 unannotated
    examples full of weekday names and marker words that must never be copied."""
    train = load("synthetic", "train")
    items = [
        annotated(ex, [tuple(span) for span in ex.metadata["shortcut_spans"]])
        for ex in train.examples[:150]
    ]
    for i in range(10):
        text = f"zzmarker{i} monday wednesday friday saturday thursday sunday zzmarker{i}"
        items.append(
            TrainingExample(make_example(f"u{i}", text, None), annotated=False, shortcut_words=None)
        )
    return items


@pytest.fixture(scope="module")
def movies_items():
    """60 real reviews (30 neg, 30 pos); their shortcut words: film/movie/plot/story outside the
    gold rationale."""
    train = load("movies", "train")
    items = []
    for ex in (*train.examples[:30], *train.examples[700:730]):
        cue = np.isin(np.asarray(ex.document.tokens), ["film", "movie", "plot", "story"])
        items.append(
            TrainingExample(
                ex,
                annotated=ex.is_annotated,
                shortcut_words=(cue & (ex.rationale_mask() == 0)).astype(np.int8)
                if ex.is_annotated
                else None,
            )
        )
    return items


def sources(items):
    return [
        i for i in items if i.annotated and i.shortcut_words is not None and i.shortcut_words.any()
    ]


def non_rationale_words(items) -> set[str]:
    return {
        word
        for item in items
        if item.annotated
        for word, gold in zip(
            item.example.document.tokens, item.example.rationale_mask(), strict=True
        )
        if not gold
    }


# ----------------------------------------------------------------------------- what a copy keeps


@pytest.mark.parametrize("strategy", ["random", "semantic", "mixed"])
@pytest.mark.parametrize("data", ["synthetic_items", "movies_items"])
def test_copies_keep_everything_but_the_shortcut_words(request, glove, data, strategy):
    items = request.getfixturevalue(data)
    originals = {item.example.id: item for item in sources(items)}
    copies = augment(items, strategy, copies=2, seed=3, embeddings=glove)
    assert len(copies) == 2 * len(originals) > 0
    for n, copy in enumerate(copies):
        origin = originals[copy.example.metadata["augmented_from"]]
        old, new = origin.example, copy.example
        assert new.id == f"{old.id}#aug{n % 2 + 1}"
        assert copy.annotated and copy.augmented
        assert new.label == old.label and new.query == old.query
        assert len(new.document) == len(old.document)
        assert new.document.sentence_starts == old.document.sentence_starts
        assert new.rationale_spans() == old.rationale_spans()
        assert np.array_equal(copy.shortcut_words, origin.shortcut_words)
        expected = strategy if strategy != "mixed" else ("random", "semantic")
        assert new.metadata["augmentation"] in expected
        changed = np.asarray(new.document.tokens) != np.asarray(old.document.tokens)
        assert not (changed & (origin.shortcut_words == 0)).any()


def test_only_annotated_originals_with_shortcuts_are_augmented():
    plain = make_example("a", "x y z w", ((0, 1),))
    other = make_example("b", "p q r s", ((0, 1),))
    items = [
        annotated(plain, [(1, 3)]),
        annotated(other, []),  # no shortcut word
        annotated(make_example("c", "k l m", ((0, 1),)), None),  # shortcuts unknown
        TrainingExample(make_example("d", "u v", None), annotated=False, shortcut_words=None),
        TrainingExample(
            make_example("a#aug1", "x q r w", ((0, 1),)),
            annotated=True,
            shortcut_words=np.array([0, 1, 1, 0]),
            augmented=True,
        ),
    ]
    copies = augment(items, "random", copies=3, seed=0)
    assert [c.example.id for c in copies] == ["a#aug1", "a#aug2", "a#aug3"]
    assert augment(items, "none", seed=0) == []


# ----------------------------------------------------------------------------- random


def test_random_runs_are_copied_from_another_examples_non_rationale_text():
    first = make_example("A", "a1 a2 a3 a4 a5", ((4, 5),))
    second = make_example("B", "b1 b2 b3 b4 b5", ((0, 1),))
    items = [annotated(first, [(0, 2)]), annotated(second, [(3, 5)])]
    seen = {"A": set(), "B": set()}
    for seed in range(30):
        for copy in augment(items, "random", seed=seed):
            origin = copy.example.metadata["augmented_from"]
            tokens = copy.example.document.tokens
            seen[origin].add(tokens[:2] if origin == "A" else tokens[3:])
    # windows of two consecutive words from the other example, never its gold word, each offset
    assert seen["A"] == {("b2", "b3"), ("b3", "b4"), ("b4", "b5")}
    assert seen["B"] == {("a1", "a2"), ("a2", "a3"), ("a3", "a4")}


def test_random_run_longer_than_any_donor_run_is_filled_window_by_window():
    long_run = make_example("A", "a1 a2 a3 a4 a5 a6 a7 a8", ((7, 8),))
    donor = make_example("B", "b1 b2 b3 b4 g b5 b6", ((4, 5),))
    items = [annotated(long_run, [(0, 6)]), annotated(donor, None)]
    for seed in range(10):
        (copy,) = augment(items, "random", seed=seed)
        tokens = copy.example.document.tokens
        assert tokens[:4] == ("b1", "b2", "b3", "b4")  # the longest donor run, whole
        assert tokens[4:6] in {("b1", "b2"), ("b2", "b3"), ("b3", "b4"), ("b5", "b6")}
        assert tokens[6:] == ("a7", "a8")


def test_random_copies_never_use_unannotated_text(synthetic_items):
    copies = augment(synthetic_items, "random", copies=3, seed=0)
    words = {w for copy in copies for w in copy.example.document.tokens}
    assert not any(w.startswith("zzmarker") for w in words)
    assert not words & WEEKDAYS
    donors = {item.example.id: item.example for item in synthetic_items if item.annotated}
    for copy in copies[:60]:
        origin = copy.example.metadata["augmented_from"]
        for start, end in donors[origin].metadata["shortcut_spans"]:
            run = copy.example.document.tokens[start:end]
            assert _found_outside_gold(run, [ex for i, ex in donors.items() if i != origin])


def _found_outside_gold(run: tuple[str, ...], examples: list[Example]) -> bool:
    for example in examples:
        tokens, gold = example.document.tokens, example.rationale_mask()
        for start in range(len(tokens) - len(run) + 1):
            if tokens[start : start + len(run)] == run and not gold[start : start + len(run)].any():
                return True
    return False


def test_random_needs_another_annotated_example():
    items = [
        annotated(make_example("A", "a b c", ((0, 1),)), [(1, 2)]),
        TrainingExample(make_example("u", "p q r", None), annotated=False, shortcut_words=None),
    ]
    with pytest.raises(RationalizerError, match="no other annotated training example"):
        augment(items, "random", seed=0)


def test_pool_supplies_the_replacement_text():
    source = annotated(make_example("A", "a1 a2 a3", ((2, 3),)), [(0, 1)])
    pool = [annotated(make_example("P", "pool", ()), None)]
    (copy,) = augment([source], "random", seed=0, pool=pool)
    assert copy.example.document.tokens == ("pool", "a2", "a3")


# ----------------------------------------------------------------------------- semantic


def test_datastore_neighbours_are_semantically_close(glove):
    store = Datastore(
        ["Monday", "wednesday", "friday", "cinema", "cousin", "boring", "tuesday"], glove
    )
    assert len(store) == 7
    nearest = store.neighbours(["tuesday", "Tuesday", "qzxqzxq"])
    assert nearest[0] == nearest[1]  # keys are lower-cased
    assert len(nearest[0]) == 1 and nearest[0][0].lower() in WEEKDAYS  # not itself
    assert nearest[2] == ()  # no vector, no neighbour
    # the surface form seen first is what a replacement writes
    assert set(store.neighbours(["tuesday"], k=3)[0]) == {"Monday", "wednesday", "friday"}
    assert store.neighbours(["brother"], k=2)[0][0] == "cousin"
    assert store.neighbours(["tuesday"], k=1) == [nearest[0]]  # from the cache, unchanged
    assert Datastore(["qzxqzxq"], glove).neighbours(["film"]) == [()]  # no candidate at all


def test_datastore_on_real_movie_reviews(movies_items, glove):
    store = Datastore.from_examples(movies_items, glove)
    assert store.neighbours(["tuesday"])[0][0] in WEEKDAYS
    assert store.neighbours(["film"])[0][0] in {"movie", "films", "movies"}
    candidates = set(store.tokens)
    assert candidates <= non_rationale_words(movies_items)


def test_datastore_takes_only_non_rationale_words_of_annotated_originals(glove):
    items = [
        annotated(make_example("a", "the film was brilliant", ((3, 4),)), None),
        TrainingExample(make_example("u", "monday", None), annotated=False, shortcut_words=None),
    ]
    assert Datastore.from_examples(items, glove).tokens == ("film", "the", "was")


def test_semantic_copies_use_nearest_non_rationale_words(synthetic_items, glove):
    copies = augment(synthetic_items, "semantic", copies=2, seed=0, embeddings=glove)
    originals = {item.example.id: item.example for item in synthetic_items}
    allowed = non_rationale_words(synthetic_items)
    for first, second in zip(copies[::2], copies[1::2], strict=True):
        origin = first.example.metadata["augmented_from"]
        assert second.example.metadata["augmented_from"] == origin
        for p in np.flatnonzero(first.shortcut_words):
            old = originals[origin].document.tokens[p]
            a, b = first.example.document.tokens[p], second.example.document.tokens[p]
            assert a in allowed and b in allowed
            assert old not in (a, b)  # never the word itself
            assert a != b  # copy k takes the k-th nearest neighbour
            assert (
                a not in WEEKDAYS
            )  # unannotated text ("tuesday"'s true neighbours) is no candidate
            if old == "cousin":
                assert a in RELATIVES


def test_word_without_vector_gets_a_random_donor_word(glove):
    items = [
        annotated(make_example("A", "qzxqzxq film", ((1, 2),)), [(0, 1)]),
        annotated(make_example("B", "dull plot .", ((0, 1),)), None),
    ]
    for seed in range(5):
        (copy,) = augment(items, "semantic", seed=seed, embeddings=glove)
        assert copy.example.document.tokens[0] in {"plot", "."}
        assert copy.example.metadata["augmentation"] == "semantic"


# ----------------------------------------------------------------------------- mixed, seeds, errors


def test_mixed_gives_half_of_each(synthetic_items, glove):
    two = augment(synthetic_items, "mixed", copies=2, seed=0, embeddings=glove)
    per_origin: dict[str, list[str]] = {}
    for copy in two:
        meta = copy.example.metadata
        per_origin.setdefault(meta["augmented_from"], []).append(meta["augmentation"])
    assert all(sorted(kinds) == ["random", "semantic"] for kinds in per_origin.values())
    one = Counter(
        c.example.metadata["augmentation"]
        for c in augment(synthetic_items, "mixed", copies=1, seed=0, embeddings=glove)
    )
    assert abs(one["random"] - one["semantic"]) <= 1 and one["random"] > 0


@pytest.mark.parametrize("strategy", ["random", "semantic", "mixed"])
def test_same_seed_same_copies(synthetic_items, glove, strategy):
    def run(seed):
        copies = augment(synthetic_items, strategy, copies=2, seed=seed, embeddings=glove)
        return [(c.example.id, c.example.document.tokens) for c in copies]

    assert run(7) == run(7)
    if strategy != "semantic":  # semantic copies do not depend on the seed
        assert run(7) != run(8)


def test_bad_arguments_are_explained(synthetic_items):
    with pytest.raises(UnknownNameError, match="choose one of: mixed, none, random, semantic"):
        augment(synthetic_items, "shuffle", seed=0)
    with pytest.raises(RationalizerError, match="needs word embeddings"):
        augment(synthetic_items, "semantic", seed=0)
    with pytest.raises(RationalizerError, match="copies must be at least 1"):
        augment(synthetic_items, "random", copies=0, seed=0)
