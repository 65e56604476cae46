"""Contrast pairs: a minimal edit that flips the model's prediction, and whether the explanation of
the edited text points at the edit (``contrast_hit@k``).

A contrast pair is (x, x') where x' is one negation insertion or antonym swap away from x
(``contrast_edits``) and the model's predicted class of x' differs from that of x. The edit is then
known to be decisive for the model's prediction of x', so a faithful explanation of x' should rank
the edited span near the top. This is the local, model-specific version of contrast sets (Gardner et
al. 2020, "Evaluating Models' Local Decision Boundaries via Contrast Sets", Findings of EMNLP) and of
counterfactual evaluation of rationales (Kaushik et al. 2020, "Learning the Difference that Makes a
Difference with Counterfactually-Augmented Data", ICLR).
"""
from __future__ import annotations

import math
import weakref
from dataclasses import asdict, dataclass
from typing import ClassVar, Sequence

import numpy as np

from xaibench.core import registry
from xaibench.core.references import unit_mask
from xaibench.metrics.base import ExampleScore, Metric, MetricResult
from xaibench.metrics.contrast_edits import candidate_edits
from xaibench.metrics.evidence import top_k_mask
from xaibench.metrics.reexplain import explainer_key, rebuild_explainer

#: model -> {text: ContrastPair | note}: pairs depend on the model and the text only, so every
#: explainer's cell of a task reuses them.
_PAIRS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class ContrastPair:
    """x (``original``) and its prediction-flipping edit x' (``edited``); ``span`` is the edited
    span ``[start, end)`` in ``edited``; classes are the model's argmax predictions; ``p_edited`` is
    the probability of ``edited_class`` on x'. ``n_candidates``/``n_flipping``: edits tried / that
    flipped the prediction (the kept one has the highest ``p_edited``, ties: first in the text)."""

    original: str
    edited: str
    kind: str
    description: str
    span: tuple[int, int]
    original_class: int
    edited_class: int
    p_edited: float
    n_candidates: int
    n_flipping: int


def contrast_pairs(model, texts: Sequence[str], max_candidates: int = 32) -> list[ContrastPair | str]:
    """One contrast pair per text, or a string saying why there is none; one batched forward pass
    over all texts and all their candidate edits (cached per model and text)."""
    if model.task_type != "classification":
        return ["contrast pairs need a classifier (a regression model has no prediction to flip)"] * len(texts)
    cache = _PAIRS.setdefault(model, {})
    todo = [t for t in dict.fromkeys(texts) if (t, max_candidates) not in cache]
    if todo:
        edits = {t: candidate_edits(t, max_candidates) for t in todo}
        inputs = [*todo, *(e.edited for t in todo for e in edits[t])]
        probs = model.predict_proba(inputs)
        pos = len(todo)
        for i, t in enumerate(todo):
            rows = probs[pos:pos + len(edits[t])]
            pos += len(edits[t])
            cache[(t, max_candidates)] = _choose(t, edits[t], probs[i], rows)
    return [cache[(t, max_candidates)] for t in texts]


def _choose(text: str, edits, p_original: np.ndarray, p_edits: np.ndarray) -> ContrastPair | str:
    if not edits:
        return "no candidate edit: no negatable auxiliary/sentiment word and no lexicon word to swap"
    c0 = int(np.argmax(p_original))
    classes = p_edits.argmax(axis=1)
    flipping = np.flatnonzero(classes != c0)
    if not flipping.size:
        return f"none of the {len(edits)} candidate edits flips the prediction"
    best = int(flipping[np.argmax(p_edits[flipping, classes[flipping]])])  # argmax: first on ties
    e, c1 = edits[best], int(classes[best])
    return ContrastPair(text, e.edited, e.kind, e.description, e.span, c0, c1, float(p_edits[best, c1]),
                        len(edits), int(flipping.size))


