"""Random logit (Sixt et al., 2020): does the explanation change when another class is explained?"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from xaibench.core import registry
from xaibench.core.seeding import stable_hash
from xaibench.metrics.base import Metric, MetricResult
from xaibench.metrics.reexplain import build_result, explain_many, per_attribution, spearman


@registry.metrics.register
class RandomLogit(Metric):
    """Spearman correlation between the explanation of the explained class and the explanation of
    a randomly chosen other class of the same text.

    Definition: ρ(φ(x; c), φ(x; c′)) with c the attribution's target and c′ drawn uniformly from the
    other classes (seeded by (seed, text)), the second explanation made by the same explainer with
    the same parameters and target c′. An explanation that does not depend on the class it explains
    (attention: ρ = 1) cannot tell why the model chose c over c′. Sixt, Granz & Landgraf 2020, "When
    Explanations Lie: Why Many Modified BP Attributions Fail", ICML (random logit test; Quantus's
    RandomLogit, which compares with SSIM). For a binary classifier explained by probability,
    p(c′) = 1 − p(c), so a class-sensitive explainer gives ρ near −1. Range [−1, 1]. Direction:
    lower is better. Undefined (NaN, with a note) for regression models (one output), texts of one
    unit, constant scores, and explainers that cannot be rebuilt from their parameters.

    Parameters: ``seed`` (default 0).
    """

    name = "random_logit"
    order = 51
    family = "sanity"
    reexplains = True
    higher_is_better = False
    profiles = ("quick", "full")

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def other_class(self, text: str, target: int, n_classes: int) -> int:
        others = [c for c in range(n_classes) if c != target]
        return others[stable_hash("random-logit", self.seed, text) % len(others)]

    def evaluate(self, model, attributions: Sequence) -> MetricResult:
        attributions = list(attributions)
        if model.task_type == "regression":
            note = "a regression model has one output: no other class to explain"
            return build_result(self, [(float("nan"), note, {})] * len(attributions))
        others = [self.other_class(a.text, int(a.target), model.n_outputs) for a in attributions]
        results = explain_many(model, attributions, [[a.text] for a in attributions], targets=[[c] for c in others])

        def score(a, again):
            other = again[0]
            value = spearman(a.scores, other.scores)
            note = None if np.isfinite(value) else "constant scores or a single unit: no correlation"
            return value, note, {"other_class": int(other.target)}

        return build_result(self, per_attribution(attributions, results, score))
