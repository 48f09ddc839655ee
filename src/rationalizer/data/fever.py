"""FEVER claim verification (Thorne et al., 2018) in its ERASER version.

The query is the claim, the document the referenced Wikipedia page (sentence boundaries from
its lines); all alternative evidence groups are kept. Only ``val.jsonl`` and ``test.jsonl``
are available, so ``val.jsonl`` becomes the training pool: the claims about a fixed 10% of its
pages are held out as validation and the rest is train, and ``test.jsonl`` is test.

Why pages, not claims: the pool has about eleven claims per page (6,122 claims, 570 pages) and
no test page is a pool page. Held out claim by claim, every validation page is also a training
page, and validation rewards a selector that remembers where each page's evidence lies, which
does not carry over to the test pages (token F1 0.545 on such a validation split against 0.373
on test, same run). Held out page by page, validation pages are as new as the test ones.

The held-out part is reproducible without this code: sort the pool's distinct docids, draw
``numpy.random.default_rng(13).permutation(n)``, and take the pages at the first
``round(0.1 * n)`` positions (57 of 570); validation is every claim about one of them. Both
splits keep the file's order.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property

import numpy as np

from rationalizer.data.eraser import EraserFolder
from rationalizer.data.example import Dataset, DatasetInfo
from rationalizer.data.registry import DatasetLoader

LABELS = ("REFUTES", "SUPPORTS")
VALIDATION_FRACTION = 0.1
SPLIT_SEED = 13
POOL_FILE = "val.jsonl"
TEST_FILE = "test.jsonl"


def held_out_pages(
    pages: Iterable[str], fraction: float = VALIDATION_FRACTION, seed: int = SPLIT_SEED
) -> frozenset[str]:
    """The pages held out for validation: a seeded permutation of the sorted distinct pages,
    first part."""
    ordered = sorted(set(pages))
    count = round(fraction * len(ordered))
    chosen = np.random.default_rng(seed).permutation(len(ordered))[:count]
    return frozenset(ordered[i] for i in chosen)


class FeverLoader(DatasetLoader):
    """Claim verification with sentence-level evidence from Wikipedia (ERASER FEVER)."""

    name = "fever"
    folder = "fever-eraser"
    labels = LABELS
    info = DatasetInfo(
        name="fever",
        description="Claim verification (REFUTES/SUPPORTS) with evidence sentences (ERASER "
        "FEVER); train/validation = the claims of a seeded 90/10 split of the ERASER val file's "
        "pages, test = test",
        url="https://github.com/princeton-nlp/rationale-robustness/tree/"
        "1093548d70927bb8728c6183ae3124c3ebb30aeb/rr/base/explainable_qa/data/fever",
        citation="J. Thorne, A. Vlachos, C. Christodoulopoulos, A. Mittal. 2018. FEVER: a "
        "Large-scale Dataset for Fact Extraction and VERification. NAACL-HLT 2018. "
        "J. DeYoung et al. 2020. ERASER: A Benchmark to Evaluate Rationalized NLP Models. "
        "ACL 2020.",
        license="CC BY-SA 3.0 (text from Wikipedia)",
    )

    @cached_property
    def folder_reader(self) -> EraserFolder:
        return EraserFolder(self.root())

    def load_split(self, split: str) -> Dataset:
        reader = self.folder_reader
        source = TEST_FILE if split == "test" else POOL_FILE
        examples = tuple(reader.example(a, LABELS) for a in reader.annotations(source))
        if split != "test":
            held_out = held_out_pages(docid for example in examples for docid in example.docids)
            validation = split == "validation"
            examples = tuple(ex for ex in examples if held_out.isdisjoint(ex.docids) != validation)
        return Dataset(self.name, split, examples, LABELS, self.info)
