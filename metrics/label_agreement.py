"""Does a sentence explanation state the class the model predicted?"""
from __future__ import annotations

from typing import Sequence


from xaibench.core import registry
from xaibench.core.class_names import stated_class
from xaibench.metrics.base import ExampleScore, MetricResult
from xaibench.metrics.sentence_base import SentenceMetric

REGRESSION = "a regression model predicts no class"


@registry.metrics.register
class LabelAgreement(SentenceMetric):
    """Share of sentences that state the class the model predicted.

    Definition: per example 1 if the class the sentence states (the first class name or synonym
    it mentions, outside quotes first: ``xaibench.core.class_names.stated_class``; Chinese review
    phrases such as 差评 / 好评 count) is the model's predicted class of the text (argmax of its
    output; one batched forward), 0 if it states another class or none. An explanation that
    contradicts the prediction it claims to explain cannot be faithful to it (label–rationale
    association: Wiegreffe, Marasović & Smith 2021, "Measuring Association Between Labels and
    Free-Text Rationales", EMNLP). Undefined for regression models. Range [0, 1]. Direction:
    higher is better. Reference row: the shuffled-explanation control (chance: the share of text
    pairs predicted alike). Parameters: ``n_shuffled``, ``seed``.
    """

    name = "label_agreement"
    order = 38
    higher_is_better = True
    proportion = True  # 1 or 0 per example

    def evaluate(self, model, attributions: Sequence) -> MetricResult:
        attributions = list(attributions)
        if model.task_type == "regression":
            return MetricResult.from_scores(
                self, [ExampleScore.undefined(REGRESSION, with_reference=self.n_shuffled > 0)] * len(attributions))
        labels = list(model.labels)
        predicted = model.predict_proba([a.text for a in attributions]).argmax(axis=1) if attributions else []
        return self.per_sentence(
            attributions, lambda i, s: float(stated_class(s, labels) == predicted[i]),
            note=lambda i, s, v: "the sentence states no class" if stated_class(s, labels) is None else None,
            details=lambda i, s: {"stated": _name(stated_class(s, labels), labels),
                                  "predicted": labels[int(predicted[i])]})


def _name(index: int | None, labels: list[str]) -> str | None:
    return None if index is None else labels[index]
