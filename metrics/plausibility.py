"""Plausibility: agreement of an explanation with human-marked evidence (ERASER, DeYoung et al. 2020,
"ERASER: A Benchmark to Evaluate Rationalized NLP Models", ACL).

The human reference of an example is its rationale: ``Example.rationale`` pieces (every
occurrence of the piece that starts and ends at unit boundaries) and ``Example.rationale_spans``
(exact character spans), resolved by ``xaibench.core.references.rationale_spans``; in a user file,
the ``rationale`` column (``xaibench.datasets.user_file.parse_rationale``). A unit is a rationale
unit when its span overlaps a rationale span. Plausibility is not faithfulness: a plausible
explanation looks like human reasoning, whether or not the model reasons that way.

- ``plausibility_auprc``: soft scores against the rationale units (ERASER "AUPRC").
- ``plausibility_token_f1``, ``plausibility_iou``: the top-k units as a hard rationale against the
  rationale units (ERASER "token F1"; token-level Jaccard).
- ``plausibility_iou_f1``: the top-k units as predicted *spans* against the rationale spans
  (ERASER "IOU F1", the partial span match); ``iou_f1_micro`` / ``iou_f1_macro`` pool it.
- ``lexicon_agreement_auprc``: a *proxy* for English text without rationales: agreement with
  human-rated sentiment words (VADER lexicon words with |valence| >= 1.5).

Examples without a reference give NaN with a note.
"""
from __future__ import annotations

import numpy as np
import regex

from xaibench.core import registry
from xaibench.core.references import reference_spans, unit_ranges
from xaibench.metrics.base import ExampleScore, MetricResult
from xaibench.metrics.evidence import EvidenceMetric, top_k_mask

NO_RATIONALE = "no human rationale for this example (give one in a 'rationale' column)"


def auprc(reference: np.ndarray, scores: np.ndarray) -> float:
    """ERASER's AUPRC of one example: ``sklearn.metrics.auc(recall, precision)`` (trapezoidal) of
    ``precision_recall_curve(reference, scores)``, which starts at (recall 0, precision 1) and has
    one point per distinct score threshold. Needs at least one reference unit."""
    from sklearn.metrics import auc, precision_recall_curve

    precision, recall, _ = precision_recall_curve(np.asarray(reference, dtype=int), np.asarray(scores, dtype=float))
    return float(auc(recall, precision))


class _AUPRC(EvidenceMetric):
    family = "plausibility"
    higher_is_better = True

    def value(self, scores, ranking, mask) -> ExampleScore:
        return ExampleScore(auprc(mask, scores), None,
                            details={"reference_units": np.flatnonzero(mask).tolist()})


class _HardRationale(EvidenceMetric):
    family = "plausibility"
    """Top-k units as the predicted rationale; k = the number of reference units by default."""

    higher_is_better = True

    def __init__(self, k: int | None = None) -> None:
        if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1):
            raise ValueError(f"k must be a positive integer or None (= number of rationale units), got {k!r}")
        self.k = k

    def top_k(self, ranking, mask) -> tuple[int, np.ndarray]:
        """(k, mask of the k top-ranked units): the predicted hard rationale."""
        k = min(self.k or int(mask.sum()), len(mask))
        return k, top_k_mask(ranking, k)

    def value(self, scores, ranking, mask) -> ExampleScore:
        n, m = len(mask), int(mask.sum())
        k, predicted = self.top_k(ranking, mask)
        overlap = int((predicted & mask).sum())
        details = {"k": k, "predicted_units": np.flatnonzero(predicted).tolist(),
                   "reference_units": np.flatnonzero(mask).tolist()}
        return ExampleScore(self.from_overlap(overlap, k, m), self.random_reference(n, k, m), details=details)

    def from_overlap(self, overlap: int, k: int, m: int) -> float:
        raise NotImplementedError

    def random_reference(self, n: int, k: int, m: int) -> float:
        """Expected value when the top k are a uniformly random k of the n units (the overlap is
        hypergeometric)."""
        from scipy.stats import hypergeom

        xs = np.arange(0, min(k, m) + 1)
        p = hypergeom(n, m, k).pmf(xs)
        return float(sum(pi * self.from_overlap(int(x), k, m) for x, pi in zip(xs, p)))


@registry.metrics.register
class PlausibilityAUPRC(_AUPRC):
    """ERASER AUPRC: area under the precision-recall curve of the unit scores against the human
    rationale units.

    Definition: per example, ``auc(recall, precision)`` of sklearn's ``precision_recall_curve``
    with the rationale units as positives and the attribution scores as the decision values (one
    curve point per distinct score, trapezoidal area), as in ERASER's ``_auprc`` and ferret.
    Reference: DeYoung et al. 2020, ERASER, ACL. Range [0, 1]. Direction: higher is better.
    Undefined (NaN, with a note) without a rationale.
    """

    name = "plausibility_auprc"
    order = 30
    reference_kind = "rationale"
    missing_note = NO_RATIONALE


