"""Hallucinated evidence: does a sentence cite words that are in the text it explains?"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from xaibench.core import registry
from xaibench.core.citations import cite
from xaibench.metrics.base import MetricResult
from xaibench.metrics.removal import checked_units
from xaibench.metrics.sentence_base import SentenceMetric, sentence_of

CITES_NOTHING = "the sentence cites nothing (no quoted piece, no content word)"


def precision(sentence: str, text: str, units) -> float:
    """Share of the distinct pieces ``sentence`` cites that occur in ``text`` (NaN: cites none)."""
    citations = cite(sentence, text, units)
    return float(np.mean([c.found for c in citations])) if citations else float("nan")


@registry.metrics.register
class CitationPrecision(SentenceMetric):
    """Share of the evidence a sentence cites that is really in the input.

    Definition: of the distinct pieces the explanation sentence cites (each quoted span, or each
    content word when it quotes nothing; ``xaibench.core.citations``), the share that occurs in
    the explained text as a whole sequence of units (case-insensitive, no stemming). 1 = every
    cited word is in the input; 1 − value is the share of hallucinated evidence. Undefined (NaN,
    with a note) for a sentence that cites nothing. Range [0, 1]. Direction: higher is better.
    No model call. Reference row: the shuffled-explanation control (another text's sentence,
    whose pieces occur in this text by chance only). Parameters: ``n_shuffled``, ``seed``.
    """

    name = "citation_precision"
    order = 37
    higher_is_better = True

    def evaluate(self, model, attributions: Sequence) -> MetricResult:
        attributions = list(attributions)
        units = {i: checked_units(model, a) for i, a in enumerate(attributions) if sentence_of(a) is not None}
        return self.per_sentence(attributions, lambda i, s: precision(s, attributions[i].text, units[i]),
                                 note=lambda i, s, v: CITES_NOTHING if np.isnan(v) else None)
