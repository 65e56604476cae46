"""Does a sentence explanation state the class the model predicted?"""
from __future__ import annotations

from typing import Sequence


from xaibench.core import registry
from xaibench.core.class_names import stated_class
from xaibench.metrics.base import ExampleScore, MetricResult
from xaibench.metrics.sentence_base import NOT_A_SENTENCE, SentenceMetric, sentence_of

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
        partners = self.partners(attributions)
        scores = []
        for i, a in enumerate(attributions):
            sentence = sentence_of(a)
            if sentence is None:
                scores.append(ExampleScore.undefined(NOT_A_SENTENCE, with_reference=self.n_shuffled > 0))
                continue
            stated = stated_class(sentence, labels)
            reference = self.reference_of([float(stated_class(s, labels) == predicted[i])
                                           for s in self.partner_sentences(attributions, partners, i)])
            note = None if stated is not None else "the sentence states no class"
            scores.append(ExampleScore(float(stated == predicted[i]), reference, note=note,
                                       details={"stated": None if stated is None else labels[stated],
                                                "predicted": labels[int(predicted[i])]}))
        return MetricResult.from_scores(self, scores)
