"""Faithfulness of what a sentence cites: ERASER's hard-rationale comprehensiveness and sufficiency
with the cited units as the rationale.

For a sentence explanation of x (``metrics/sentence_base.py``), C is the set of units it cites
(``xaibench.core.citations.cite``: every occurrence of every quoted or named piece), k = |C|.
Removal follows the default ``delete`` rule of docs/api.md; f is the attribution's explained
output (p(target class) for classifiers, ŷ/σ for regression). A sentence that cites nothing of
the text has C = ∅: comprehensiveness 0 (removing nothing changes nothing) and sufficiency
f(x) − f(empty text), the values of an explanation that points at no evidence.
"""
from __future__ import annotations

from typing import ClassVar, Sequence

import numpy as np

from xaibench.core import registry
from xaibench.core.citations import cite, cited_units
from xaibench.metrics.base import ExampleScore, Request
from xaibench.metrics.removal import checked_units, perturber_for
from xaibench.metrics.sentence_base import NOT_A_SENTENCE, SentenceMetric, sentence_of


class CitedRemoval(SentenceMetric):
    """f(x) − f(edit(x, C)): ``keep_cited`` False removes C, True keeps only C (in original
    order). The shuffled control uses the units another text's sentence cites in x."""

    keep_cited: ClassVar[bool] = False
    removal: ClassVar[str] = "delete"

    def chunk_requests(self, model, attributions: Sequence) -> list[Request]:
        partners = self.partners(attributions)
        out = []
        for i, a in enumerate(attributions):
            sentence = sentence_of(a)
            if sentence is None:
                out.append(Request(outcome=ExampleScore.undefined(NOT_A_SENTENCE, with_reference=self.n_shuffled > 0)))
                continue
            units = checked_units(model, a)
            if not units:
                out.append(Request(outcome=ExampleScore.undefined("empty text: no units",
                                                                  with_reference=self.n_shuffled > 0)))
                continue
            perturber = perturber_for(model, a.text, units, "delete")
            edit = perturber.only if self.keep_cited else perturber.without
            cited = cited_units(cite(sentence, a.text, units))
            others = [cited_units(cite(s, a.text, units)) for s in self.partner_sentences(attributions, partners, i)]
            inputs = (perturber.original(), edit(cited), *(edit(c) for c in others))
            out.append(Request(inputs, state={"k": len(cited), "n_units": len(units),
                                              "k_shuffled": [len(c) for c in others]}))
        return out

    def compute(self, model, attribution, request: Request, outputs: np.ndarray) -> ExampleScore:
        f_x = float(outputs[0])
        drops = f_x - np.asarray(outputs[1:], dtype=float)
        reference = self.reference_of(drops[1:])
        if reference is not None and np.isnan(reference) and len(drops) == 1:
            note = "no other text in the chunk to shuffle with"
        else:
            note = None
        return ExampleScore(float(drops[0]), reference, note=note, details=dict(request.state, f_x=f_x))


@registry.metrics.register
class CitedComprehensiveness(CitedRemoval):
    """How much the output drops when the units the sentence cites are removed.

    Definition: f(x) − f(x without C), C = the units the explanation sentence cites (every
    occurrence of every cited piece), k = |C|; f = p(target class) for classifiers, ŷ/σ for
    regression. ERASER's comprehensiveness for a hard rationale (DeYoung et al. 2020, "ERASER: A
    Benchmark to Evaluate Rationalized NLP Models", ACL), the rationale being what the sentence
    cites. Range [−1, 1] for probabilities. Direction: higher is better.
    Reference row: the shuffled-explanation control (``metrics/sentence_base.py``).
    Parameters: ``n_shuffled`` (default 3), ``seed``.
    """

    name = "cited_comprehensiveness"
    order = 35
    higher_is_better = True
    keep_cited = False


@registry.metrics.register
class CitedSufficiency(CitedRemoval):
    """How much the output drops when only the units the sentence cites are kept.

    Definition: f(x) − f(only C, in original order), C and f as for ``cited_comprehensiveness``.
    ERASER's sufficiency for a hard rationale (DeYoung et al. 2020, ACL). Range [−1, 1] for
    probabilities (negative: the cited units alone support the output more than x does).
    Direction: lower is better. Reference row: the shuffled-explanation control.
    Parameters: ``n_shuffled`` (default 3), ``seed``.
    """

    name = "cited_sufficiency"
    order = 36
    higher_is_better = False
    keep_cited = True
