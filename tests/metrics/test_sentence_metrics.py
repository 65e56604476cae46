"""The natural_language metrics against hand-computed values on a transparent bag-of-words
classifier: cited comprehensiveness / sufficiency, citation precision, label agreement,
counterfactual mention, and the shuffled-explanation control of each."""
from __future__ import annotations

import math

import numpy as np
import pytest

import xaibench as xb
from xaibench.metrics.evaluation import evaluate_metrics
from xaibench.metrics.sentence_base import shuffled_partners
from xaibench.testing import bag_of_words_classifier, keyword_sentences

# Class-1 ("positive") logit = BIAS + sum of the token weights; class 0's logit is 0.
WEIGHTS = {"good": 3.0, "bad": -2.0, "not": -4.0, "the": 0.0, "food": 0.0, "is": 0.0,
           "好": 1.5, "差": -2.5, "菜": 0.0, "很": 0.0}
BIAS = 0.25
NL = ("cited_comprehensiveness", "cited_sufficiency", "citation_precision", "label_agreement",
      "counterfactual_mention")
# Two texts with no word in common: the only derangement of two is the swap, so the shuffled
# control gives each text the other's sentence.
EN, ZH = "the food is good", "菜很差"


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def p_positive(*weights: float) -> float:
    return sigmoid(BIAS + sum(weights))


@pytest.fixture(scope="module")
def bow():
    return bag_of_words_classifier(WEIGHTS, BIAS)


def explain(model, texts, function=keyword_sentences):
    return xb.get_explainer("nl_callable", function=function).explain(model, texts)


def scores(model, attrs, names=NL, **params):
    return evaluate_metrics(model, [xb.get_metric(n, **params) for n in names], attrs)


def test_the_sentences_and_predictions_of_the_fixture(bow):
    attrs = explain(bow, [EN, ZH])
    assert [a.metadata["explanation"] for a in attrs] == [
        "Predicted positive, mainly because of “good”.", "Predicted negative, mainly because of “差”."]
    assert [a.target for a in attrs] == [1, 0]


def test_cited_comprehensiveness_and_sufficiency_by_hand(bow):
    attrs = explain(bow, [EN, ZH, "the food is not good"])
    result = scores(bow, attrs, ("cited_comprehensiveness", "cited_sufficiency"), n_shuffled=0)
    comp, suff = result["cited_comprehensiveness"].values, result["cited_sufficiency"].values
    # EN cites "good": without it "the food is" (logit = bias); only it, "good".
    assert comp[0] == pytest.approx(p_positive(3.0) - p_positive())
    assert suff[0] == pytest.approx(p_positive(3.0) - p_positive(3.0))
    # ZH explains p(negative) = 1 − p(positive); it cites 差.
    assert comp[1] == pytest.approx((1 - p_positive(-2.5)) - (1 - p_positive()))
    assert suff[1] == pytest.approx(0.0)
    # "not" and "good" are both cited: removing both leaves "the food is".
    p_neg = 1 - p_positive(-4.0, 3.0)
    assert comp[2] == pytest.approx(p_neg - (1 - p_positive()))
    assert suff[2] == pytest.approx(p_neg - (1 - p_positive(-4.0, 3.0)))


def test_a_sentence_citing_nothing_has_zero_comprehensiveness_and_full_sufficiency(bow):
    attrs = explain(bow, ["the food is"], function=lambda ts, ls: ["Predicted positive; nothing stands out."] * len(ts))
    result = scores(bow, attrs, ("cited_comprehensiveness", "cited_sufficiency", "citation_precision"))
    assert result["cited_comprehensiveness"].values[0] == 0.0
    assert result["cited_sufficiency"].values[0] == pytest.approx(p_positive() - p_positive())  # x is bias-only
    assert np.isnan(result["citation_precision"].values[0])
    assert "cites nothing" in result["citation_precision"].notes[0]
    # One attribution: nobody to shuffle with, so no control value.
    assert np.isnan(result["cited_comprehensiveness"].random_reference[0])


def test_the_shuffled_control_gives_each_text_the_other_sentence(bow):
    attrs = explain(bow, [EN, ZH])
    result = scores(bow, attrs)
    # EN given ZH's sentence cites 差 (not in EN): nothing cited, so comprehensiveness 0 and
    # sufficiency f(x) − f(empty text); likewise ZH given "good".
    assert result["cited_comprehensiveness"].random_reference.tolist() == [0.0, 0.0]
    assert result["cited_sufficiency"].random_reference == pytest.approx(
        [p_positive(3.0) - p_positive(), (1 - p_positive(-2.5)) - (1 - p_positive())])
    assert result["citation_precision"].values.tolist() == [1.0, 1.0]
    assert result["citation_precision"].random_reference.tolist() == [0.0, 0.0]
    # The other text's sentence states the other class.
    assert result["label_agreement"].values.tolist() == [1.0, 1.0]
    assert result["label_agreement"].random_reference.tolist() == [0.0, 0.0]


