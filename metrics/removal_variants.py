"""Removal variants of the faithfulness metrics: the same questions asked with another removal, so
one run can check whether the explainers' ranking survives a change of removal (the lead's
removal-agreement report pairs each variant with ``variant_of`` and reads ``removal``).

- ``comprehensiveness_mask``, ``sufficiency_mask``, ``deletion_auc_mask``, ``insertion_auc_mask``:
  the four removal metrics of ``faithfulness.py`` with ``mode="mask"`` by default (the removed units'
  sub-tokens replaced by the mask token) under their own names. Same definitions, same inputs:
  ``comprehensiveness_mask`` equals ``comprehensiveness(mode="mask")`` exactly.
- ``soft_comprehensiveness``, ``soft_sufficiency``: the soft erasure of Zhao & Aletras 2023: no unit
  is removed outright; the embedding vector of every unit's tokens loses a random share of its
  elements that grows with the unit's normalised importance (``SoftRemoval``). The model pass is
  ``xaibench.modeling.embedding_masks.masked_embedding_logits``.
"""
from __future__ import annotations

from typing import ClassVar, Sequence

import numpy as np

from xaibench.core import registry
from xaibench.core.seeding import stable_hash
from xaibench.metrics.base import ExampleScore, Metric, MetricResult
from xaibench.metrics.evaluation import DEFAULT_CHUNK_SIZE
from xaibench.metrics.faithfulness import (
    EMPTY_TEXT,
    NON_FINITE,
    Comprehensiveness,
    DeletionAUC,
    InsertionAUC,
    Sufficiency,
)
from xaibench.metrics.removal import check_n_random, checked_units, random_orderings
from xaibench.modeling import engine
from xaibench.modeling.embedding_masks import check_layer, masked_embedding_logits

#: The removal-variant names this module registers, by base metric.
MASK_VARIANTS = {"comprehensiveness": "comprehensiveness_mask", "sufficiency": "sufficiency_mask",
                 "deletion_auc": "deletion_auc_mask", "insertion_auc": "insertion_auc_mask"}


# ---- mask mode under its own names -------------------------------------------------------------------
class _MaskVariant:
    """Mixin: the base removal metric with ``mode="mask"`` as the default."""

    removal = "mask"
    in_default_runs = False

    def __init__(self, mode: str = "mask", fractions: Sequence[float] | None = None, n_random: int = 3,
                 seed: int = 0) -> None:
        super().__init__(mode=mode, fractions=fractions, n_random=n_random, seed=seed)


@registry.metrics.register
class ComprehensivenessMask(_MaskVariant, Comprehensiveness):
    """``comprehensiveness`` with mask removal: the removed units' sub-tokens become the tokenizer's
    mask token (its pad token if it has none) instead of being cut out of the text.

    Definition, reference (random orderings, ``n_random``), range and direction (higher is better):
    as ``comprehensiveness``; equal to ``comprehensiveness(mode="mask")``. Parameters as
    ``comprehensiveness``, with ``mode`` defaulting to "mask".
    """

    name = "comprehensiveness_mask"
    order = 15
    variant_of = "comprehensiveness"


@registry.metrics.register
class SufficiencyMask(_MaskVariant, Sufficiency):
    """``sufficiency`` with mask removal (every unit outside the top k masked).

    Definition, reference, range and direction (lower is better): as ``sufficiency``; equal to
    ``sufficiency(mode="mask")``. Parameters as ``sufficiency``, ``mode`` defaulting to "mask".
    """

    name = "sufficiency_mask"
    order = 16
    variant_of = "sufficiency"


@registry.metrics.register
class DeletionAUCMask(_MaskVariant, DeletionAUC):
    """``deletion_auc`` with mask removal (q = 1 is the all-masked input, not the empty text).

    Definition, reference, range and direction (lower is better): as ``deletion_auc``; equal to
    ``deletion_auc(mode="mask")``. Parameters as ``deletion_auc``, ``mode`` defaulting to "mask".
    """

    name = "deletion_auc_mask"
    order = 17
    variant_of = "deletion_auc"


@registry.metrics.register
class InsertionAUCMask(_MaskVariant, InsertionAUC):
    """``insertion_auc`` with mask removal (q = 0 is the all-masked input, not the empty text).

    Definition, reference, range and direction (higher is better): as ``insertion_auc``; equal to
    ``insertion_auc(mode="mask")``. Parameters as ``insertion_auc``, ``mode`` defaulting to "mask".
    """

    name = "insertion_auc_mask"
    order = 18
    variant_of = "insertion_auc"


