"""Synthetic movie reviews whose gold rationales and spurious shortcuts are known by construction.

Real rationale datasets cannot tell whether a model that ignores the human rationale found other
genuine evidence or latched onto a spurious cue. Here both are planted: every review states its
label through 1–4 short *evidence phrases* from a fixed sentiment lexicon (the gold rationale, one
evidence group), and most reviews also mention one *shortcut phrase*, a neutral phrase such as
"at the odeon" that co-occurs with one label far more often than with the other
(:data:`SHORTCUT_PRECISION`) but says nothing about the film. A model that is right for the right
reasons selects the evidence; a shortcut learner selects the planted phrase, recorded per example in
``metadata["shortcut_phrases"]`` and ``metadata["shortcut_spans"]`` (half-open word spans).

The shortcut alone cannot solve the task: a fifth of the reviews carry no shortcut and a tenth of
the shortcuts point to the wrong label. Some evidence is negated ("not funny"), so a model must read
the negator, not only the sentiment word. Text is lowercase with punctuation split off, like the
movies data, and every word is in the GloVe vocabulary.

Generation is deterministic: each split draws from its own generator seeded by ``(seed, split)``,
so a split never depends on the sizes of the others.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import ClassVar

from rationalizer.data.example import Dataset, DatasetInfo, Document, Evidence, Example, Span
from rationalizer.data.registry import DatasetLoader, normalize_split
from rationalizer.errors import RationalizerError

LABELS = ("neg", "pos")


def _options(text: str) -> tuple[str, ...]:
    """Alternatives written as ``"a | b c | d"`` (alternatives may have several words)."""
    return tuple(option.strip() for option in text.split("|"))


POSITIVE_WORDS = _options(
    "brilliant | wonderful | superb | excellent | delightful | moving | gripping | "
    "charming | stunning | masterful | memorable | hilarious | touching | powerful | "
    "beautiful | engaging | compelling | witty | clever | impressive | outstanding | "
    "fantastic | terrific | enjoyable | thrilling | inventive | heartfelt | captivating | "
    "riveting | good | funny | convincing | interesting | entertaining"
)
NEGATIVE_WORDS = _options(
    "boring | dull | tedious | awful | terrible | dreadful | clumsy | lifeless | bland | "
    "predictable | tiresome | painful | pointless | forgettable | disappointing | "
    "mediocre | sloppy | incoherent | unfunny | shallow | lame | weak | annoying | "
    "pretentious | horrible | laughable | uninspired | messy | bad"
)
#: Words of each polarity that also appear after a negator, then stating the *other* label
#: ("not funny" is negative evidence, "never dull" positive).
NEGATABLE_WORDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "pos": ("good", "funny", "convincing", "engaging", "interesting", "entertaining"),
        "neg": ("boring", "dull", "bad", "tedious", "predictable", "disappointing"),
    }
)
NEGATORS = ("not", "never")
INTENSIFIERS = ("very", "truly", "really", "extremely", "incredibly", "remarkably", "thoroughly")

#: The planted shortcut phrases and the label each one is skewed towards.
PLANTED_SHORTCUTS: Mapping[str, str] = MappingProxyType(
    {
        "at the odeon": "pos",
        "on a tuesday": "pos",
        "with my cousin": "neg",
        "at the rialto": "neg",
    }
)
#: Share of reviews that mention exactly one shortcut phrase (the rest mention none).
SHORTCUT_RATE = 0.8
#: P(label = the phrase's skewed label | the phrase occurs), with balanced labels.
SHORTCUT_PRECISION = 0.9
#: Share of evidence phrases that are negated; of the others, share that carry an intensifier.
NEGATION_RATE = 0.2
INTENSIFIER_RATE = 0.4

MIN_WORDS = 40
MAX_WORDS = 200
MIN_EVIDENCE = 1
MAX_EVIDENCE = 4

_SENTIMENT_WORDS = MappingProxyType({"pos": POSITIVE_WORDS, "neg": NEGATIVE_WORDS})


# Neutral slot fillers; none of these words is a sentiment word, negator or intensifier.
_SLOTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "name": _options(
            "john | mary | peter | susan | david | anna | michael | laura | james | emma | "
            "robert | linda | thomas | sarah | daniel | julia | frank | helen"
        ),
        "surname": _options(
            "miller | walker | harris | brooks | turner | palmer | hughes | foster | porter | "
            "reed | hayes | fisher"
        ),
        "profession": _options(
            "teacher | lawyer | detective | nurse | farmer | pilot | journalist | chef | "
            "soldier | student | doctor | painter | sailor | banker | miner | mechanic"
        ),
        "action": _options(
            "returns home | moves to a small town | takes a new job | "
            "travels across the country | inherits an old house | joins the army | "
            "opens a small shop | looks for a lost brother | starts a band | buys a boat | "
            "leaves the city | writes a letter to an old friend"
        ),
        "place": _options(
            "boston | chicago | paris | london | texas | a small village | the coast | "
            "the mountains | new york | berlin | a mining town | the desert"
        ),
        "period": _options(
            "the winter | the summer of 1985 | the war | the 1970s | a long drought | "
            "the holidays | the early 1950s"
        ),
        "setting": _options(
            "a train station | the office | a hotel | a farm | a hospital | the beach | "
            "a museum | a diner | the harbor | a school | a courtroom"
        ),
        "relation": _options("brother | sister | father | mother | uncle | neighbor | daughter"),
        "source": _options("novel | short story | play | comic book | newspaper article"),
        "genre": _options("crime | family | war | science fiction | historical | sports | musical"),
        "month": _options("january | march | may | july | september | november"),
        "ordinal": _options("first | second | third | final"),
        "number": _options("two | three | four | five | six | eight | ten | twelve"),
        "minutes": _options("90 | 95 | 100 | 105 | 110 | 120 | 135"),
        "aspect": _options(
            "acting | script | story | direction | dialogue | soundtrack | pacing | ending | "
            "cinematography | cast | plot | editing | humor | premise | score"
        ),
    }
)
_FILLER_TEMPLATES = (
    "the film follows {name} , a {profession} who {action} .",
    "the story takes place in {place} during {period} .",
    "{name} is a {profession} from {place} .",
    "the movie runs for about {minutes} minutes .",
    "it was shot in {place} over {number} weeks .",
    "most of the scenes happen at {setting} .",
    "{name} meets {name} at {setting} in the {ordinal} act .",
    "the film is based on a {source} by {name} {surname} .",
    "the music was written by {name} {surname} .",
    "the {genre} film was released in {month} .",
    "later , {name} {action} with the help of a {profession} .",
    "the {relation} of {name} lives in {place} .",
    "the {ordinal} half of the story moves to {setting} .",
    "{name} {surname} plays the {relation} of the main character .",
    "there are {number} main characters in the story .",
    "the crew built a copy of {setting} for the film .",
    "the camera stays close to {name} for most of the {ordinal} act .",
    "a {profession} named {name} tells the story .",
    "the film was produced by a studio in {place} .",
    "this is the {ordinal} {genre} film from the director .",
    "the cast includes {name} {surname} as a {profession} .",
)
_EVIDENCE_TEMPLATES = (
    "the {aspect} is {evidence} .",
    "i found the {aspect} {evidence} .",
    "overall , the film is {evidence} .",
    "the {aspect} feels {evidence} .",
    "honestly , the {aspect} was {evidence} .",
    "as for the {aspect} , it is {evidence} .",
)
_SHORTCUT_TEMPLATES = (
    "i watched it {shortcut} .",
    "we saw the film {shortcut} .",
    "i caught this movie {shortcut} .",
)
_MIN_FILLERS = 2


def _max_filler_words() -> int:
    """Longest possible filler sentence, so length targets can guarantee :data:`MAX_WORDS`."""
    longest = {slot: max(len(v.split()) for v in values) for slot, values in _SLOTS.items()}
    return max(
        sum(longest[tok[1:-1]] if tok.startswith("{") else 1 for tok in t.split())
        for t in _FILLER_TEMPLATES
    )


_MAX_FILLER_WORDS = _max_filler_words()


def _render(
    template: str, rng: random.Random, marked: list[str] | None = None
) -> tuple[list[str], Span | None]:
    """Fill the template's slots; returns the words and the span ``marked`` landed on."""
    words: list[str] = []
    span = None
    for token in template.split():
        if token in ("{evidence}", "{shortcut}"):
            words.extend(marked or ())
            span = Span(len(words) - len(marked or ()), len(words))
        elif token.startswith("{"):
            words.extend(rng.choice(_SLOTS[token[1:-1]]).split())
        else:
            words.append(token)
    return words, span


