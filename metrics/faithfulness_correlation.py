"""Faithfulness correlation (Bhatt et al., 2020): do the scores of random subsets predict what
removing them does?"""
from __future__ import annotations

import numpy as np

from xaibench.core import registry
from xaibench.metrics.base import ExampleScore
from xaibench.metrics.random_subsets import SubsetMetric


@registry.metrics.register
class FaithfulnessCorrelation(SubsetMetric):
    """Pearson correlation between the attribution summed over a random subset of units and the
    output drop when that subset is removed.

    Definition: corr_S(Σ_{i∈S} φ_i, f(x) − f(x without S)) over ``n_subsets`` random subsets S of
    ``fraction`` of the units (``metrics/random_subsets.py``; the same subsets as ``infidelity``
    with equal parameters), removed with the ``delete`` rule; f = p(target class) for classifiers,
    ŷ/σ for regression (the correlation is scale-free). Bhatt, Weller & Moura 2020, "Evaluating and
    Aggregating Feature-based Model Explanations", IJCAI (μ_F; their baseline replacement is our
    removal). Range [−1, 1]. Direction: higher is better. Undefined (NaN, with a note) for texts
    with fewer than two units and when the subset sums or the drops are all equal (every subset of
    a two-unit text at fraction 0.25 is one unit: fine; a text whose subsets are all alike is not).

    Parameters: ``n_subsets`` (default 16), ``fraction`` (default 0.25), ``seed``.
    """

    name = "faithfulness_correlation"
    order = 14
    higher_is_better = True
    min_units = 2
    profile_params = {"smoke": {"n_subsets": 8}}

    def value(self, attributed: np.ndarray, drops: np.ndarray) -> ExampleScore:
        if np.ptp(attributed) == 0 or np.ptp(drops) == 0:
            which = "attribution sums" if np.ptp(attributed) == 0 else "output drops"
            return ExampleScore.undefined(f"the {which} of all random subsets are equal: no correlation")
        return ExampleScore(float(np.corrcoef(attributed, drops)[0, 1]),
                            details={"attributed": attributed.tolist(), "drops": drops.tolist()})