# ---- soft erasure -----------------------------------------------------------------------------------
def importance_probabilities(scores: np.ndarray) -> np.ndarray:
    """Min-max normalised scores, one per unit, in [0, 1]: (s − min s) / (max s − min s). The most
    important unit gets 1, the least 0, and scores that are all equal give all 0 (no unit stands
    out, so none is perturbed). Signed scores are normalised as they are: a unit that opposes the
    explained output ranks below every unit that supports it, as in the hard metrics' ranking."""
    s = np.asarray(scores, dtype=float).reshape(-1)
    if s.size == 0:
        return s
    low, high = float(s.min()), float(s.max())
    if not high > low:
        return np.zeros_like(s)
    return np.clip((s - low) / (high - low), 0.0, 1.0)


class SoftRemoval(Metric):
    """Base of the soft metrics: f(x), the null input and, for ``n_samples`` draws, the input whose
    embeddings are masked with drop probabilities from the attribution (and from ``n_random`` random
    re-assignments of them), all through one masked pass per chunk of examples.

    Subclasses set ``keep_important`` (False: a unit's elements are dropped with probability p, its
    normalised importance; True: with probability 1 − p).
    """

    keep_important: ClassVar[bool] = False
    family = "faithfulness"
    removal = "soft"
    in_default_runs = False
    reference_param = "n_random"
    profile_params = {"smoke": {"n_samples": 2}}

    def __init__(self, n_samples: int = 5, n_random: int = 3, seed: int = 0, layer: str = "embeddings") -> None:
        if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
            raise ValueError(f"n_samples must be an integer >= 1, got {n_samples!r}")
        self.n_samples = int(n_samples)
        self.n_random = check_n_random(n_random)
        self.seed = seed
        self.layer = check_layer(layer)

    def shared_inputs(self, model, text: str) -> tuple:
        """f(x): the unmasked text, shared with every other metric."""
        return (text,) if model.units(text) else ()

    def evaluate(self, model, attributions: Sequence) -> MetricResult:
        attributions = list(attributions)
        scores: list[ExampleScore] = []
        # batched: one f(x) pass and one masked pass per chunk of examples
        for start in range(0, len(attributions), DEFAULT_CHUNK_SIZE):
            scores.extend(self._score_chunk(model, attributions[start:start + DEFAULT_CHUNK_SIZE]))
        return MetricResult.from_scores(self, scores)

    def drop_probabilities(self, unit_probs: np.ndarray, token_units: np.ndarray) -> np.ndarray:
        """Per token: the drop probability of its unit (p, or 1 − p when ``keep_important``); 0 for
        special tokens and any token outside every unit."""
        on_unit = token_units >= 0
        p = np.where(on_unit, unit_probs[np.maximum(token_units, 0)], 0.0)
        return np.where(on_unit, 1.0 - p, 0.0) if self.keep_important else p

    def _score_chunk(self, model, chunk: list) -> list[ExampleScore]:
        out: list[ExampleScore | None] = [None] * len(chunk)
        live = []
        for i, a in enumerate(chunk):
            units = checked_units(model, a)
            if not units:
                out[i] = ExampleScore.undefined(EMPTY_TEXT, with_reference=self.n_random > 0)
            elif not np.all(np.isfinite(a.scores)):
                out[i] = ExampleScore.undefined(NON_FINITE, with_reference=self.n_random > 0)
            else:
                live.append(i)
        if not live:
            return out
        texts = [chunk[i].text for i in live]
        f_x_logits = engine.forward_logits(model, texts)
        ids, maps = model.encode(texts)
        row_ids, row_probs, row_keys, spans = [], [], [], []
        for pos, i in enumerate(live):
            a, token_units = chunk[i], np.asarray(maps[pos], dtype=np.int64)
            probs = importance_probabilities(a.scores)
            vectors = [probs] + [probs[order] for order in random_orderings(a.text, len(probs), self.n_random,
                                                                            self.seed)]
            keys = [stable_hash("soft-removal", self.seed, a.text, j) for j in range(self.n_samples)]
            start = len(row_ids)
            # the null input: every unit's tokens dropped entirely (a fixed mask: no draws)
            row_ids.append(ids[pos])
            row_probs.append((token_units >= 0).astype(np.float32))
            row_keys.append(keys[0])
            for vector in vectors:
                drop = self.drop_probabilities(vector, token_units)
                for key in keys:
                    row_ids.append(ids[pos])
                    row_probs.append(drop)
                    row_keys.append(key)
            spans.append((start, len(row_ids)))
        logits = masked_embedding_logits(model, row_ids, row_probs, row_keys, layer=self.layer)
        for pos, (i, (start, end)) in enumerate(zip(live, spans)):
            a = chunk[i]
            targets = np.full(end - start, int(a.target))
            f = np.asarray(model.output_from_logits(logits[start:end], targets, a.output), dtype=float)
            f_x = float(model.output_from_logits(f_x_logits[pos:pos + 1], targets[:1], a.output)[0])
            out[i] = self._score(a, f_x, float(f[0]), f[1:].reshape(1 + self.n_random, self.n_samples))
        return out

    def _score(self, attribution, f_x: float, f_null: float, perturbed: np.ndarray) -> ExampleScore:
        drops = f_x - perturbed  # [1 + n_random, n_samples]: f(x) − f(x') per assignment and draw
        reference = float(drops[1:].mean()) if self.n_random else None
        details = {"f_x": f_x, "f_null": f_null, "per_sample": drops[0].tolist(),
                   "normalized": self._normalized(attribution, f_x - f_null, drops[0])}
        return ExampleScore(float(drops[0].mean()), reference, None, None, details)

    def _normalized(self, attribution, null_drop: float, drops: np.ndarray) -> float | None:
        """Soft-NC / Soft-NS of the paper (mean over the draws), for probabilities only, and only
        where the null input lowers f (else the normaliser is 0 or negative)."""
        if attribution.output != "prob" or not null_drop > 0:
            return None
        ratio = np.maximum(0.0, drops) / null_drop
        return float(np.mean(np.clip(1.0 - ratio if self.keep_important else ratio, 0.0, 1.0)))


