"""How good a model is at its own task (model cards, ``scripts/measure_models.py``): accuracy and
macro-F1 for classifiers, Pearson r, MAE and RMSE for regressors. Plain numpy, no model calls."""
from __future__ import annotations

import numpy as np


def classification_quality(labels, predicted, n_classes: int) -> dict[str, float]:
    """``accuracy`` and ``macro_f1``: the unweighted mean over classes of per-class F1
    (2·TP / (support + predicted count)); a class that neither occurs nor is predicted is left out
    of the mean (its F1 is undefined), one that occurs but is never predicted counts as 0."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    f1 = []
    for c in range(n_classes):
        tp = int(((predicted == c) & (labels == c)).sum())
        support, chosen = int((labels == c).sum()), int((predicted == c).sum())
        if support + chosen:
            f1.append(2 * tp / (support + chosen))
    return {"accuracy": float((labels == predicted).mean()) if len(labels) else float("nan"),
            "macro_f1": float(np.mean(f1)) if f1 else float("nan")}


def regression_quality(targets, predicted) -> dict[str, float]:
    """``pearson_r``, ``mae`` (mean absolute error) and ``rmse`` of ``predicted`` against ``targets``,
    both in the targets' units; r is NaN when either side is constant."""
    targets, predicted = np.asarray(targets, dtype=float), np.asarray(predicted, dtype=float)
    error = predicted - targets
    defined = len(targets) > 1 and np.ptp(predicted) > 0 and np.ptp(targets) > 0
    r = float(np.corrcoef(targets, predicted)[0, 1]) if defined else float("nan")
    return {"pearson_r": r, "mae": float(np.abs(error).mean()), "rmse": float(np.sqrt((error ** 2).mean()))}
