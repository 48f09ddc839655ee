"""One interface for every explainer: the call, the result, the registry, hard rationales.

Every method is called the same way, Captum-style::

    explainer = get_explainer("integrated-gradients")(n_steps=32)
    [explanation] = explainer.attribute(model, ["a", "gripping", "film"], target="pos")

``model`` is a :class:`~rationalizer.explain.adapters.ClassifierAdapter`; the result is always
word level (one score per input word, whatever the model's tokenization) plus a hard rationale
(word spans) chosen from those scores by a :class:`RationaleRule`, or by the method itself
(greedy rationalization). Methods register themselves by their ``name`` class attribute.
"""

from __future__ import annotations

import math
import time
from abc import ABC
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from rationalizer.data import Span, mask_to_spans, spans_to_mask
from rationalizer.errors import RationalizerError, UnknownNameError
from rationalizer.highlight import Highlight, Highlightable
from rationalizer.metrics.ranking import top_fraction_words, top_words

if TYPE_CHECKING:
    from rationalizer.explain.adapters import ClassifierAdapter, Instance

#: What a method needs from a model, weakest first: any black box gives class probabilities;
#: ``embeddings`` also lets a method feed input embeddings (C-LIME perturbs them); ``gradients``
#: also lets it back-propagate to them.
Capability = Literal["probabilities", "embeddings", "gradients"]
CAPABILITIES: tuple[Capability, ...] = ("probabilities", "embeddings", "gradients")

RuleKind = Literal["top-k", "fraction", "threshold"]
RULE_KINDS: tuple[RuleKind, ...] = ("top-k", "fraction", "threshold")


@dataclass(frozen=True)
class RationaleRule:
    """How word scores become a hard rationale.

    * ``top-k``: the ``value`` highest-scoring words (``value`` a whole number ≥ 1);
    * ``fraction``: the top ``ceil(value × words)`` words, at least one (``0 < value ≤ 1``);
    * ``threshold``: every word scoring at least ``value``.

    Only positive scores are evidence *for* the target: ``top-k`` and ``fraction`` never pick a
    word scoring ≤ 0, so a rationale can be shorter than asked. Ties break towards the earlier
    word, so the result is deterministic.
    """

    kind: RuleKind = "fraction"
    value: float = 0.1

    def __post_init__(self) -> None:
        if self.kind not in RULE_KINDS:
            raise UnknownNameError("rationale rule", self.kind, RULE_KINDS)
        if not math.isfinite(self.value):
            raise RationalizerError(f"rationale rule {self.kind}: value must be finite")
        if self.kind == "top-k" and (self.value < 1 or self.value != int(self.value)):
            raise RationalizerError(f"rationale rule top-k needs a whole k ≥ 1, got {self.value}")
        if self.kind == "fraction" and not 0 < self.value <= 1:
            raise RationalizerError(
                f"rationale rule fraction needs a value in (0, 1], got {self.value}"
            )

    @classmethod
    def parse(cls, text: str) -> RationaleRule:
        """``"top-k:5"``, ``"fraction:0.1"`` or ``"threshold:0.2"`` (the CLI's syntax)."""
        kind, sep, value = text.partition(":")
        if not sep:
            raise RationalizerError(
                f"rationale rule {text!r}: write KIND:VALUE with KIND one of "
                f"{', '.join(RULE_KINDS)}, e.g. fraction:0.1"
            )
        try:
            number = float(value)
        except ValueError:
            raise RationalizerError(f"rationale rule {text!r}: {value!r} is not a number") from None
        return cls(kind.strip(), number)  # type: ignore[arg-type]

    def __str__(self) -> str:
        value = int(self.value) if self.kind == "top-k" else self.value
        return f"{self.kind}:{value}"

    def select(self, scores: Sequence[float] | np.ndarray) -> np.ndarray:
        """A 0/1 word mask (int8) of the rationale for ``scores`` (NaN scores never chosen)."""
        scores = np.asarray(scores, dtype=np.float64)
        mask = np.zeros(len(scores), dtype=np.int8)
        if self.kind == "threshold":
            mask[scores >= self.value] = 1
            return mask
        if self.kind == "fraction":
            top = top_fraction_words(scores, self.value)
        else:
            top = top_words(scores, int(self.value))
        mask[top & (scores > 0)] = 1
        return mask


