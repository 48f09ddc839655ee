"""The movie-review loaders on the real files: ERASER's split (``movies``) and Zaidan's tagged
files (``movies-zaidan``), and the tag parser's errors on malformed files.

Expected numbers come from the data README and from re-reading the raw files here,
independently of the loaders' parsers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rationalizer.data.example import Dataset, mask_to_spans, merge_spans
from rationalizer.data.movies import MoviesLoader, MoviesZaidanLoader, parse_tagged_review
from rationalizer.data.registry import get_loader, load
from rationalizer.errors import DataFormatError, DatasetNotFoundError

SPLITS = ("train", "validation", "test")


@pytest.fixture(scope="module")
def movies(data_dir: Path) -> dict[str, Dataset]:
    """Zaidan's tagged reviews split by file number (the fixture name predates ERASER's split)."""
    loader = get_loader("movies-zaidan", data_dir)
    return {split: loader.load_split(split) for split in SPLITS}


@pytest.fixture(scope="module")
def eraser_movies(data_dir: Path) -> dict[str, Dataset]:
    loader = get_loader("movies", data_dir)
    return {split: loader.load_split(split) for split in SPLITS}


# ----------------------------------------------------------------- movies: ERASER's split


def test_eraser_split_is_by_review_number(eraser_movies: dict[str, Dataset]) -> None:
    numbers = {"train": range(0, 800), "validation": range(800, 900), "test": range(900, 1000)}
    for split, expected in numbers.items():
        data = eraser_movies[split]
        assert data.name == "movies" and data.labels == ("NEG", "POS")
        for label in ("neg", "pos"):
            ids = sorted(ex.id for ex in data if ex.label == label.upper())
            assert ids == [f"{label}R_{n:03d}.txt" for n in expected]


def test_eraser_counts_match_readme(eraser_movies: dict[str, Dataset]) -> None:
    # README: avg tokens, evidence groups (one span each) and micro density per split
    expected = {
        "train": (773.3, 13878, 0.0864),
        "validation": (761.5, 1517, 0.0654),
        "test": (794.7, 2727, 0.2821),
    }
    for split, (tokens_avg, groups, density) in expected.items():
        data = eraser_movies[split]
        lengths = [len(ex.document) for ex in data]
        assert np.mean(lengths) == pytest.approx(tokens_avg, abs=0.05)
        assert sum(len(ex.evidence) for ex in data) == groups
        assert all(len(group) == 1 for ex in data for group in ex.evidence)
        covered = sum(int(ex.rationale_mask().sum()) for ex in data)
        assert covered / sum(lengths) == pytest.approx(density, abs=5e-5)


def test_eraser_tokens_and_sentences_come_from_the_doc_files(
    eraser_movies: dict[str, Dataset], dataset_root
) -> None:
    docs = dataset_root("movies") / "docs"
    for ex in eraser_movies["test"]:
        lines = (docs / ex.id).read_text("utf-8").split("\n")
        assert ex.document.tokens == tuple(" ".join(lines).split()), ex.id
        assert len(ex.document.sentence_starts) == sum(1 for line in lines if line.split())


def test_eraser_and_zaidan_hold_the_same_reviews(
    eraser_movies: dict[str, Dataset], movies: dict[str, Dataset]
) -> None:
    # ERASER re-tokenised Zaidan's reviews (contractions split), so compare the letters only.
    zaidan = {ex.id: ex for split in SPLITS for ex in movies[split]}
    for ex in eraser_movies["validation"]:
        other = zaidan[ex.id]
        assert ex.label == other.label.upper()
        assert "".join(ex.document.tokens) == "".join(other.document.tokens), ex.id


# ------------------------------------------------------- movies-zaidan: split by file number


def _all(movies: dict[str, Dataset]):
    return [ex for split in SPLITS for ex in movies[split]]


def test_split_sizes_follow_the_file_numbers(movies: dict[str, Dataset]) -> None:
    numbers = {"train": range(0, 700), "validation": range(700, 800), "test": range(800, 900)}
    for split, expected in numbers.items():
        data = movies[split]
        assert data.labels == ("neg", "pos")
        for label in ("neg", "pos"):
            files = [ex.id for ex in data if ex.label == label]
            assert files == [f"{label}R_{n:03d}.txt" for n in expected]
    ids = [ex.id for ex in _all(movies)]
    assert len(ids) == len(set(ids)) == 1800


def test_rationale_counts_match_readme(movies: dict[str, Dataset]) -> None:
    examples = _all(movies)
    assert sum(ex.has_rationale for ex in examples) == 1799
    spans = {"neg": 0, "pos": 0}
    for ex in examples:
        for group in ex.evidence or ():
            spans[ex.label] += len(group)
    assert spans == {"neg": 8144, "pos": 7253}
    # README: average rationale / document tokens per annotated review, per class
    for label, rationale_avg, tokens_avg in (("neg", 69.9, 699.7), ("pos", 54.3, 784.2)):
        tagged = [ex for ex in examples if ex.label == label and ex.has_rationale]
        assert np.mean([ex.rationale_mask().sum() for ex in tagged]) == pytest.approx(
            rationale_avg, abs=0.05
        )
        assert np.mean([len(ex.document) for ex in tagged]) == pytest.approx(tokens_avg, abs=0.05)


def test_untagged_review_in_annotated_fold_is_unannotated(movies: dict[str, Dataset]) -> None:
    untagged = [ex for ex in _all(movies) if not ex.is_annotated]
    assert [ex.id for ex in untagged] == ["posR_161.txt"]
    assert untagged[0] in movies["train"].examples
    assert untagged[0].metadata["tagged"] is False


def test_tokens_equal_the_untagged_copy(movies: dict[str, Dataset], dataset_root) -> None:
    root = dataset_root("movies-zaidan")
    for ex in _all(movies):
        label, number = ex.label, ex.id[5:8]
        plain = (root / f"noRats_{label}" / f"{label}_{number}.txt").read_text().split()
        assert ex.document.tokens == tuple(plain), ex.id


def test_spans_reinsert_to_the_tagged_file(movies: dict[str, Dataset], dataset_root) -> None:
    root = dataset_root("movies-zaidan")
    for ex in _all(movies):
        words = list(ex.document.tokens)
        tag = ex.label.upper()
        for span in sorted((ev.span for g in ex.evidence or () for ev in g), reverse=True):
            words[span.end : span.end] = [f"</{tag}>"]
            words[span.start : span.start] = [f"<{tag}>"]
        assert words == (root / ex.metadata["source"]).read_text().split(), ex.id


def test_mask_and_spans_agree(movies: dict[str, Dataset]) -> None:
    for ex in movies["test"]:
        spans = [ev.span for group in ex.evidence for ev in group]
        mask = ex.rationale_mask()
        assert mask.sum() == sum(len(s) for s in spans)  # tags never nest, so spans are disjoint
        assert mask_to_spans(mask) == merge_spans(spans)


def test_registry_accepts_split_alias(data_dir: Path) -> None:
    for name in ("movies", "movies-zaidan"):
        data = load(name, "val", data_dir)
        assert data.split == "validation" and len(data) == 200


def test_missing_folder_says_where_to_get_it(tmp_path: Path) -> None:
    for loader, folder in ((MoviesLoader, "movies-eraser"), (MoviesZaidanLoader, "movies-zaidan")):
        with pytest.raises(DatasetNotFoundError, match=folder) as excinfo:
            loader(tmp_path).load_split("test")
        assert f"rationalizer data download {loader.name}" in str(excinfo.value)
        assert excinfo.value.dataset == loader.name
        assert excinfo.value.folder == tmp_path / folder


@pytest.mark.parametrize(
    ("label", "text", "line", "position"),
    [
        ("neg", "a <NEG> bad film .\n", 1, 1),  # never closed: reported where it opened
        ("neg", "a bad </NEG> film .\n", 1, 2),
        ("neg", "a <NEG> very <NEG> bad </NEG> film\n", 1, 3),
        ("neg", "a <NEG> </NEG> film\n", 1, 2),
        ("pos", "a <NEG> bad </NEG> film\n", 1, 1),
        ("pos", "fine\na <POS>great </POS> film\n", 2, 1),
    ],
    ids=["unclosed", "close-without-open", "nested", "empty", "wrong-polarity", "glued-tag"],
)
def test_malformed_tags_name_file_line_and_token(
    tmp_path: Path, label: str, text: str, line: int, position: int
) -> None:
    path = tmp_path / f"{label}R_000.txt"
    path.write_text(text)
    with pytest.raises(DataFormatError) as excinfo:
        parse_tagged_review(path, label)
    message = str(excinfo.value)
    assert f"{path.name}, line {line}:" in message
    assert f"whitespace token {position} " in message


def test_parser_returns_words_and_spans(tmp_path: Path) -> None:
    path = tmp_path / "posR_000.txt"
    path.write_text("<POS> great </POS> plot , <POS> fine acting </POS> .\n")
    tokens, spans = parse_tagged_review(path, "pos")
    assert tokens == ("great", "plot", ",", "fine", "acting", ".")
    assert [(s.start, s.end) for s in spans] == [(0, 1), (3, 5)]


def test_loader_reports_malformed_file_in_folder(tmp_path: Path) -> None:
    root = tmp_path / "movies-zaidan"
    for label in ("neg", "pos"):
        (root / f"withRats_{label}").mkdir(parents=True)
        for number in range(800, 900):
            tag = label.upper()
            text = f"ok <{tag}> fine </{tag}> .\n"
            (root / f"withRats_{label}" / f"{label}R_{number}.txt").write_text(text)
    assert len(MoviesZaidanLoader(tmp_path).load_split("test")) == 200
    (root / "withRats_pos" / "posR_850.txt").write_text("ok <POS> fine .\n")
    with pytest.raises(DataFormatError, match=r"posR_850\.txt, line 1: <POS> is never closed"):
        MoviesZaidanLoader(tmp_path).load_split("test")