@registry.metrics.register
class PlausibilityTokenF1(_HardRationale):
    """ERASER token F1 of the top-k units against the human rationale units.

    Definition: P = the k top-ranked units (score descending, ties by position), R = the rationale
    units; precision = |P ∩ R| / |P|, recall = |P ∩ R| / |R|, F1 = their harmonic mean (0 when
    P ∩ R is empty), per example. k = |R| by default (ERASER takes a dataset-wide average rationale
    length; a per-example metric uses the example's own), so precision = recall = F1; pass ``k``
    for a fixed k. Reference: DeYoung et al. 2020, ERASER, ACL. Range [0, 1]. Direction: higher is
    better. Random reference: expected F1 of k random units. Undefined (NaN) without a rationale.
    """

    name = "plausibility_token_f1"
    order = 31
    reference_kind = "rationale"
    missing_note = NO_RATIONALE

    def from_overlap(self, overlap: int, k: int, m: int) -> float:
        return 2.0 * overlap / (k + m)  # = 2PR / (P + R) with P = overlap/k, R = overlap/m


@registry.metrics.register
class PlausibilityIOU(_HardRationale):
    """Token-level intersection over union (Jaccard index) of the top-k units and the human
    rationale units, per example.

    Definition: |P ∩ R| / |P ∪ R| with P the k top-ranked units (score descending, ties by
    position; k = |R| by default) and R the rationale units. This is *not* ERASER's "IOU" score:
    ERASER's IOU F1 matches spans (``plausibility_iou_f1``). Range [0, 1]. Direction: higher is
    better. Random reference: expected IOU of k random units. Undefined (NaN) without a rationale.
    """

    name = "plausibility_iou"
    order = 32
    reference_kind = "rationale"
    missing_note = NO_RATIONALE

    def from_overlap(self, overlap: int, k: int, m: int) -> float:
        return overlap / (k + m - overlap)


@registry.metrics.register
class PlausibilityIOUF1(_HardRationale):
    """ERASER's IOU F1 (partial span match) of the top-k units against the human rationale spans.

    Definition, per example: the predicted spans are the maximal runs of consecutive units (by
    unit index) among the k top-ranked units (score descending, ties by position; k = the number
    of rationale units by default, as for ``plausibility_token_f1``; pass ``k`` for a fixed k). The
    gold spans are the distinct unit ranges of the rationale spans (each unit-aligned occurrence of
    a piece, each given offset span: one span each, even when two touch). IOU(a, b) = |a ∩ b| /
    |a ∪ b| in units. As ERASER's ``partial_match_score`` counts: a predicted span is a match when
    its best IOU with any gold span is >= ``threshold`` (0.5); with M the number of matches,
    precision = M / (predicted spans) and recall = M / (gold spans) (ERASER uses the same count M
    for both), F1 = 2PR / (P + R), 0 when M = 0. The value is the example's F1, so the summary
    mean is the macro average of per-example F1 (ERASER's macro F1 is instead the F1 of the mean
    precision and mean recall: ``iou_f1_macro``); ``iou_f1_micro`` pools the counts over
    examples. ``details`` hold the spans and counts. Reference: DeYoung et al. 2020, ERASER, ACL
    (IOU F1, threshold 0.5). Range [0, 1]. Direction: higher is better. No random reference.
    Undefined (NaN) without a rationale.
    """

    name = "plausibility_iou_f1"
    order = 33
    reference_kind = "rationale"
    missing_note = NO_RATIONALE

    def __init__(self, k: int | None = None, threshold: float = 0.5) -> None:
        super().__init__(k)
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
            raise ValueError(f"threshold must be a number in (0, 1], got {threshold!r}")
        self.threshold = float(threshold)

    def value_of(self, attribution, units, scores, ranking, mask) -> ExampleScore:
        gold = unit_ranges(units, reference_spans(attribution, self.reference_kind))
        k, predicted_mask = self.top_k(ranking, mask)
        predicted = unit_runs(predicted_mask)
        matched = partial_matches(predicted, gold, self.threshold)
        precision, recall = matched / len(predicted), matched / len(gold)
        details = {"k": k, "predicted_spans": [list(p) for p in predicted], "gold_spans": [list(g) for g in gold],
                   "n_matched": matched, "n_predicted": len(predicted), "n_gold": len(gold),
                   "precision": precision, "recall": recall}
        return ExampleScore(f1(precision, recall), None, details=details)


def unit_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """The maximal runs of consecutive True entries of ``mask`` as unit ranges ``(start, end)``
    (end exclusive), in order."""
    runs, start = [], None
    for i, selected in enumerate(list(mask) + [False]):
        if selected and start is None:
            start = i
        elif not selected and start is not None:
            runs.append((start, i))
            start = None
    return runs