@registry.metrics.register
class SoftComprehensiveness(SoftRemoval):
    """Soft comprehensiveness: how much the output drops when each unit's embedding loses a random
    share of its elements equal to the unit's normalised importance.

    Definition: mean over ``n_samples`` (default 5) draws of f(x) − f(x̃), where x̃ is x with element
    d of every token t of unit u zeroed when U[t, d] < p_u: p = min-max normalised scores
    ((s − min s)/(max s − min s); all 0 when the scores are all equal), U uniform draws seeded from
    (seed, text, draw), every sub-token of a unit sharing its p, special tokens never touched. The
    most important unit is removed entirely (p = 1), the least not at all (p = 0). The mask applies
    to the output of the embedding module (word + position embeddings after LayerNorm, the encoder's
    input), as in the authors' code; ``layer="word"`` masks the word embeddings before position
    embeddings and LayerNorm instead. f = p(target class) for classifiers, ŷ/σ for regression.
    Reported un-normalised, in the orientation and units of ``comprehensiveness`` (so the two rank
    explainers comparably, for regression and logits too, with no division by a near-zero null
    drop); the paper's normalised form Soft-NC = mean over draws of clip(max(0, f(x) − f(x̃)) /
    (f(x) − f(x∅)), 0, 1), with x∅ the null input (every unit's tokens zeroed, p = 1), is in
    ``details["normalized"]`` (probability outputs with f(x) > f(x∅); None otherwise).
    Reference: Zhao & Aletras 2023, "Incorporating Attribution Importance for Improving Faithfulness
    Metrics", ACL (one draw there; Carton et al. 2020 for the normalisation). Random reference: the
    same metric with the attribution's probabilities given to the units in a random order (the
    ``n_random`` seeded orderings of ``comprehensiveness``, default 3; 0 disables it), same draws.
    Range: [-1, 1] for probabilities; unbounded for logits and regression. Direction: higher is better.

    Parameters: ``n_samples``; ``n_random``; ``seed`` (default 0); ``layer`` "embeddings" (default)
    or "word".
    """

    name = "soft_comprehensiveness"
    order = 19
    higher_is_better = True
    keep_important = False
    variant_of = "comprehensiveness"


@registry.metrics.register
class SoftSufficiency(SoftRemoval):
    """Soft sufficiency: how much the output drops when each unit's embedding keeps a random share of
    its elements equal to the unit's normalised importance (and loses the rest).

    Definition: mean over ``n_samples`` (default 5) draws of f(x) − f(x̃), where x̃ is x with element
    d of every token t of unit u zeroed when U[t, d] < 1 − p_u (p, U, the layer and f as in
    ``soft_comprehensiveness``: the most important unit is kept whole, the least removed entirely).
    Reported un-normalised, in the orientation and units of ``sufficiency``; the paper's Soft-NS =
    mean over draws of clip(1 − max(0, f(x) − f(x̃)) / (f(x) − f(x∅)), 0, 1) is in
    ``details["normalized"]`` (higher is better there).
    Reference: Zhao & Aletras 2023, ACL. Random reference: as ``soft_comprehensiveness``.
    Range: [-1, 1] for probabilities (negative: the soft-kept input supports the target more than x);
    unbounded for logits and regression. Direction: lower is better.

    Parameters: as ``soft_comprehensiveness``.
    """

    name = "soft_sufficiency"
    order = 19
    higher_is_better = False
    keep_important = True
    variant_of = "sufficiency"
