"""Confidence indication (Atanasova et al., 2020): can the model's confidence be read off the
explanations of its classes?"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from xaibench.core import registry
from xaibench.metrics.base import ExampleScore, Metric, MetricResult
from xaibench.metrics.reexplain import explain_many

MIN_FIT = 4


def confidence_features(own: np.ndarray, others: Sequence[np.ndarray]) -> list[float]:
    """Atanasova et al.'s features: the sum over units of the max, mean and min over the other
    classes of (score for the predicted class − score for that class)."""
    diffs = np.stack([own - o for o in others])
    return [float(diffs.max(axis=0).sum()), float(diffs.mean(axis=0).sum()), float(diffs.min(axis=0).sum())]


def leave_one_out_errors(features: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """|confidence_i − ĉ_i| where ĉ_i comes from a least-squares linear fit (with intercept) on
    every other example (features min-max scaled on those examples, as the paper's code does)."""
    n = len(confidence)
    errors = np.empty(n)
    for i in range(n):  # a closed-form fit per held-out example: no model call
        train = np.arange(n) != i
        low, high = features[train].min(axis=0), features[train].max(axis=0)
        span = np.where(high > low, high - low, 1.0)
        x = np.column_stack([np.ones(n), (features - low) / span])
        coef, *_ = np.linalg.lstsq(x[train], confidence[train], rcond=None)
        errors[i] = abs(confidence[i] - float(x[i] @ coef))
    return errors


@registry.metrics.register
class ConfidenceIndication(Metric):
    """How well a linear function of the explanations predicts the model's confidence.

    Definition: per example, features from the explanations of every class of the model (the same
    explainer and parameters, one explanation per class): with d_c = φ(x; predicted) − φ(x; c) for
    each other class c, the sums over units of max_c d_c, mean_c d_c and min_c d_c. A linear
    regression (least squares, with intercept, features min-max scaled) of the confidence
    p(predicted class | x) on those features is fitted on the *other* examples of the chunk scored
    together (16 in a benchmark run; leave-one-out), and the value is the example's absolute error
    |p − p̂|. Atanasova, Simonsen, Lioma & Augenstein 2020, "A Diagnostic Study of Explainability
    Techniques for Text Classification", EMNLP (confidence indication; they report the MAE of a
    5-fold fit over a test set; the mean of these values is the leave-one-out MAE within chunks).
    Range [0, 1]. Direction: lower is better. Undefined (NaN, with a note) for regression models,
    for chunks of fewer than 4 examples with explanations, and for explainers that cannot be
    rebuilt from their parameters.

    Parameters: none beyond the explainer's.
    """

    name = "confidence_indication"
    order = 55
    family = "diagnostic"
    reexplains = True
    higher_is_better = False
    profiles = ("quick", "full")

    def __init__(self) -> None:
        pass

    def evaluate(self, model, attributions: Sequence) -> MetricResult:
        attributions = list(attributions)
        n = len(attributions)
        rows: list[ExampleScore | None] = [None] * n
        if model.task_type == "regression":
            return MetricResult.from_scores(
                self, [ExampleScore.undefined("a regression model has no confidence in a class")] * n)
        probs = model.predict_proba([a.text for a in attributions]) if attributions else np.zeros((0, 0))
        predicted = probs.argmax(axis=1) if n else []
        classes = list(range(model.n_outputs))
        # Explanations of every class, by the explainer that made each attribution (one call per
        # explainer configuration: all classes of all texts together).
        again = explain_many(model, attributions, [[a.text] * len(classes) for a in attributions],
                             targets=[classes] * n)
        features, usable = [], []
        for i, (a, res) in enumerate(zip(attributions, again)):
            if isinstance(res, str):
                rows[i] = ExampleScore.undefined(res)
                continue
            by_class = [np.asarray(r.scores, dtype=float) for r in res]
            own = by_class[int(predicted[i])]
            others = [s for c, s in enumerate(by_class) if c != int(predicted[i])]
            features.append(confidence_features(own, others))
            usable.append(i)
        if len(usable) < MIN_FIT:
            note = f"fewer than {MIN_FIT} explained examples in the chunk: no fit"
            return MetricResult.from_scores(self, [r or ExampleScore.undefined(note) for r in rows])
        confidence = np.array([probs[i, int(predicted[i])] for i in usable])
        errors = leave_one_out_errors(np.asarray(features, dtype=float), confidence)
        for j, i in enumerate(usable):
            rows[i] = ExampleScore(float(errors[j]), details={"features": features[j],
                                                               "confidence": float(confidence[j])})
        return MetricResult.from_scores(self, rows)