def span_iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    """|a ∩ b| / |a ∪ b| of two unit ranges ``(start, end)``."""
    overlap = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - overlap
    return overlap / union if union else 0.0


def partial_matches(predicted, gold, threshold: float = 0.5) -> int:
    """How many ``predicted`` spans have a best IOU with the ``gold`` spans of at least
    ``threshold`` (ERASER's true positives of the partial span match)."""
    return sum(max((span_iou(p, g) for g in gold), default=0.0) >= threshold for p in predicted)


def f1(precision: float, recall: float) -> float:
    """Harmonic mean of precision and recall; 0 when either is 0 (as ERASER's ``_f1``)."""
    return 0.0 if precision == 0 or recall == 0 else 2 * precision * recall / (precision + recall)


def _iou_f1_details(result: MetricResult) -> list[dict]:
    """The per-example details of the examples where ``result`` (of ``plausibility_iou_f1``) is
    defined."""
    if result.name != PlausibilityIOUF1.name:
        raise ValueError(f"expected a result of {PlausibilityIOUF1.name!r}, got {result.name!r}")
    details = result.details or [None] * len(result)
    return [d for v, d in zip(result.values, details) if np.isfinite(v) and d]


def iou_f1_micro(result: MetricResult) -> dict:
    """ERASER's micro IOU F1 over the examples of a ``plausibility_iou_f1`` result (those where it
    is defined): counts pooled over examples, precision = Σ matches / Σ predicted spans, recall =
    Σ matches / Σ gold spans, F1 of those. ``{"precision", "recall", "f1", "n_examples"}``; NaN
    when no example is defined. Use:
    ``iou_f1_micro(xb.get_metric("plausibility_iou_f1").evaluate(model, attributions))``."""
    rows = _iou_f1_details(result)
    if not rows:
        return {"precision": float("nan"), "recall": float("nan"), "f1": float("nan"), "n_examples": 0}
    matched = sum(d["n_matched"] for d in rows)
    precision = matched / sum(d["n_predicted"] for d in rows)
    recall = matched / sum(d["n_gold"] for d in rows)
    return {"precision": precision, "recall": recall, "f1": f1(precision, recall), "n_examples": len(rows)}


def iou_f1_macro(result: MetricResult) -> dict:
    """Macro averages of a ``plausibility_iou_f1`` result over its defined examples:
    ``mean_f1`` = mean of the per-example F1 (= ``result.mean()``, the summary tables' mean);
    ``precision`` / ``recall`` = means of the per-example precision / recall, and ``f1_of_means`` =
    their harmonic mean (ERASER's ``partial_match_score`` macro F1). Also ``n_examples``; NaN
    when no example is defined."""
    rows = _iou_f1_details(result)
    if not rows:
        nan = float("nan")
        return {"precision": nan, "recall": nan, "f1_of_means": nan, "mean_f1": nan, "n_examples": 0}
    precision = float(np.mean([d["precision"] for d in rows]))
    recall = float(np.mean([d["recall"] for d in rows]))
    return {"precision": precision, "recall": recall, "f1_of_means": f1(precision, recall),
            "mean_f1": result.mean(), "n_examples": len(rows)}


_CJK = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}]")


@registry.metrics.register
class LexiconAgreementAUPRC(_AUPRC):
    """Agreement with human-rated sentiment words: AUPRC of the unit scores against the units the
    VADER lexicon rates with |valence| >= 1.5 (a proxy for a human rationale; English only).

    Definition: as ``plausibility_auprc``, with the reference units = units whose lower-cased text
    is a VADER lexicon entry with |mean human valence| >= ``min_valence`` (default 1.5, on the
    lexicon's [-4, 4] scale). The lexicon rates words out of context, so this measures agreement with
    "words people find emotional", not with a rationale for this text and label. Reference: Hutto &
    Gilbert 2014, VADER, ICWSM (lexicon); DeYoung et al. 2020, ERASER (AUPRC). Range [0, 1].
    Direction: higher is better. Undefined (NaN, with a note) for non-English text and for texts
    without such a word.
    """

    name = "lexicon_agreement_auprc"
    order = 34
    uses_reference = False  # the reference comes from the text itself

    def __init__(self, min_valence: float = 1.5) -> None:
        if not 0 < float(min_valence) <= 4:
            raise ValueError(f"min_valence must be in (0, 4], got {min_valence!r}")
        self.min_valence = float(min_valence)

    def reference(self, model, attribution, units):
        from xaibench.datasets.vader_lexicon import vader_lexicon

        if _CJK.search(attribution.text):
            return "the VADER lexicon is English: no sentiment-word reference for this text"
        lexicon = vader_lexicon()
        mask = np.array([abs(lexicon.get(u.text.lower(), 0.0)) >= self.min_valence for u in units])
        if not mask.any():
            return f"no word of the text has |valence| >= {self.min_valence:g} in the VADER lexicon"
        return mask