def test_citation_precision_counts_pieces_absent_from_the_input(bow):
    attrs = explain(bow, [EN], function=lambda ts, ls: ["because of “good”, “battery” and “food”"] * len(ts))
    assert scores(bow, attrs, ("citation_precision",))["citation_precision"].values[0] == pytest.approx(2 / 3)


def test_label_agreement_against_the_prediction(bow):
    always_positive = lambda ts, ls: ["This review is positive because of “good”."] * len(ts)  # noqa: E731
    attrs = explain(bow, [EN, ZH], function=always_positive)
    result = scores(bow, attrs, ("label_agreement",))["label_agreement"]
    assert result.values.tolist() == [1.0, 0.0]  # ZH is predicted negative
    attrs = explain(bow, [EN], function=lambda ts, ls: ["because of “good”"] * len(ts))
    silent = scores(bow, attrs, ("label_agreement",))["label_agreement"]
    assert silent.values.tolist() == [0.0] and "states no class" in silent.notes[0]


def test_counterfactual_mention_by_hand(bow):
    attrs = explain(bow, [EN, ZH])
    result = scores(bow, attrs, ("counterfactual_mention",))["counterfactual_mention"]
    # EN: the flipping edit with the highest new-class probability swaps good -> bad ("the food is
    # bad": p(negative) = 1 − σ(0.25 − 2) beats "is not good": 1 − σ(0.25 − 1)). ZH: the antonym
    # table's longest match swaps 很差 -> 不错, whose characters the model does not know (weight 0):
    # p(positive) = σ(0.25) > 0.5, a flip.
    assert [d["edited"] for d in result.details] == ["the food is bad", "菜不错"]
    assert result.details[1]["edit"] == "很差 -> 不错"
    # keyword_sentences quotes "bad" and "不": both mention the new material.
    assert result.values.tolist() == [1.0, 1.0]
    # The swapped sentences cite "不" in "the food is bad" and "bad" in "菜不错": no mention.
    assert result.random_reference.tolist() == [0.0, 0.0]
    food_only = lambda ts, ls: [f"Predicted {lb} because of “food”." for lb in ls]  # noqa: E731
    missed = scores(bow, explain(bow, [EN], function=food_only), ("counterfactual_mention",))
    assert missed["counterfactual_mention"].values.tolist() == [0.0]


def test_counterfactual_mention_is_undefined_without_a_flipping_edit(bow):
    attrs = explain(bow, ["the food"])
    result = scores(bow, attrs, ("counterfactual_mention",))["counterfactual_mention"]
    assert np.isnan(result.values[0]) and "no candidate edit" in result.notes[0]


def test_sentence_metrics_do_not_apply_to_attribution_explainers(bow):
    occlusion = xb.get_explainer("occlusion")
    for name in NL:
        metric = xb.get_metric(name)
        assert metric.not_applicable_to(occlusion) == "not natural language"
        assert metric.not_applicable_to(xb.get_explainer("nl_template")) is None
    attrs = occlusion.explain(bow, [EN, ZH])
    result = scores(bow, attrs)
    for name in NL:
        assert np.isnan(result[name].values).all() and "not a sentence explanation" in result[name].notes[0]


def test_cited_removal_shares_the_engine_pass_with_the_removal_metrics(bow):
    attrs = explain(bow, [EN, ZH, "the food is not good"])
    bow.reset_counters()
    joint = xb.evaluate(bow, attrs, metrics=["comprehensiveness", "cited_comprehensiveness", "cited_sufficiency"])
    n_joint = bow.n_forward
    bow.reset_counters()
    alone = xb.evaluate(bow, attrs, metrics=["comprehensiveness"])
    n_alone = bow.n_forward
    # f(x) and the shared removals run once: the joint pass needs fewer inputs than the sum.
    bow.reset_counters()
    xb.evaluate(bow, attrs, metrics=["cited_comprehensiveness", "cited_sufficiency"])
    assert n_joint < n_alone + bow.n_forward
    assert joint["comprehensiveness"].values.tolist() == alone["comprehensiveness"].values.tolist()


def test_shuffled_partners_are_seeded_derangements():
    texts = [f"t{i}" for i in range(7)]
    partners = shuffled_partners(texts, 3, seed=0)
    assert len(partners) == 3
    for perm in partners:
        assert sorted(perm.tolist()) == list(range(7)) and not np.any(perm == np.arange(7))
    assert [p.tolist() for p in partners] == [p.tolist() for p in shuffled_partners(texts, 3, seed=0)]
    assert [p.tolist() for p in partners] != [p.tolist() for p in shuffled_partners(texts, 3, seed=1)]
    assert shuffled_partners(["only"], 3, seed=0) == []


def test_metric_parameters_are_checked():
    with pytest.raises(ValueError, match="n_shuffled must be an integer >= 0"):
        xb.get_metric("citation_precision", n_shuffled=-1)
    with pytest.raises(ValueError, match="max_candidates must be a positive integer"):
        xb.get_metric("counterfactual_mention", max_candidates=0)
    # score() computes no control: n_shuffled is set to 0 (the declared reference parameter).
    assert xb.get_metric("cited_comprehensiveness").values_only().n_shuffled == 0
