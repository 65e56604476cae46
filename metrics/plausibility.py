"""Plausibility: agreement of an explanation with human-marked evidence (ERASER, DeYoung et al. 2020,
"ERASER: A Benchmark to Evaluate Rationalized NLP Models", ACL).

The human reference of an example is its rationale (``Example.rationale``: the user file's
``rationale`` column, ``|``-separated substrings of the text); a unit is a rationale unit when its
span overlaps an occurrence of a rationale piece. Plausibility is not faithfulness: a plausible
explanation looks like human reasoning, whether or not the model reasons that way.

- ``plausibility_auprc``: soft scores against the rationale (ERASER "AUPRC").
- ``plausibility_token_f1``, ``plausibility_iou``: the top-k units as a hard rationale (ERASER
  "token F1" and token-level IOU).
- ``lexicon_agreement_auprc``: a *proxy* for English text without rationales: agreement with
  human-rated sentiment words (VADER lexicon words with |valence| >= 1.5).

Examples without a reference give NaN with a note.
"""
from __future__ import annotations

import numpy as np
import regex

from xaibench.core import registry
from xaibench.metrics.base import ExampleScore
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

    def value(self, scores, ranking, mask) -> ExampleScore:
        n, m = len(mask), int(mask.sum())
        k = min(self.k or m, n)
        predicted = top_k_mask(ranking, k)
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
    """Token-level intersection over union of the top-k units and the human rationale units.

    Definition: |P ∩ R| / |P ∪ R| with P the k top-ranked units (k = |R| by default) and R the
    rationale units (ERASER's token-level IOU, DeYoung et al. 2020; ERASER further counts a span as
    matched when this exceeds 0.5, an aggregate this per-example value feeds). Range [0, 1].
    Direction: higher is better. Random reference: expected IOU of k random units. Undefined (NaN)
    without a rationale.
    """

    name = "plausibility_iou"
    order = 32
    reference_kind = "rationale"
    missing_note = NO_RATIONALE

    def from_overlap(self, overlap: int, k: int, m: int) -> float:
        return overlap / (k + m - overlap)


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
    order = 33
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
