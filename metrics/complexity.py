"""How concentrated an explanation is: sparseness (Gini index) and complexity (entropy) of the
absolute scores. Properties of the scores alone (no model call), so they say nothing about
faithfulness: a concise explanation can point at the wrong units."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from xaibench.core import registry
from xaibench.metrics.base import ExampleScore, Metric, MetricResult
from xaibench.metrics.removal import checked_units

ALL_ZERO = "every score is 0: no distribution of importance"


def gini(values: np.ndarray) -> float:
    """Gini index of non-negative ``values``: Σ_i (2i − n − 1) v_(i) / (n Σ v), v sorted ascending,
    i = 1..n; 0 when all are equal, (n − 1)/n when one value holds everything."""
    v = np.sort(np.asarray(values, dtype=float))
    n = len(v)
    return float(((2 * np.arange(1, n + 1) - n - 1) * v).sum() / (n * v.sum()))


def entropy(values: np.ndarray) -> float:
    """Shannon entropy (nats) of the shares p_i = v_i / Σ v of non-negative ``values`` (0 ln 0 = 0)."""
    p = np.asarray(values, dtype=float) / float(np.sum(values))
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


class _Concentration(Metric):
    family = "complexity"

    def evaluate(self, model, attributions: Sequence) -> MetricResult:
        return MetricResult.from_scores(self, [self._one(model, a) for a in attributions])

    def score(self, model, attributions: Sequence) -> np.ndarray:
        return self.evaluate(model, attributions).values

    def _one(self, model, attribution) -> ExampleScore:
        checked_units(model, attribution)
        magnitudes = np.abs(np.asarray(attribution.scores, dtype=float))
        if not magnitudes.size:
            return ExampleScore.undefined("empty text: no units")
        if not np.all(np.isfinite(magnitudes)):
            return ExampleScore.undefined("non-finite attribution scores")
        if not magnitudes.sum() > 0:
            return ExampleScore.undefined(ALL_ZERO)
        return ExampleScore(self.value(magnitudes))

    def value(self, magnitudes: np.ndarray) -> float:
        raise NotImplementedError


@registry.metrics.register
class Sparseness(_Concentration):
    """Sparseness: the Gini index of the absolute scores.

    Definition: G(|φ|) = Σ_i (2i − n − 1) |φ|_(i) / (n Σ |φ|), the absolute scores sorted ascending
    (i = 1..n). Chalasani et al. 2020, "Concise Explanations of Neural Networks using Adversarial
    Training", ICML (the Gini index as sparseness; Quantus's Sparseness). Range [0, (n − 1)/n]: 0 when
    every unit matters equally, near 1 when one unit holds all the importance. Direction: higher is
    better (a more concise explanation). Undefined when every score is 0. No model call.
    """

    name = "sparseness"
    order = 60
    higher_is_better = True

    def value(self, magnitudes: np.ndarray) -> float:
        return gini(magnitudes)


@registry.metrics.register
class Complexity(_Concentration):
    """Complexity: the entropy of the fractional contributions of the units.

    Definition: −Σ_i p_i ln p_i with p_i = |φ_i| / Σ_j |φ_j| (nats). Bhatt, Weller & Moura 2020,
    "Evaluating and Aggregating Feature-based Model Explanations", IJCAI. Range [0, ln n]: 0 when
    one unit holds all the importance, ln n when it is spread evenly (so it grows with text length:
    compare explainers on the same texts). Direction: lower is better. Undefined when every score is
    0. No model call.
    """

    name = "complexity"
    order = 61
    higher_is_better = False

    def value(self, magnitudes: np.ndarray) -> float:
        return entropy(magnitudes)
