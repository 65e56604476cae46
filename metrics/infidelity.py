"""Infidelity (Yeh et al., 2019): how badly the attribution predicts the output change of random
removals."""
from __future__ import annotations

import numpy as np

from xaibench.core import registry
from xaibench.metrics.base import ExampleScore
from xaibench.metrics.random_subsets import SubsetMetric


def infidelity_value(attributed: np.ndarray, drops: np.ndarray, normalize: bool) -> float:
    """mean over subsets of (a − b)², a = Σ_{i∈S} φ_i, b = f(x) − f(x without S); with ``normalize``
    a is first scaled by β = Σab / Σa² (the least-squares scale; β = 0 when every a is 0), exactly
    ``captum.metrics.infidelity``'s arithmetic with ``normalize=True``."""
    a, b = np.asarray(attributed, dtype=float), np.asarray(drops, dtype=float)
    if not normalize:
        return float(np.mean((a - b) ** 2))
    saa, sab, sbb = float((a * a).sum()), float((a * b).sum()), float((b * b).sum())
    beta = sab / saa if saa != 0 else 0.0
    return (beta * beta * saa - 2 * beta * sab + sbb) / len(a)


@registry.metrics.register
class Infidelity(SubsetMetric):
    """Infidelity: the expected squared error between the output change a removal causes and the
    change the attribution predicts for it.

    Definition: INFD = E_S[(Σ_{i∈S} φ_i − (f(x) − f(x without S)))²] over ``n_subsets`` random
    subsets S of ``fraction`` of the units (``metrics/random_subsets.py``), removed with the
    ``delete`` rule; f = p(target class) for classifiers, ŷ/σ for regression. Yeh et al. 2019, "On
    the (In)fidelity and Sensitivity of Explanations", NeurIPS, with the perturbation I the
    indicator of S on the units' presence vector (x − I = x without S). With ``normalize`` (the
    default, as the paper's official code does) the attributions are first scaled by the
    least-squares factor β = E[a·b] / E[a²], so the value does not depend on the scale of the
    scores (the random control and a score × 1000 get the same value); without it the value is in
    units of f² and favours explanations in f's own units (this is captum's default,
    ``captum.metrics.infidelity(normalize=False)``, and explains the "scale differences" captum
    users report against the paper). Equal to ``captum.metrics.infidelity`` on the same
    perturbations (tested). Range [0, ∞); with ``normalize`` at most E[b²]. Direction: lower is
    better.

    Parameters: ``n_subsets`` (default 16), ``fraction`` (default 0.25), ``normalize`` (default
    True), ``seed``.
    """

    name = "infidelity"
    order = 14
    higher_is_better = False
    profile_params = {"smoke": {"n_subsets": 8}}

    def __init__(self, n_subsets: int = 16, fraction: float = 0.25, normalize: bool = True, seed: int = 0) -> None:
        super().__init__(n_subsets=n_subsets, fraction=fraction, seed=seed)
        if not isinstance(normalize, bool):
            raise ValueError(f"normalize must be true or false, got {normalize!r}")
        self.normalize = normalize

    def value(self, attributed: np.ndarray, drops: np.ndarray) -> ExampleScore:
        return ExampleScore(infidelity_value(attributed, drops, self.normalize),
                            details={"attributed": attributed.tolist(), "drops": drops.tolist()})
