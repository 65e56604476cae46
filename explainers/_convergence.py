"""Stopping rules and error estimates for the opt-in convergence modes of the sampling explainers
(``lime`` and ``shap`` with ``converge_top_k``).

A fixed-budget LIME or SHAP spends the same number of model calls on a 5-word review whose top
units are settled after 100 samples as on a 60-word one. In convergence mode the explainer adds
samples (LIME) or evaluations (SHAP) in rounds and stops once its ``k`` top-ranked units have been
the same set for ``patience`` consecutive rounds, or at the fixed budget, whichever comes first.
"Top-ranked" is the order the removal metrics use: highest score first, ties by position; on a
text of ``k`` units or fewer the set is its top ``units - 1`` (``effective_k``).
"""
from __future__ import annotations

import numpy as np


def top_k(scores: np.ndarray, k: int) -> frozenset[int]:
    """Positions of the ``k`` highest scores (ties: the earlier position first), as a set."""
    order = np.lexsort((np.arange(len(scores)), -np.asarray(scores, dtype=np.float64)))
    return frozenset(int(i) for i in order[:k])


def effective_k(k: int, n_units: int) -> int:
    """``k`` capped at one less than the text's units: the top-``n`` set of an ``n``-unit text is
    every unit, stable from the first round, whereas the top ``n - 1`` still says which unit is last."""
    return max(1, min(k, n_units - 1))


class StableTopK:
    """Tracks the top-``k`` set over rounds: ``update(scores)`` is True once the set has been
    unchanged for ``patience`` consecutive updates after the first (so at least
    ``patience + 1`` rounds)."""

    def __init__(self, k: int, patience: int) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"converge_top_k must be an int >= 1, got {k!r}")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"converge_patience must be an int >= 1, got {patience!r}")
        self.k, self.patience = k, patience
        self.previous: frozenset[int] | None = None
        self.unchanged = 0
        self.rounds = 0

    def update(self, scores: np.ndarray) -> bool:
        self.rounds += 1
        current = top_k(scores, effective_k(self.k, len(scores)))
        self.unchanged = self.unchanged + 1 if current == self.previous else 0
        self.previous = current
        return self.unchanged >= self.patience


def weighted_ridge(X: np.ndarray, y: np.ndarray, w: np.ndarray, alpha: float = 1.0):
    """The weighted ridge fit LIME makes (sklearn ``Ridge(alpha, fit_intercept=True)`` with
    ``sample_weight=w``: weighted-mean centring, unpenalised intercept) in closed form, with the
    heteroskedasticity-robust (HC0 sandwich) standard error of each coefficient.

    Returns (coef, intercept, stderr). ``stderr[j]`` is the standard deviation of ``coef[j]`` over
    resampled perturbation sets, to first order: with A = XcᵀWXc + αI and residuals r,
    Cov(β) = A⁻¹ (Σᵢ wᵢ² rᵢ² xcᵢ xcᵢᵀ) A⁻¹ (Xc: X centred by its weighted mean). Units: those of
    the coefficient (f per unit present).
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    total = w.sum()
    x_mean = (w[:, None] * X).sum(0) / total
    y_mean = float((w * y).sum() / total)
    Xc, yc = X - x_mean, y - y_mean
    A = Xc.T @ (w[:, None] * Xc) + alpha * np.eye(X.shape[1])
    A_inv = np.linalg.inv(A)
    coef = A_inv @ (Xc.T @ (w * yc))
    residual = yc - Xc @ coef
    meat = (Xc * ((w * residual) ** 2)[:, None]).T @ Xc
    cov = A_inv @ meat @ A_inv
    stderr = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    return coef, y_mean - float(x_mean @ coef), stderr