def explain_edited(model, attributions: Sequence, pairs: Sequence, indices: Sequence[int]) -> dict:
    """``{i: explanation of pairs[i].edited}`` for each ``i`` in ``indices``, by the explainer that
    made ``attributions[i]`` (same parameters), for the edited text's new prediction; a string
    saying why instead where that explainer cannot be rebuilt. One ``explain`` call per explainer
    configuration."""
    out: dict = {}
    groups: dict[str, list[int]] = {}
    for i in indices:
        groups.setdefault(explainer_key(attributions[i].explainer), []).append(i)
    # batched: one explain call per explainer configuration
    for members in groups.values():
        try:
            explainer = rebuild_explainer(attributions[members[0]].explainer)
        except ValueError as exc:
            out.update({i: str(exc) for i in members})
            continue
        explained = explainer.explain(model, [pairs[i].edited for i in members],
                                      targets=[pairs[i].edited_class for i in members])
        out.update(zip(members, explained))
    return out


class ContrastHit(Metric):
    """contrast_hit@k: share of contrast pairs whose edited span is among the top-k units of the
    explanation of the edited text.

    Definition: for each explained text x, its contrast pair (x, x') (see ``contrast_pairs``: the
    flipping edit with the highest probability of the new class) is explained with the same
    explainer and parameters, target = the model's prediction of x'; the value is 1 if any unit
    overlapping the edited span is among the k top-ranked units of that explanation (score
    descending, ties by position), else 0. The summary mean is the share of pairs with a hit.
    Reference: contrast sets, Gardner et al. 2020 (Findings of EMNLP). Range [0, 1]. Direction:
    higher is better. Random reference: 1 − C(n−m, k) / C(n, k) for n units of x', m of them edited.
    Undefined (NaN, with a note) when no single edit flips the prediction, for regression models,
    and for attributions whose explainer cannot be rebuilt. ``details`` keep each pair (original,
    edited text, edit, classes) and the top-k units for inspection.

    k is part of the name (``contrast_hit@3``, ``contrast_hit@1``: one registered subclass each, so
    tables never mix two k under one name). Parameter: ``max_candidates`` edits tried per text
    (default 32).
    """

    proportion = True  # a hit (1) or a miss (0) per example
    higher_is_better = True
    family = "ground_truth"
    reexplains = True
    k: ClassVar[int] = 3

    def __init__(self, max_candidates: int = 32) -> None:
        if isinstance(max_candidates, bool) or not isinstance(max_candidates, (int, np.integer)) or max_candidates < 1:
            raise ValueError(f"max_candidates must be a positive integer, got {max_candidates!r}")
        self.max_candidates = int(max_candidates)

    def evaluate(self, model, attributions: Sequence) -> MetricResult:
        pairs = contrast_pairs(model, [a.text for a in attributions], self.max_candidates)
        todo = [i for i, p in enumerate(pairs) if not isinstance(p, str)]
        edited = explain_edited(model, attributions, pairs, todo)
        scores = []
        for i, p in enumerate(pairs):
            result = p if isinstance(p, str) else edited[i]
            scores.append(ExampleScore.undefined(result, with_reference=True) if isinstance(result, str)
                          else self._hit(model, p, result))
        return MetricResult.from_scores(self, scores)

    def _hit(self, model, pair: ContrastPair, attribution) -> ExampleScore:
        units = model.units(pair.edited)
        edited = unit_mask(units, [pair.span])
        n, m = len(units), int(edited.sum())
        if not np.all(np.isfinite(attribution.scores)):
            return ExampleScore.undefined("non-finite attribution scores on the edited text", with_reference=True)
        top = top_k_mask(attribution.ranking(), self.k)
        k = int(top.sum())
        hit = bool((top & edited).any())
        reference = 1.0 - math.comb(n - m, k) / math.comb(n, k)
        details = {**asdict(pair), "span": list(pair.span),
                   "edited_units": [units[j].text for j in np.flatnonzero(edited)],
                   "top_k_units": [units[j].text for j in attribution.ranking()[:k]]}
        return ExampleScore(float(hit), reference, details=details)


@registry.metrics.register
class ContrastHitAt3(ContrastHit):
    __doc__ = ContrastHit.__doc__
    name = "contrast_hit@3"
    order = 22
    k = 3


@registry.metrics.register
class ContrastHitAt1(ContrastHit):
    __doc__ = ContrastHit.__doc__
    name = "contrast_hit@1"
    in_default_runs = False
    k = 1
