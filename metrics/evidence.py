"""The base of metrics that compare an attribution with reference evidence: which of its units are
the known cause (``ground_truth_*``), the human rationale (``plausibility_*``) or a lexicon's
sentiment words (``lexicon_agreement_auprc``).

Such a metric needs no model calls: it ranks the attribution's units (score descending, ties by
position, as everywhere) and compares them with a boolean reference mask over the same units. Where
an example has no reference (a task without ground truth), the value is NaN with a note saying
so; summaries average finite values only and rankings skip metrics with no finite value, so a
metric that does not apply to a task neither crashes nor pollutes the tables.
"""
from __future__ import annotations

from typing import ClassVar, Sequence

import numpy as np

from xaibench.core.references import reference_spans, unit_mask
from xaibench.metrics.base import ExampleScore, Metric, MetricResult
from xaibench.metrics.removal import checked_units


class EvidenceMetric(Metric):
    """Scores each attribution against a reference mask; subclasses implement ``reference`` (or set
    ``reference_kind``) and ``value``.

    ``uses_reference``: the value depends on the example's reference (``metadata["reference"]``),
    which the benchmark session adds to the metric's cache key.
    """

    uses_reference: ClassVar[bool] = True
    family: ClassVar[str] = "ground_truth"
    reference_kind: ClassVar[str] = "cause"
    #: The note of an example without a reference of this kind.
    missing_note: ClassVar[str] = "no reference"

    def reference(self, model, attribution, units) -> np.ndarray | str:
        """Boolean mask over ``units`` (True = reference unit), or a string: why there is none."""
        spans = reference_spans(attribution, self.reference_kind)
        if not spans:
            return self.missing_note
        mask = unit_mask(units, spans)
        if not mask.any():
            return f"the {self.reference_kind} spans {spans} cover no unit of the text"
        return mask

    def value(self, scores: np.ndarray, ranking: np.ndarray, mask: np.ndarray) -> ExampleScore:
        raise NotImplementedError

    def value_of(self, attribution, units, scores: np.ndarray, ranking: np.ndarray,
                 mask: np.ndarray) -> ExampleScore:
        """The example's score; ``value(scores, ranking, mask)`` unless a metric needs more of the
        attribution than its reference mask (the span-level ``plausibility_iou_f1`` reads the
        reference spans)."""
        return self.value(scores, ranking, mask)

    def evaluate(self, model, attributions: Sequence) -> MetricResult:
        return MetricResult.from_scores(self, [self._one(model, a) for a in attributions])

    def score(self, model, attributions: Sequence) -> np.ndarray:
        return self.evaluate(model, attributions).values

    def _one(self, model, attribution) -> ExampleScore:
        units = checked_units(model, attribution)
        if not units:
            return ExampleScore.undefined("empty text: no units")
        mask = self.reference(model, attribution, units)
        if isinstance(mask, str):
            return ExampleScore.undefined(mask)
        scores = np.asarray(attribution.scores, dtype=float)
        if not np.all(np.isfinite(scores)):
            return ExampleScore.undefined("non-finite attribution scores: no ranking")
        return self.value_of(attribution, units, scores, attribution.ranking(), mask)


def top_k_mask(ranking: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask of the first ``k`` units of ``ranking`` (clipped to the number of units)."""
    mask = np.zeros(len(ranking), dtype=bool)
    mask[ranking[:max(0, min(int(k), len(ranking)))]] = True
    return mask
