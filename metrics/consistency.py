"""The consistency properties of Atanasova et al. (2020): explanations should differ as much as the
model's activations do, across similar inputs (``dataset_consistency``) and across similar models
(``rationale_consistency``).

Both compare, over pairs, an *activation distance* with an *explanation distance* by Spearman's ρ
(higher is better: explanation differences track what the model computes):

- activation distance of two (model, text) runs: the mean over layers (embedding output and every
  layer) and hidden units of |difference| of the token-averaged hidden states
  (``xaibench.modeling.hidden_states.layer_means``);
- explanation distance: the mean absolute difference of the two explanations, each divided by its
  largest |score| (so a constant factor is not a difference).

Atanasova, Simonsen, Lioma & Augenstein 2020, "A Diagnostic Study of Explainability Techniques
for Text Classification", EMNLP. They pool all pairs of a test set into one ρ; here each example
gets its own ρ over its pairs, so values are per example like every metric (the tables average
them) and a chunk is scored on its own.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import numpy as np

from xaibench.core import registry
from xaibench.core.citations import fold
from xaibench.metrics.base import ExampleScore, Metric, MetricResult
from xaibench.metrics.reexplain import explain_many, spearman


def normalized(scores) -> np.ndarray:
    s = np.asarray(scores, dtype=float)
    top = float(np.abs(s).max()) if s.size else 0.0
    return s / top if top > 0 else s


def activation_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over layers and hidden units of |a − b| (``layer_means`` rows)."""
    return float(np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)).mean())


def word_saliency(units: Sequence[str], scores: np.ndarray) -> dict[str, float]:
    """Normalized score per distinct (case-folded) unit, summed over its occurrences."""
    out: dict[str, float] = defaultdict(float)
    for u, s in zip(units, normalized(scores)):
        out[fold(u)] += float(s)
    return dict(out)


def word_distance(a: dict[str, float], b: dict[str, float]) -> float:
    """Mean absolute difference of two texts' word saliencies over the union of their words (a word
    one text lacks counts 0 there), as the paper's code does over the union of token ids."""
    words = set(a) | set(b)
    return float(np.mean([abs(a.get(w, 0.0) - b.get(w, 0.0)) for w in words])) if words else 0.0


@registry.metrics.register
class DatasetConsistency(Metric):
    """Do similar texts get similar explanations? Per example x_i: Spearman ρ, over the other
    examples x_j of the chunk scored together (15 in a benchmark run), between the activation
    distance of x_i and x_j (the same model) and the distance of their explanations word by word
    (each explanation scaled by its largest |score|; a word's saliency is the sum over its
    occurrences; a word one text lacks counts 0). Atanasova et al. 2020 (dataset consistency; see
    the module docstring). Range [−1, 1]. Direction: higher is better. Undefined (NaN, with a
    note) in chunks of fewer than 3 examples and when all distances are equal. One batched forward
    pass over the chunk's texts; no re-explanation.
    """

    name = "dataset_consistency"
    order = 56
    family = "diagnostic"
    higher_is_better = True
    profiles = ("quick", "full")

    def __init__(self) -> None:
        pass

    def evaluate(self, model, attributions: Sequence) -> MetricResult:
        from xaibench.modeling.hidden_states import layer_means

        attributions = list(attributions)
        n = len(attributions)
        if n < 3:
            return MetricResult.from_scores(
                self, [ExampleScore.undefined("fewer than 3 examples in the chunk: no pairs to rank")] * n)
        means = layer_means(model, [a.text for a in attributions])
        words = [word_saliency(a.units, a.scores) for a in attributions]
        scores = []
        for i in range(n):
            others = [j for j in range(n) if j != i]
            act = [activation_distance(means[i], means[j]) for j in others]
            sal = [word_distance(words[i], words[j]) for j in others]
            value = spearman(act, sal)
            scores.append(ExampleScore(value, note=None if np.isfinite(value) else "all distances equal"))
        return MetricResult.from_scores(self, scores)


@registry.metrics.register
class RationaleConsistency(Metric):
    """Do models that compute alike explain alike? Per example x: the same explainer explains x on
    the model and on ``n_models`` copies of it with every weight re-initialised (seeds 1..n; the
    untrained models of Atanasova et al.); over every pair of these n + 1 models, Spearman ρ
    between the activation distance on x and the distance of the two explanations (each scaled by
    its largest |score|). Atanasova et al. 2020 (rationale consistency; the paper also pairs
    models trained from different seeds, which ``--xb-model-seeds`` trains, but a metric of one
    task sees one trained model). Range [−1, 1]. Direction: higher is better. Undefined (NaN, with
    a note) for explainers that cannot be rebuilt and when all distances are equal. Cost:
    ``n_models`` more explanations of every text, and one forward pass per model: full profile only.

    Parameters: ``n_models`` (default 3, at least 2), ``seed`` (seeds the re-initialisations).
    """

    name = "rationale_consistency"
    order = 57
    family = "diagnostic"
    reexplains = True
    higher_is_better = True
    profiles = ("full",)

    def __init__(self, n_models: int = 3, seed: int = 0) -> None:
        if isinstance(n_models, bool) or not isinstance(n_models, int) or n_models < 2:
            raise ValueError(f"n_models must be an integer >= 2, got {n_models!r}")
        self.n_models = n_models
        self.seed = seed

    def evaluate(self, model, attributions: Sequence) -> MetricResult:
        from xaibench.metrics.randomization import randomized_copy
        from xaibench.modeling.hidden_states import layer_means

        attributions = list(attributions)
        texts = [a.text for a in attributions]
        models = [model] + [randomized_copy(model, self.seed + s) for s in range(1, self.n_models + 1)]
        means = [layer_means(m, texts) for m in models]  # batched: one forward pass per model
        explanations: list[list] = [list(attributions)]
        for copy in models[1:]:  # batched: one explain call per model (over every text)
            again = _explain_on(copy, attributions)
            explanations.append(again)
        pairs = [(p, q) for p in range(len(models)) for q in range(p + 1, len(models))]
        scores = []
        for i in range(len(attributions)):
            failed = next((e[i] for e in explanations if isinstance(e[i], str)), None)
            if failed is not None:
                scores.append(ExampleScore.undefined(failed))
                continue
            act = [activation_distance(means[p][i], means[q][i]) for p, q in pairs]
            sal = [float(np.abs(normalized(explanations[p][i].scores) - normalized(explanations[q][i].scores)).mean())
                   for p, q in pairs]
            value = spearman(act, sal)
            scores.append(ExampleScore(value, note=None if np.isfinite(value) else "all distances equal"))
        return MetricResult.from_scores(self, scores)


def _explain_on(model, attributions: list) -> list:
    """Each attribution's text explained on ``model`` by its explainer (same target), or the reason
    it cannot be rebuilt."""
    results = explain_many(model, attributions, [[a.text] for a in attributions])
    return [r if isinstance(r, str) else r[0] for r in results]
