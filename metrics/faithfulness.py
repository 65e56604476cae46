"""Removal-based faithfulness metrics: ERASER comprehensiveness / sufficiency and the deletion /
insertion curves (exact definitions in docs/api.md). ``loo_correlation`` lives in ``loo.py``.

All four share one request builder (``RemovalMetric``): for the attribution's ranking and for
``n_random`` seeded random orderings of the same units, the input "x without its top-k units" (or
"only its top-k units") at every fraction q, plus x itself. They differ only in which of the two
edits they ask for and in how a curve becomes a number (AOPC mean or trapezoidal area).

Notation: f(x) is the attribution's explained output (``model.output_from_logits`` with its target
and ``output``): for classifiers the target-class probability p(x) (any class index can be the
target; ``output="logit"`` explains its logit instead); for regression models f(x) = ŷ(x)/σ, the
prediction divided by σ, the standard deviation of the training targets stored with the model
(``config.xaibench_target_std``), so values are unit-free (in units of σ) and comparable across
rating scales. Units are ``model.units(text)`` ordered by score descending (for regression: the
units that push ŷ up rank first), ties by position; k = ceil(q·n) with a tolerant ceil
(``removal.top_k_count``). The formulas below are the same for both task types.
"""
from __future__ import annotations

from typing import ClassVar, Sequence

import numpy as np

from xaibench.core import registry
from xaibench.metrics.base import ExampleScore, Metric, Request
from xaibench.metrics.removal import (
    AOPC_FRACTIONS,
    CURVE_FRACTIONS,
    check_fractions,
    check_mode,
    check_n_random,
    checked_units,
    perturber_for,
    random_orderings,
    top_k_count,
    unit_orderings,
)

EMPTY_TEXT = "empty text: no units to remove"
NON_FINITE = "non-finite attribution scores: no ranking"


class RemovalMetric(Metric):
    """Base of the curve metrics: asks for f(x) and for f(edit(x, top-k)) at every fraction, for the
    attribution's ordering and for ``n_random`` random orderings (the "vs random" reference).

    Subclasses set ``keep_top`` (False: x without its top-k units; True: only its top-k units),
    ``default_fractions`` and ``aggregate``.
    """

    keep_top: ClassVar[bool] = False
    default_fractions: ClassVar[tuple[float, ...]] = AOPC_FRACTIONS
    family = "faithfulness"
    reference_param = "n_random"
    removal: ClassVar[str] = "delete"  # the default ``mode`` (the fact the removal-agreement report reads)
    is_curve: ClassVar[bool] = False

    def __init__(self, mode: str = "delete", fractions: Sequence[float] | None = None, n_random: int = 3,
                 seed: int = 0) -> None:
        fractions = self.default_fractions if fractions is None else fractions
        self.mode = check_mode(mode)
        self.fractions = check_fractions(fractions, curve=self.is_curve)
        self.n_random = check_n_random(n_random)
        self.seed = seed

    def requests(self, model, attribution) -> Request:
        units = checked_units(model, attribution)
        n = len(units)
        if n == 0:
            return Request(outcome=ExampleScore.undefined(EMPTY_TEXT, with_reference=self.n_random > 0))
        if not np.all(np.isfinite(attribution.scores)):
            return Request(outcome=ExampleScore.undefined(NON_FINITE, with_reference=self.n_random > 0))
        perturber = perturber_for(model, attribution.text, units, self.mode)
        edit = perturber.only if self.keep_top else perturber.without
        ks = [top_k_count(q, n) for q in self.fractions]
        inputs = [perturber.original()]
        for order in unit_orderings(attribution, self.n_random, self.seed):
            inputs.extend(edit(order[:k]) for k in ks)
        return Request(tuple(inputs), state=ks)

    def shared_inputs(self, model, text: str) -> tuple:
        """x and the random orderings' edits: the same for every explainer of ``text``."""
        units = model.units(text)
        if not units:
            return ()
        perturber = perturber_for(model, text, units, self.mode)
        edit = perturber.only if self.keep_top else perturber.without
        ks = [top_k_count(q, len(units)) for q in self.fractions]
        orders = random_orderings(text, len(units), self.n_random, self.seed)
        return (perturber.original(), *(edit(order[:k]) for order in orders for k in ks))

    def compute(self, model, attribution, request: Request, outputs: np.ndarray) -> ExampleScore:
        f_x = float(outputs[0])
        curves = np.asarray(outputs[1:], dtype=float).reshape(1 + self.n_random, len(self.fractions))
        values = [self.aggregate(f_x, curve) for curve in curves]
        curve = {"fractions": list(self.fractions), "k": list(request.state), "values": curves[0].tolist(),
                 "f_x": f_x}
        reference = None
        if self.n_random:
            reference = float(np.mean(values[1:]))
            curve["random_values"] = curves[1:].mean(axis=0).tolist()
        return ExampleScore(float(values[0]), reference, curve)

    def aggregate(self, f_x: float, curve: np.ndarray) -> float:
        raise NotImplementedError