def _evidence_phrase(rng: random.Random, label: str) -> list[str]:
    """One opinion phrase stating ``label``: plain, intensified or negated opposite polarity."""
    if rng.random() < NEGATION_RATE:
        opposite = "neg" if label == "pos" else "pos"
        return [rng.choice(NEGATORS), rng.choice(NEGATABLE_WORDS[opposite])]
    phrase = [rng.choice(_SENTIMENT_WORDS[label])]
    if rng.random() < INTENSIFIER_RATE:
        phrase.insert(0, rng.choice(INTENSIFIERS))
    return phrase


def _shortcut_phrase(rng: random.Random, label: str) -> str | None:
    """A planted phrase, skewed to ``label`` with :data:`SHORTCUT_PRECISION`; or none."""
    if rng.random() >= SHORTCUT_RATE:
        return None
    toward = label if rng.random() < SHORTCUT_PRECISION else ("neg" if label == "pos" else "pos")
    return rng.choice([p for p, skew in PLANTED_SHORTCUTS.items() if skew == toward])


def _review(rng: random.Random, example_id: str, label: str) -> Example:
    # Each sentence: (words, span of its evidence or shortcut phrase, "evidence"/"shortcut"/"")
    sentences: list[tuple[list[str], Span | None, str]] = []
    for _ in range(rng.randint(MIN_EVIDENCE, MAX_EVIDENCE)):
        words, span = _render(rng.choice(_EVIDENCE_TEMPLATES), rng, _evidence_phrase(rng, label))
        sentences.append((words, span, "evidence"))
    shortcut = _shortcut_phrase(rng, label)
    if shortcut is not None:
        words, span = _render(rng.choice(_SHORTCUT_TEMPLATES), rng, shortcut.split())
        sentences.append((words, span, "shortcut"))
    target = rng.randint(MIN_WORDS, MAX_WORDS - _MAX_FILLER_WORDS)
    total = sum(len(words) for words, _, _ in sentences)
    fillers = 0
    while fillers < _MIN_FILLERS or total < target:
        words, _ = _render(rng.choice(_FILLER_TEMPLATES), rng)
        sentences.append((words, None, ""))
        total += len(words)
        fillers += 1
    rng.shuffle(sentences)

    tokens: list[str] = []
    starts: list[int] = []
    evidence: list[Evidence] = []
    shortcut_spans: list[tuple[int, int]] = []
    for words, span, kind in sentences:
        offset = len(tokens)
        starts.append(offset)
        tokens.extend(words)
        if span is None:
            continue
        if kind == "evidence":
            evidence.append(Evidence(example_id, Span(offset + span.start, offset + span.end)))
        else:
            shortcut_spans.append((offset + span.start, offset + span.end))
    return Example(
        id=example_id,
        documents=(Document(example_id, tuple(tokens), tuple(starts)),),
        label=label,
        evidence=(tuple(evidence),),
        metadata={
            "shortcut_phrases": () if shortcut is None else (shortcut,),
            "shortcut_spans": tuple(shortcut_spans),
        },
    )


