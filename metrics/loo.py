"""Leave-one-out correlation: does the attribution rank units like removing each one does?"""
from __future__ import annotations

import numpy as np

from xaibench.core import registry
from xaibench.metrics.base import ExampleScore, Metric, Request
from xaibench.metrics.removal import check_mode, check_n_random, checked_units, perturber_for, unit_orderings

#: Output differences below this (relative to the output's scale) count as ties: float32 forward
#: passes of the same input in different batches differ by ~1e-7, and a tie of the model (a repeated
#: word under a bag-of-words model) must not become an arbitrary order.
TIE_TOLERANCE = 1e-6
_BLOCK = 512


def kendall_tau_b(x: np.ndarray, y: np.ndarray, y_tol: float = 0.0) -> float:
    """Kendall's τ-b of ``x`` and ``y``; pairs with ``|y_i - y_j| <= y_tol`` are ties in y.

    τ-b = (concordant − discordant) / sqrt((n0 − ties_x)(n0 − ties_y)), n0 = n(n−1)/2; equal to
    ``scipy.stats.kendalltau`` when ``y_tol == 0``. NaN when x or y is constant. Memory is bounded
    by comparing rows in blocks.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = len(x)
    signed = ties_x = ties_y = 0
    for start in range(0, n, _BLOCK):
        rows = slice(start, min(start + _BLOCK, n))
        dx = np.sign(x[rows, None] - x[None, :])
        dy_raw = y[rows, None] - y[None, :]
        dy = np.where(np.abs(dy_raw) <= y_tol, 0.0, np.sign(dy_raw))
        upper = np.arange(start, rows.stop)[:, None] < np.arange(n)[None, :]  # pairs i < j only
        signed += float((dx * dy)[upper].sum())
        ties_x += int((dx[upper] == 0).sum())
        ties_y += int((dy[upper] == 0).sum())
    pairs = n * (n - 1) // 2
    denom = np.sqrt(float(pairs - ties_x) * float(pairs - ties_y))
    return signed / denom if denom > 0 else float("nan")


@registry.metrics.register
class LOOCorrelation(Metric):
    """Leave-one-out correlation (τ-LOO): Kendall τ-b between the attribution scores and the output
    drops f(x) − f(x without unit i), one removal per unit.

    Definition: τ_b(scores, drops) with drops_i = f(x) − f(x without unit i) (removal by ``mode``);
    f = p(target class) for classifiers, ŷ/σ for regression (τ is scale-free, so σ does not matter);
    drops closer than 1e-6 × max(1, max|f|) count as ties (see ``TIE_TOLERANCE``).
    Reference: leave-one-out agreement as in ferret (Attanasio et al. 2023, "ferret: a Framework
    for Benchmarking Explainers on Transformers", EACL demo; τ-LOO) and Jain & Wallace 2019,
    "Attention is not Explanation", NAACL (Kendall τ against leave-one-out importance).
    Range: [-1, 1]. Direction: higher is better. Undefined (NaN, with a note) for texts with fewer
    than two units and when all scores or all drops are equal.

    The random reference is the mean τ of ``n_random`` random unit orderings (rank scores) against
    the same drops; it needs no extra model input and is close to 0. ``details`` keep each example's
    drops.

    Parameters: ``mode`` "delete" (default) or "mask"; ``n_random`` (default 3); ``seed`` (default 0).
    """

    name = "loo_correlation"
    order = 14
    # It correlates scores with leave-one-out drops: against an explainer whose scores ARE those
    # drops (occlusion, same removal) it is 1 by construction (xaibench.metrics.circularity).
    recomputes = "leave_one_out"
    family = "faithfulness"
    reference_param = "n_random"
    higher_is_better = True

    def __init__(self, mode: str = "delete", n_random: int = 3, seed: int = 0) -> None:
        self.mode = check_mode(mode)
        self.n_random = check_n_random(n_random)
        self.seed = seed

    def requests(self, model, attribution) -> Request:
        units = checked_units(model, attribution)
        with_reference = self.n_random > 0
        if not units:
            return Request(outcome=ExampleScore.undefined("empty text: no units", with_reference))
        if not np.all(np.isfinite(attribution.scores)):
            return Request(outcome=ExampleScore.undefined("non-finite attribution scores: no ranking", with_reference))
        if len(units) == 1:
            return Request(outcome=ExampleScore.undefined(
                "single-unit text: a ranking of one unit has no correlation", with_reference))
        perturber = perturber_for(model, attribution.text, units, self.mode)
        inputs = [perturber.original(), *(perturber.without([i]) for i in range(len(units)))]
        return Request(tuple(inputs))

    def shared_inputs(self, model, text: str) -> tuple:
        """x and every leave-one-out text: the same for every explainer of ``text``."""
        units = model.units(text)
        if len(units) < 2:
            return ()
        perturber = perturber_for(model, text, units, self.mode)
        return (perturber.original(), *(perturber.without([i]) for i in range(len(units))))

    def compute(self, model, attribution, request: Request, outputs: np.ndarray) -> ExampleScore:
        outputs = np.asarray(outputs, dtype=float)
        drops = outputs[0] - outputs[1:]
        tol = TIE_TOLERANCE * max(1.0, float(np.abs(outputs).max()))
        scores = np.asarray(attribution.scores, dtype=float)
        value = kendall_tau_b(scores, drops, tol)
        reference = None
        if self.n_random:
            taus = []
            for order in unit_orderings(attribution, self.n_random, self.seed)[1:]:
                rank_scores = np.empty(len(order))
                rank_scores[order] = -np.arange(len(order), dtype=float)  # first in order = highest
                taus.append(kendall_tau_b(rank_scores, drops, tol))
            reference = float(np.mean(taus))
        note = None
        if np.isnan(value):
            if np.all(scores == scores[0]):
                note = "all attribution scores are equal: Kendall τ is undefined"
            else:
                note = "removing any single unit changes the output equally: Kendall τ is undefined"
        return ExampleScore(float(value), reference, None, note, details={"drops": drops.tolist()})
