"""FEVER claim verification (Thorne et al., 2018) in its ERASER version.

The query is the claim, the document the referenced Wikipedia page (sentence boundaries from
its lines); all alternative evidence groups are kept. Only ``val.jsonl`` and ``test.jsonl``
are available, so ``val.jsonl`` becomes the training pool: a fixed 10% of it is held out as
validation and the rest is train, and ``test.jsonl`` is test.

The held-out part is reproducible without this code: sort the pool's ``annotation_id`` strings,
draw ``numpy.random.default_rng(13).permutation(n)``, and take the ids at the first
``round(0.1 * n)`` positions (612 of 6,122). Both splits keep the file's order.
"""

from __future__ import annotations

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


def held_out_ids(
    ids: list[str], fraction: float = VALIDATION_FRACTION, seed: int = SPLIT_SEED
) -> frozenset[str]:
    """The ids held out for validation: a seeded permutation of the sorted ids, first part."""
    ordered = sorted(ids)
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
        "FEVER); train/validation = 90/10 seeded split of the ERASER val file, test = test",
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
        if split == "test":
            chosen = reader.annotations(TEST_FILE)
        else:
            pool = reader.annotations(POOL_FILE)
            held_out = held_out_ids([a.id for a in pool])
            chosen = tuple(a for a in pool if (a.id in held_out) == (split == "validation"))
        examples = tuple(reader.example(a, LABELS) for a in chosen)
        return Dataset(self.name, split, examples, LABELS, self.info)
