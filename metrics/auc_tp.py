"""AUC-TP (Atanasova et al., 2020): how fast the model stops being right as the most important units
are removed."""
from __future__ import annotations

import numpy as np

from xaibench.core import registry
from xaibench.core.references import gold_label
from xaibench.metrics.base import ExampleScore, Metric, Request
from xaibench.metrics.removal import (
    CURVE_FRACTIONS,
    check_n_random,
    checked_units,
    perturber_for,
    random_orderings,
    top_k_count,
    unit_orderings,
)

NO_LABEL = "no gold class label (a regression example, or data without labels)"


@registry.metrics.register
class AUCTP(Metric):
    """Area under the threshold-performance curve: the model's accuracy on the gold label as the
    top-ranked units are removed.

    Definition: the trapezoidal area over q = 0, 0.1, …, 1 of 1[argmax model(x without its top-k
    units) = gold label], k = ceil(q·n), units ranked by score descending (ties by position), removed
    with the ``delete`` rule (q = 1 is the empty text). Per example it is the area of that example's
    correctness curve, so the mean over examples is the area under the accuracy curve of the test
    set. Atanasova, Simonsen, Lioma & Augenstein 2020, "A Diagnostic Study of Explainability
    Techniques for Text Classification", EMNLP (AUC-TP; they plot macro-F1, which does not split
    into per-example values; accuracy does, and the two agree on balanced data). The inputs are
    those of ``deletion_auc``, so in a joint pass it costs no extra model call. Range [0, 1].
    Direction: lower is better (the model loses the answer sooner when the important units go).
    Random reference: the same area under ``n_random`` random unit orderings. Undefined (NaN, with a
    note) for examples without a gold class label.

    Parameters: ``n_random`` (default 3), ``seed``.
    """

    name = "auc_tp"
    order = 14
    family = "faithfulness"
    higher_is_better = False
    uses_reference = True  # the gold label travels on the attribution
    reference_param = "n_random"
    removal = "delete"

    def __init__(self, n_random: int = 3, seed: int = 0) -> None:
        self.n_random = check_n_random(n_random)
        self.seed = seed

    def requests(self, model, attribution) -> Request:
        units = checked_units(model, attribution)
        label = gold_label(attribution)
        with_reference = self.n_random > 0
        if model.task_type != "classification" or label is None or float(label) != int(label):
            return Request(outcome=ExampleScore.undefined(NO_LABEL, with_reference))
        if not units:
            return Request(outcome=ExampleScore.undefined("empty text: no units", with_reference))
        if not np.all(np.isfinite(attribution.scores)):
            return Request(outcome=ExampleScore.undefined("non-finite attribution scores: no ranking", with_reference))
        perturber = perturber_for(model, attribution.text, units, "delete")
        ks = [top_k_count(q, len(units)) for q in CURVE_FRACTIONS]
        inputs = [perturber.without(order[:k]) for order in unit_orderings(attribution, self.n_random, self.seed)
                  for k in ks]
        return Request(tuple(inputs), state=int(label), logits=True)

    def shared_inputs(self, model, text: str) -> tuple:
        """The random orderings' removals (the same for every explainer of ``text``)."""
        units = model.units(text)
        if not units:
            return ()
        perturber = perturber_for(model, text, units, "delete")
        ks = [top_k_count(q, len(units)) for q in CURVE_FRACTIONS]
        return tuple(perturber.without(order[:k]) for order in random_orderings(text, len(units), self.n_random,
                                                                                 self.seed) for k in ks)

    def compute(self, model, attribution, request: Request, outputs: np.ndarray) -> ExampleScore:
        correct = (np.asarray(outputs).argmax(axis=1) == request.state).astype(float)
        curves = correct.reshape(1 + self.n_random, len(CURVE_FRACTIONS))
        areas = [float(np.trapezoid(c, CURVE_FRACTIONS)) for c in curves]
        reference = float(np.mean(areas[1:])) if self.n_random else None
        return ExampleScore(areas[0], reference,
                            curve={"fractions": list(CURVE_FRACTIONS), "values": curves[0].tolist()})