@dataclass(frozen=True)
class Explanation(Highlightable):
    """A word-level explanation of one prediction.

    ``scores`` has one attribution per input word (the method's own scale; see the method's
    description for how it is normalised); ``rationale`` holds the hard rationale as word spans.
    ``probabilities`` are the model's on the full input, ``target`` the class explained.
    ``settings`` records every option the method ran with, the rule included, so a result can
    be reproduced. In a notebook it shows as highlighted text; :meth:`to_svg` and
    :meth:`to_latex` export it as a figure.
    """

    words: tuple[str, ...]
    scores: tuple[float, ...]
    rationale: tuple[Span, ...]
    target: str
    probabilities: Mapping[str, float]
    method: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    query: str | None = None
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if len(self.scores) != len(self.words):
            raise ValueError(f"{len(self.scores)} scores for {len(self.words)} words")

    @property
    def rationale_mask(self) -> np.ndarray:
        return spans_to_mask(self.rationale, len(self.words))

    @property
    def rationale_words(self) -> list[str]:
        return [self.words[i] for span in self.rationale for i in span.positions()]

    @property
    def predicted(self) -> str:
        """The model's label on the full input."""
        return max(self.probabilities, key=self.probabilities.__getitem__)

    def highlight(self, gold: Sequence[Span] | None = None) -> Highlight:
        """The words with scores graded by size (this explanation's largest score is full
        colour) and the rationale in bold; ``gold`` adds a human rationale, underlined."""
        return Highlight(
            self.words,
            rationale=self.rationale,
            scores=self.scores,
            gold=None if gold is None else tuple(gold),
            score_name=f"{self.method} score",
        )

    def summary(self) -> str:
        probabilities = ", ".join(f"{k} {v:.3f}" for k, v in self.probabilities.items())
        query = f"; query: {self.query}" if self.query else ""
        return f"{self.method} explains {self.target} (model: {probabilities}){query}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (spans as ``[start, end)`` pairs)."""
        return {
            "words": list(self.words),
            "query": self.query,
            "scores": list(self.scores),
            "rationale": [[s.start, s.end] for s in self.rationale],
            "target": self.target,
            "probabilities": dict(self.probabilities),
            "method": self.method,
            "settings": dict(self.settings),
            "seconds": self.seconds,
        }