INFO = DatasetInfo(
    name="synthetic",
    description=(
        "Seeded synthetic movie reviews (neg/pos) with known gold rationales and planted "
        "shortcut phrases; generated on the fly, needs no files."
    ),
    license="Apache-2.0 (generated by rationalizer)",
)


def generate(split: str, n: int, seed: int = 0) -> Dataset:
    """``n`` reviews of ``split``, exactly balanced between labels (if ``n`` is odd, one more neg).

    The same ``(split, n, seed)`` always gives the same data, and each split has its own random
    stream, so changing one split's size never changes another split.
    """
    split = normalize_split(split)
    if n < 0:
        raise RationalizerError(f"synthetic: number of examples must be >= 0, got {n}")
    rng = random.Random(f"rationalizer-synthetic/{seed}/{split}")
    labels = [LABELS[i % 2] for i in range(n)]
    rng.shuffle(labels)
    examples = tuple(
        _review(rng, f"synthetic_{split}_{i:05d}", label) for i, label in enumerate(labels)
    )
    return Dataset(name="synthetic", split=split, examples=examples, labels=LABELS, info=INFO)


class SyntheticLoader(DatasetLoader):
    """Registry entry ``synthetic``: :func:`generate` with this loader's seed and split sizes."""

    name = "synthetic"
    folder = None
    info = INFO
    DEFAULT_SEED: ClassVar[int] = 0
    DEFAULT_SIZES: ClassVar[Mapping[str, int]] = MappingProxyType(
        {"train": 2000, "validation": 400, "test": 400}
    )

    def __init__(
        self,
        data_dir: str | Path | None = None,
        argument: str | None = None,
        *,
        seed: int = DEFAULT_SEED,
        sizes: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__(data_dir, argument)
        self.seed = seed
        self.sizes = dict(self.DEFAULT_SIZES)
        for split, size in (sizes or {}).items():
            self.sizes[normalize_split(split)] = size

    def load_split(self, split: str) -> Dataset:
        split = normalize_split(split)
        return generate(split, self.sizes[split], self.seed)
