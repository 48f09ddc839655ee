"""Movie-review sentiment with human rationales, in two published forms.

``movies`` is ERASER's "Movie Reviews" (DeYoung et al., 2020), the split every published
rationalization result on "Movies" uses: ``train.jsonl`` (1,600 reviews), ``val.jsonl`` (200)
and ``test.jsonl`` (200, reviews 900–999), one sentence per line, labels ``NEG``/``POS``. The
test rationales were collected anew and are *comprehensive* (density about 0.28 against 0.09
in train), so token F1 on test is not comparable with token F1 on validation.

``movies-zaidan`` reads the raw tagged files of Zaidan et al. (2007): ``withRats_neg/
negR_NNN.txt`` and ``withRats_pos/posR_NNN.txt``, one pre-tokenised review per file,
rationales marked inline by whitespace-delimited ``<NEG> … </NEG>`` or ``<POS> … </POS>``
tags. Removing the tags gives the review's word tokens; the tag positions give the rationale
spans, returned as a single evidence group. No split is shipped, so the three-digit number
fixes one, per class: 000–699 train, 700–799 validation, 800–899 test. Files 900–999 (the
tenth fold) were never annotated and are left out. ``posR_161.txt`` lies in an annotated fold
but carries no tags; it is kept in train as an *unannotated* example (``evidence is None``,
``metadata["tagged"] is False``) rather than as an example whose annotator marked nothing.
This split is ours alone: its numbers cannot be set beside a paper's.
"""

from __future__ import annotations

import re
from pathlib import Path

from rationalizer.data.eraser import EraserSplitsLoader
from rationalizer.data.example import Dataset, DatasetInfo, Document, Evidence, Example, Span
from rationalizer.data.registry import DatasetLoader
from rationalizer.errors import DataFormatError, DatasetNotFoundError

ERASER_LABELS = ("NEG", "POS")
LABELS = ("neg", "pos")
SPLIT_NUMBERS = {"train": range(0, 700), "validation": range(700, 800), "test": range(800, 900)}
_ANY_TAG = re.compile(r"</?(?:NEG|POS)>")


def parse_tagged_review(path: Path, label: str) -> tuple[tuple[str, ...], tuple[Span, ...]]:
    """Word tokens and rationale spans of one tagged review.

    Tags must match the review's polarity, be balanced, never nested and never empty; anything
    else is a :class:`DataFormatError` naming the line and the whitespace-token position.
    """
    opening, closing = f"<{label.upper()}>", f"</{label.upper()}>"
    tokens: list[str] = []
    spans: list[Span] = []
    open_at: tuple[int, int, int] | None = None  # (word offset, line, token position)
    for line_number, line in enumerate(path.read_text("utf-8").split("\n"), start=1):
        for position, token in enumerate(line.split()):
            where = (path, line_number, position)
            if token == opening:
                if open_at is not None:
                    raise _tag_error(
                        *where, f"nested {opening} (previous one on line {open_at[1]})"
                    )
                open_at = (len(tokens), line_number, position)
            elif token == closing:
                if open_at is None:
                    raise _tag_error(*where, f"{closing} closes no open {opening}")
                if open_at[0] == len(tokens):
                    raise _tag_error(*where, f"empty rationale {opening} {closing}")
                spans.append(Span(open_at[0], len(tokens)))
                open_at = None
            elif _ANY_TAG.search(token):
                raise _tag_error(
                    *where,
                    f"unexpected tag token {token!r}: a {label} review uses only "
                    f"{opening} and {closing}, each separated by whitespace",
                )
            else:
                tokens.append(token)
    if open_at is not None:
        raise _tag_error(path, open_at[1], open_at[2], f"{opening} is never closed")
    if not tokens:
        raise DataFormatError(path, "review has no words")
    return tuple(tokens), tuple(spans)


def _tag_error(path: Path, line: int, position: int, message: str) -> DataFormatError:
    return DataFormatError(
        path, f"{message} (whitespace token {position} of the line, from 0)", line=line
    )


_PANG_LEE_CITATION = (
    "B. Pang, L. Lee. 2004. A Sentimental Education: Sentiment Analysis Using Subjectivity "
    "Summarization Based on Minimum Cuts. ACL 2004."
)
_ZAIDAN_CITATION = (
    'O. Zaidan, J. Eisner, C. Piatko. 2007. Using "Annotator Rationales" to Improve Machine '
    "Learning for Text Categorization. NAACL-HLT 2007, 260-267."
)


class MoviesLoader(EraserSplitsLoader):
    """Movie-review sentiment in ERASER's standard split (the one papers report on)."""

    name = "movies"
    folder = "movies-eraser"
    labels = ERASER_LABELS
    info = DatasetInfo(
        name="movies",
        description="Movie-review sentiment (NEG/POS) with annotator rationales, ERASER's "
        "standard split: train 1,600 / validation 200 / test 200 (test rationales are "
        "comprehensive, about 3x denser)",
        url="https://www.eraserbenchmark.com/",
        citation="J. DeYoung, S. Jain, N. F. Rajani, E. Lehman, C. Xiong, R. Socher, "
        "B. C. Wallace. 2020. ERASER: A Benchmark to Evaluate Rationalized NLP Models. "
        f"ACL 2020. {_ZAIDAN_CITATION} {_PANG_LEE_CITATION}",
        license="research use; no explicit licence",
    )


class MoviesZaidanLoader(DatasetLoader):
    """Zaidan et al.'s raw tagged reviews, split by file number (not comparable with papers)."""

    name = "movies-zaidan"
    folder = "movies-zaidan"
    labels = LABELS
    info = DatasetInfo(
        name="movies-zaidan",
        description="Movie-review sentiment (neg/pos) with annotator rationales (Zaidan et al. "
        "2007), raw tagged files; our split by file number: 000-699 train, 700-799 "
        "validation, 800-899 test (not ERASER's; use 'movies' to compare with papers)",
        url="https://github.com/yezhang-xiaofan/Rationale-CNN/tree/"
        "724f528851df593e239436a6d582f5b790397318/movies",
        citation=f"{_ZAIDAN_CITATION} {_PANG_LEE_CITATION}",
        license="research use; no explicit licence",
    )

    def load_split(self, split: str) -> Dataset:
        root = self.root()
        examples = tuple(
            self._example(root, label, number)
            for label in LABELS
            for number in SPLIT_NUMBERS[split]
        )
        return Dataset(self.name, split, examples, LABELS, self.info)

    @staticmethod
    def _example(root: Path, label: str, number: int) -> Example:
        source = f"withRats_{label}/{label}R_{number:03d}.txt"
        path = root / source
        if not path.is_file():
            raise DatasetNotFoundError(
                f"missing review file {path}: {root} must hold withRats_{label}/"
                f"{label}R_000.txt … {label}R_899.txt as distributed"
            )
        tokens, spans = parse_tagged_review(path, label)
        docid = path.name
        evidence = (tuple(Evidence(docid, span) for span in spans),) if spans else None
        return Example(
            id=docid,
            documents=(Document(docid, tokens),),
            label=label,
            evidence=evidence,
            metadata={"source": source, "fold": number // 100, "tagged": bool(spans)},
        )