class ExplainerOptions(BaseModel):
    """Options shared by every method; subclasses add their own, each with a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: how many model inputs to run at once
    batch_size: int = 64
    #: seed of any sampling the method does (noise, perturbations)
    seed: int = 0


TextInput = str | Sequence[str]

_EXPLAINERS: dict[str, type[Explainer]] = {}


class Explainer(ABC):
    """A post-hoc explanation method; subclasses register under ``name``.

    Subclasses set ``name``, ``description`` (one line for ``rationalizer explain --list``),
    ``requires`` (the weakest :data:`Capability` they need) and ``Options`` (a pydantic model
    of their options, each with a default), and implement :meth:`word_scores` (one input) or
    :meth:`word_scores_batch` (several inputs, packed into shared forward passes). A method
    that finds its hard rationale itself (greedy) overrides :meth:`hard_rationale`.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    requires: ClassVar[Capability] = "probabilities"
    Options: ClassVar[type[ExplainerOptions]] = ExplainerOptions
    #: the rule used when the caller gives none
    default_rule: ClassVar[RationaleRule] = RationaleRule()

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            if (
                cls.word_scores is Explainer.word_scores
                and cls.word_scores_batch is Explainer.word_scores_batch
            ):
                raise TypeError(
                    f"explainer {cls.name} implements neither word_scores nor word_scores_batch"
                )
            if cls.name in _EXPLAINERS:
                raise RationalizerError(f"two explainers are named {cls.name!r}")
            _EXPLAINERS[cls.name] = cls

    def __init__(self, rule: RationaleRule | str | None = None, **options: Any) -> None:
        try:
            self.options = self.Options(**options)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'options'}: {e['msg']}" for e in exc.errors()
            )
            raise RationalizerError(f"explainer {self.name}: {problems}") from None
        if isinstance(rule, str):
            rule = RationaleRule.parse(rule)
        self.rule = rule or self.default_rule

    @property
    def settings(self) -> dict[str, Any]:
        """Every option this explainer runs with, the rationale rule included."""
        return self.options.model_dump(mode="json") | {"rule": str(self.rule)}

    # ------------------------------------------------------------------ the one call
    def attribute(
        self,
        model: ClassifierAdapter,
        inputs: TextInput | Instance | Sequence[TextInput | Instance],
        target: int | str | Sequence[int | str | None] | None = None,
        *,
        queries: str | Sequence[str | None] | None = None,
    ) -> list[Explanation]:
        """Explain ``model``'s prediction for each input.

        ``inputs`` is one text (a string, split on whitespace) or an already encoded
        :class:`~rationalizer.explain.adapters.Instance`, or a sequence of texts, word lists
        and instances.
        ``target`` is the class to explain (label or index; one, or one per input); by default
        the model's prediction on the full input. ``queries`` gives the claim or question of
        pair tasks (ignored for instances, which carry their own).

        Several inputs are explained together (see :meth:`groups`), their model inputs packed
        ``batch_size`` to a forward pass; each explanation is the one the input gets alone, and
        its ``seconds`` is its share of its group's time. ``batch_size=1`` runs one model input
        per forward pass, one input after another.
        """
        from rationalizer.explain.adapters.base import keep_everything

        model.check_capability(self.requires, self.name)
        instances = model.prepare_all(inputs, queries)
        wanted = _per_input(target, len(instances), "target")
        explanations: list[Explanation] = [None] * len(instances)  # type: ignore[list-item]
        for group in self.groups(instances):
            start = time.perf_counter()
            chosen = [instances[i] for i in group]
            full = model.probabilities_batch(
                chosen, keep_everything(chosen), self.options.batch_size
            )
            targets = [
                int(probabilities.argmax()) if wanted[i] is None else model.label_index(wanted[i])
                for i, probabilities in zip(group, full, strict=True)
            ]
            scores = [
                self._checked(instance, values)
                for instance, values in zip(
                    chosen, self.word_scores_batch(model, chosen, targets), strict=True
                )
            ]
            masks = [
                self.hard_rationale(model, *case)
                for case in zip(chosen, targets, scores, strict=True)
            ]
            seconds = (time.perf_counter() - start) / len(group)
            for i, instance, probabilities, index, values, mask in zip(
                group, chosen, full, targets, scores, masks, strict=True
            ):
                explanations[i] = Explanation(
                    words=instance.words,
                    scores=tuple(float(s) for s in values),
                    rationale=mask_to_spans(mask),
                    target=model.labels[index],
                    probabilities=dict(zip(model.labels, map(float, probabilities), strict=True)),
                    method=self.name,
                    settings=self.settings,
                    query=instance.query,
                    seconds=seconds,
                )
        return explanations

    def _checked(self, instance: Instance, scores: np.ndarray) -> np.ndarray:
        scores = np.asarray(scores, dtype=np.float64)
        if scores.shape != (instance.num_words,):
            raise RuntimeError(
                f"explainer {self.name} returned {scores.shape} scores for "
                f"{instance.num_words} words"
            )
        return scores

    # ------------------------------------------------------------------ batching
    @property
    def examples_per_call(self) -> int:
        """The most inputs :meth:`word_scores_batch` gets at once (default ``batch_size``);
        a method that cannot pack examples sets 1."""
        return self.options.batch_size

    def inputs_per_example(self, instance: Instance) -> int:
        """How many model inputs explaining ``instance`` runs (default 1). Examples are packed
        only until their inputs fill one forward pass: an example that fills it alone gains
        nothing from company and would pay for the padding of a longer one."""
        return 1

    def group_key(self, instance: Instance) -> int:
        """Inputs with different keys are never explained in one call (default: any may)."""
        return 0

    def groups(self, instances: Sequence[Instance]) -> list[list[int]]:
        """The indices of the inputs explained together: sorted by the number of words the
        model sees (so that a group runs few padded positions), at most
        :attr:`examples_per_call` of them, all with one :meth:`group_key`, and no more than
        fill ``batch_size`` model inputs (:meth:`inputs_per_example`; at least one input)."""
        order = sorted(
            range(len(instances)),
            key=lambda i: (self.group_key(instances[i]), instances[i].seen_words),
        )
        groups: list[list[int]] = []
        load = 0
        for i in order:
            inputs = self.inputs_per_example(instances[i])
            if (
                not groups
                or len(groups[-1]) == self.examples_per_call
                or load + inputs > self.options.batch_size
                or self.group_key(instances[groups[-1][0]]) != self.group_key(instances[i])
            ):
                groups.append([])
                load = 0
            groups[-1].append(i)
            load += inputs
        return groups

    # ------------------------------------------------------------------ what methods implement
    def word_scores(self, model: ClassifierAdapter, instance: Instance, target: int) -> np.ndarray:
        """One attribution per word of ``instance`` for class index ``target``."""
        return self.word_scores_batch(model, [instance], [target])[0]

    def word_scores_batch(
        self, model: ClassifierAdapter, instances: Sequence[Instance], targets: Sequence[int]
    ) -> list[np.ndarray]:
        """:meth:`word_scores` of each instance; methods that pack several examples into one
        forward pass override this instead (each must give what ``word_scores`` gives)."""
        return [
            self.word_scores(model, instance, target)
            for instance, target in zip(instances, targets, strict=True)
        ]

    def hard_rationale(
        self, model: ClassifierAdapter, instance: Instance, target: int, scores: np.ndarray
    ) -> np.ndarray:
        """The 0/1 word mask of the hard rationale; by default :attr:`rule` over ``scores``."""
        return self.rule.select(scores)


def _per_input(value: Any, count: int, what: str) -> list:
    """``value`` repeated for every input, or checked to have one entry per input."""
    if value is None or isinstance(value, int | str):
        return [value] * count
    values = list(value)
    if len(values) != count:
        raise RationalizerError(f"{len(values)} {what}s for {count} inputs")
    return values


def get_explainer(name: str) -> type[Explainer]:
    """The explainer class registered under ``name``."""
    _load_builtin_methods()
    try:
        return _EXPLAINERS[name]
    except KeyError:
        raise UnknownNameError("explainer", name, tuple(_EXPLAINERS)) from None


def list_explainers() -> dict[str, type[Explainer]]:
    """Every registered explainer by name, in registration order."""
    _load_builtin_methods()
    return dict(_EXPLAINERS)


def _load_builtin_methods() -> None:
    # Importing the modules registers their classes.
    import rationalizer.explain.methods  # noqa: F401
