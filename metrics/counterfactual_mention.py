"""The counterfactual test of Atanasova et al. 2023 for sentence explanations: after an edit that
flips the prediction, does the explanation of the edited text mention the new word?"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from xaibench.core import registry
from xaibench.core.citations import cite, cited_units
from xaibench.core.references import unit_mask
from xaibench.metrics.base import ExampleScore, MetricResult
from xaibench.metrics.contrast import ContrastPair, contrast_pairs, explain_edited
from xaibench.metrics.sentence_base import NOT_A_SENTENCE, SentenceMetric, sentence_of


def mentions(sentence: str, pair: ContrastPair, units) -> bool:
    """True when ``sentence`` cites a unit of ``pair.edited`` that overlaps the edited span."""
    edited = unit_mask(units, [pair.span])
    return bool(any(edited[i] for i in cited_units(cite(sentence, pair.edited, units))))


@registry.metrics.register
class CounterfactualMention(SentenceMetric):
    """Share of prediction-flipping edits that the explanation of the edited text mentions.

    Definition: for each explained text x, the contrast pair (x, x') of ``contrast_hit@k``
    (``metrics/contrast.py``): the one-word edit that flips the model's prediction with the highest
    new-class probability (English: "not" inserted after an auxiliary, or an antonym / polarity
    swap of a sentiment word; Chinese: 不 / 没 inserted, or an antonym). The same explainer, with
    the same parameters, explains x' for its new prediction; the value is 1 if that sentence cites
    a unit of the new material (the inserted or swapped-in word), else 0. The inserted word
    changed the prediction, so a faithful explanation of x' should name it: Atanasova et al. 2023,
    "Faithfulness Tests for Natural Language Explanations", ACL (their counterfactual test, whose
    unfaithfulness rate is 1 − this value over the flipped predictions). Undefined (NaN, with a
    note) where no single edit flips the prediction, for regression models, and for explainers that
    cannot be rebuilt from their parameters. Range [0, 1]. Direction: higher is better.
    Reference row: the shuffled-explanation control (another pair's edited-text sentence, cited on
    this edited text). Parameters: ``max_candidates`` edits tried per text (default 32),
    ``n_shuffled``, ``seed``.
    """

    name = "counterfactual_mention"
    order = 39
    higher_is_better = True
    proportion = True
    reexplains = True

    def __init__(self, max_candidates: int = 32, n_shuffled: int = 3, seed: int = 0) -> None:
        super().__init__(n_shuffled=n_shuffled, seed=seed)
        if isinstance(max_candidates, bool) or not isinstance(max_candidates, (int, np.integer)) or max_candidates < 1:
            raise ValueError(f"max_candidates must be a positive integer, got {max_candidates!r}")
        self.max_candidates = int(max_candidates)

    def evaluate(self, model, attributions: Sequence) -> MetricResult:
        attributions = list(attributions)
        with_ref = self.n_shuffled > 0
        scores: list[ExampleScore | None] = [None] * len(attributions)
        pairs = contrast_pairs(model, [a.text for a in attributions], self.max_candidates)
        todo = []
        for i, (a, pair) in enumerate(zip(attributions, pairs)):
            if sentence_of(a) is None:
                scores[i] = ExampleScore.undefined(NOT_A_SENTENCE, with_reference=with_ref)
            elif isinstance(pair, str):
                scores[i] = ExampleScore.undefined(pair, with_reference=with_ref)
            else:
                todo.append(i)
        edited: dict[int, str] = {}   # attribution index -> sentence explaining its edited text
        for i, b in explain_edited(model, attributions, pairs, todo).items():
            if isinstance(b, str):  # the explainer cannot be rebuilt
                scores[i] = ExampleScore.undefined(b, with_reference=with_ref)
            else:
                edited[i] = sentence_of(b) or ""
        partners = self.partners(attributions)
        for i in edited:
            pair, units = pairs[i], model.units(pairs[i].edited)
            shuffled = [edited[int(p[i])] for p in partners if int(p[i]) in edited]
            reference = self.reference_of([float(mentions(s, pair, units)) for s in shuffled])
            scores[i] = ExampleScore(float(mentions(edited[i], pair, units)), reference,
                                     details={"original": pair.original, "edited": pair.edited,
                                              "edit": pair.description, "sentence": edited[i]})
        return MetricResult.from_scores(self, scores)