class _AOPC(RemovalMetric):
    """AOPC (area over the perturbation curve, ERASER): mean over q of f(x) − f(edit_q(x))."""

    def aggregate(self, f_x: float, curve: np.ndarray) -> float:
        return float(np.mean(f_x - curve))


class _CurveArea(RemovalMetric):
    """Trapezoidal area under f(edit_q(x)) over the fractions (not normalised by their span)."""

    default_fractions = CURVE_FRACTIONS
    is_curve = True

    def aggregate(self, f_x: float, curve: np.ndarray) -> float:
        return float(np.trapezoid(curve, np.asarray(self.fractions)))


@registry.metrics.register
class Comprehensiveness(_AOPC):
    """ERASER comprehensiveness: how much the output drops when the top-ranked units are removed.

    Definition: mean over q in ``fractions`` (default {0.01, 0.05, 0.10, 0.20, 0.50}) of
    f(x) − f(x without its top-k units), k = ceil(q·n); f = p(target class) for classifiers,
    f = ŷ/σ for regression (how far the prediction falls, in σ, when the units that raise it go).
    Reference: DeYoung et al. 2020, "ERASER: A Benchmark to Evaluate Rationalized NLP Models", ACL
    (AOPC form, as in their appendix).
    Range: [-1, 1] for probabilities (unbounded for ``output="logit"`` and for regression).
    Direction: higher is better.

    Parameters: ``mode`` "delete" (default) or "mask"; ``fractions``; ``n_random`` random orderings
    averaged for the random reference (default 3; 0 disables it); ``seed`` (default 0).
    """

    name = "comprehensiveness"
    order = 10
    higher_is_better = True
    keep_top = False


@registry.metrics.register
class Sufficiency(_AOPC):
    """ERASER sufficiency: how much the output drops when only the top-ranked units are kept.

    Definition: mean over q in ``fractions`` (default {0.01, 0.05, 0.10, 0.20, 0.50}) of
    f(x) − f(only its top-k units, in original order), k = ceil(q·n); f = p(target class) for
    classifiers, ŷ/σ for regression.
    Reference: DeYoung et al. 2020, "ERASER: A Benchmark to Evaluate Rationalized NLP Models", ACL.
    Range: [-1, 1] for probabilities (negative: the kept units alone support the target more than x);
    unbounded, in units of σ, for regression.
    Direction: lower is better.

    Parameters: as ``comprehensiveness``.
    """

    name = "sufficiency"
    order = 11
    higher_is_better = False
    keep_top = True


@registry.metrics.register
class DeletionAUC(_CurveArea):
    """Deletion curve area: the output as the most important units are removed first (MoRF).

    Definition: trapezoidal area of f(x without its top-k units), k = ceil(q·n), over q in
    ``fractions`` (default 0, 0.1, ..., 1.0; q = 1 is the empty text in mode "delete"); f = p(target
    class) for classifiers, ŷ/σ for regression.
    Reference: Petsiuk et al. 2018, "RISE: Randomized Input Sampling for Explanation of Black-box
    Models", BMVC (deletion metric); Samek et al. 2017 (MoRF perturbation curves).
    Range: [0, 1] for probabilities on the default grid; for regression any real number (ŷ/σ can be
    negative; compare explainers on the same model). Direction: lower is better.

    Parameters: ``mode``, ``fractions`` (>= 2, increasing), ``n_random``, ``seed`` as
    ``comprehensiveness``. ``curves`` keep each example's points for plots.
    """

    name = "deletion_auc"
    order = 12
    higher_is_better = False
    keep_top = False


@registry.metrics.register
class InsertionAUC(_CurveArea):
    """Insertion curve area: the output as the most important units are put back first.

    Definition: trapezoidal area of f(only its top-k units, in original order), k = ceil(q·n), over
    q in ``fractions`` (default 0, 0.1, ..., 1.0; q = 0 is the empty text in mode "delete", the
    all-masked input in mode "mask"); f = p(target class) for classifiers, ŷ/σ for regression.
    Reference: Petsiuk et al. 2018, "RISE", BMVC (insertion metric).
    Range: [0, 1] for probabilities on the default grid; any real number for regression.
    Direction: higher is better.

    Parameters: as ``deletion_auc``.
    """

    name = "insertion_auc"
    order = 13
    higher_is_better = True
    keep_top = True
