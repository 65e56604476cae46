"""The metrics from the literature: infidelity equals captum's on the same perturbations;
faithfulness correlation, sparseness, complexity, random logit, AUC-TP, confidence indication and
the consistency properties against hand-computed values on transparent models."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import xaibench as xb
from xaibench.api import attribution_from_scores
from xaibench.core.records import Example
from xaibench.core.references import with_references
from xaibench.core.units import remove_units, split_units
from xaibench.metrics.complexity import entropy, gini
from xaibench.metrics.confidence_indication import confidence_features, leave_one_out_errors
from xaibench.metrics.consistency import activation_distance, word_distance, word_saliency
from xaibench.metrics.evaluation import evaluate_metrics
from xaibench.metrics.infidelity import infidelity_value
from xaibench.metrics.random_subsets import random_subsets
from xaibench.testing import bag_of_words_classifier, tiny_classifier

WEIGHTS = {"good": 3.0, "bad": -2.0, "great": 2.0, "awful": -2.5, "the": 0.0, "movie": 0.5, "was": 0.0, "fine": 0.25}
BIAS = 0.25
TEXT = "the movie was good great awful fine bad"


@pytest.fixture(scope="module")
def bow():
    return bag_of_words_classifier(WEIGHTS, BIAS)


def run(model, names, attrs, **params):
    return evaluate_metrics(model, [xb.get_metric(n, **params) for n in names], attrs)


def exact(model, text, sign=1.0, output="logit"):
    """The bag of words' exact logit attribution (each word's weight), or its negation."""
    return attribution_from_scores(model, text, [sign * WEIGHTS[w] for w in text.split()], target=1, output=output)


# ---- infidelity: equal to captum's on the same perturbations ------------------------------------
@pytest.mark.parametrize("normalize", [True, False])
def test_infidelity_equals_captum_on_the_same_perturbations(bow, normalize):
    from captum.metrics import infidelity as captum_infidelity

    attribution = xb.get_explainer("occlusion").explain(bow, [TEXT])[0]
    ours = run(bow, ["infidelity"], [attribution], normalize=normalize, n_subsets=12)["infidelity"].values[0]

    units = split_units(TEXT)
    subsets = random_subsets(TEXT, len(units), 12, 0.25, seed=0)
    indicators = torch.zeros(12, len(units), dtype=torch.float64)
    for row, subset in enumerate(subsets):
        indicators[row, subset] = 1.0

    def forward(presence):  # presence vectors -> f of the texts without the absent units
        texts = [remove_units(TEXT, units, np.flatnonzero(row.numpy() < 0.5)) for row in presence]
        return torch.as_tensor(bow.explained_output(texts, [attribution.target] * len(texts)))

    def perturb(inputs):  # captum expands the input to the 12 samples and perturbs them at once
        return indicators, inputs - indicators

    theirs = captum_infidelity(forward, perturb, torch.ones(1, len(units), dtype=torch.float64),
                               torch.as_tensor(attribution.scores)[None], n_perturb_samples=12, normalize=normalize)
    assert ours == pytest.approx(float(theirs[0]), abs=1e-6)


def test_infidelity_by_hand_and_its_scale_invariance(bow):
    a, b = np.array([1.0, 2.0, 0.0]), np.array([1.5, 2.0, 1.0])
    assert infidelity_value(a, b, normalize=False) == pytest.approx(((-0.5) ** 2 + 0 + 1) / 3)
    beta = (1.5 + 4.0) / 5.0
    assert infidelity_value(a, b, normalize=True) == pytest.approx(((beta - 1.5) ** 2 + (2 * beta - 2) ** 2 + 1) / 3)
    assert infidelity_value(1000 * a, b, normalize=True) == pytest.approx(infidelity_value(a, b, normalize=True))
    # The exact attribution of an additive logit has infidelity 0.
    values = run(bow, ["infidelity"], [exact(bow, TEXT)], normalize=False)["infidelity"].values
    assert values[0] == pytest.approx(0.0, abs=1e-9)


def test_faithfulness_correlation_of_exact_and_reversed_attributions(bow):
    result = run(bow, ["faithfulness_correlation"], [exact(bow, TEXT), exact(bow, TEXT, sign=-1.0)])
    assert result["faithfulness_correlation"].values == pytest.approx([1.0, -1.0])
    one_word = run(bow, ["faithfulness_correlation"], [exact(bow, "good")])["faithfulness_correlation"]
    assert np.isnan(one_word.values[0]) and "fewer than 2 units" in one_word.notes[0]


def test_random_subsets_are_shared_and_seeded():
    first = random_subsets(TEXT, 8, 4, 0.25, seed=0)
    assert [s.tolist() for s in first] == [s.tolist() for s in random_subsets(TEXT, 8, 4, 0.25, seed=0)]
    assert all(len(s) == 2 and len(set(s)) == 2 for s in first)
    assert [s.tolist() for s in first] != [s.tolist() for s in random_subsets(TEXT, 8, 4, 0.25, seed=1)]


# ---- sparseness and complexity --------------------------------------------------------------------
def test_sparseness_and_complexity_by_hand(bow):
    assert gini(np.array([1.0, 0, 0, 0])) == pytest.approx(0.75)
    assert gini(np.ones(4)) == pytest.approx(0.0)
    assert gini(np.array([1.0, 2, 3, 4])) == pytest.approx(0.25)  # (−3·1 − 1·2 + 1·3 + 3·4) / (4·10)
    assert entropy(np.array([1.0, 0, 0, 0])) == 0.0 and entropy(np.ones(4)) == pytest.approx(math.log(4))
    text = "the movie was good"
    attrs = [attribution_from_scores(bow, text, s) for s in ([0, 0, 0, -2.0], [1, -1, 1, -1], [0, 0, 0, 0])]
    result = run(bow, ["sparseness", "complexity"], attrs)
    assert result["sparseness"].values[:2] == pytest.approx([0.75, 0.0])  # signs do not matter
    assert result["complexity"].values[:2] == pytest.approx([0.0, math.log(4)])
    assert np.isnan(result["sparseness"].values[2]) and "every score is 0" in result["sparseness"].notes[2]


# ---- random logit ----------------------------------------------------------------------------------
def test_random_logit_of_class_sensitive_and_insensitive_explainers(bow):
    texts = [TEXT, "good movie but awful", "the bad movie was fine"]
    occlusion = run(bow, ["random_logit"], xb.get_explainer("occlusion").explain(bow, texts))["random_logit"]
    # p(other) = 1 − p(target): every leave-one-out drop flips its sign, a perfect inverse ranking.
    assert occlusion.values == pytest.approx([-1.0, -1.0, -1.0])
    assert [d["other_class"] for d in occlusion.details] == [0, 0, 1]  # binary: always the other class
    random = run(bow, ["random_logit"], xb.get_explainer("random").explain(bow, texts))["random_logit"]
    assert random.values == pytest.approx([1.0, 1.0, 1.0])  # the same scores whatever the class
    regression = bag_of_words_classifier(WEIGHTS, BIAS, regression=True, target_std=1.0)
    value = run(regression, ["random_logit"], xb.get_explainer("occlusion").explain(regression, [TEXT]))
    assert np.isnan(value["random_logit"].values[0]) and "one output" in value["random_logit"].notes[0]


# ---- AUC-TP ----------------------------------------------------------------------------------------
def test_auc_tp_by_hand(bow):
    text = "good awful fine"  # logit: 0.25 + 3 − 2.5 + 0.25 = 1.0 → predicted positive
    scores = [3.0, -2.5, 0.25]  # ranking: good, fine, awful
    a = with_references([attribution_from_scores(bow, text, scores, target=1)], [Example("e", text, 1)])[0]
    value = run(bow, ["auc_tp"], [a], n_random=0)["auc_tp"].values[0]
    # k = ceil(q·3) for q = 0, .1, ..., 1: 0,1,1,1,2,2,2,3,3,3,3; without "good" the logit is −2.0 (wrong),
    # without good and fine −2.25 (wrong), the empty text 0.25 (right: positive).
    correct = [1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1]
    assert value == pytest.approx(np.trapezoid(correct, np.linspace(0, 1, 11)))
    wrong_gold = with_references([attribution_from_scores(bow, text, scores, target=1)], [Example("e", text, 0)])[0]
    assert run(bow, ["auc_tp"], [wrong_gold], n_random=0)["auc_tp"].values[0] == pytest.approx(
        np.trapezoid([1 - c for c in correct], np.linspace(0, 1, 11)))
    no_label = attribution_from_scores(bow, text, scores, target=1)
    result = run(bow, ["auc_tp"], [no_label])["auc_tp"]
    assert np.isnan(result.values[0]) and "no gold class label" in result.notes[0]


# ---- confidence indication ------------------------------------------------------------------------
def test_confidence_features_and_leave_one_out_fit():
    own, others = np.array([1.0, 2.0]), [np.array([0.5, 0.0]), np.array([1.0, 3.0])]
    # d = own − other per class: [0.5, 2] and [0, −1]; sums of the max, mean and min over classes.
    assert confidence_features(own, others) == pytest.approx([2.5, 0.75, -1.0])
    x = np.arange(8, dtype=float)[:, None] * np.ones((1, 3))
    y = 0.1 + 0.05 * x[:, 0]  # exactly linear: every held-out example is predicted exactly
    assert leave_one_out_errors(x, y) == pytest.approx(np.zeros(8), abs=1e-12)


def test_confidence_indication_runs_on_every_class(bow):
    texts = [TEXT, "good movie but awful", "the bad movie was fine", "great great", "awful awful bad", "fine"]
    result = run(bow, ["confidence_indication"], xb.get_explainer("occlusion").explain(bow, texts))
    values = result["confidence_indication"].values
    assert np.isfinite(values).all() and (values >= 0).all() and (values <= 1).all()
    short = run(bow, ["confidence_indication"], xb.get_explainer("occlusion").explain(bow, texts[:3]))
    assert np.isnan(short["confidence_indication"].values).all()


# ---- consistency -----------------------------------------------------------------------------------
def test_consistency_distances_by_hand():
    assert activation_distance(np.array([[1.0, 2.0]]), np.array([[0.0, 4.0]])) == pytest.approx(1.5)
    a = word_saliency(["Good", "good", "bad"], np.array([1.0, 1.0, -2.0]))  # scaled by max |score| 2
    assert a == pytest.approx({"good": 1.0, "bad": -1.0})
    b = word_saliency(["good", "movie"], np.array([2.0, 1.0]))
    assert word_distance(a, b) == pytest.approx((abs(1.0 - 1.0) + abs(-1.0 - 0) + abs(0 - 0.5)) / 3)


def test_dataset_and_rationale_consistency_run(one_torch_thread):
    model = tiny_classifier(seed=1)
    texts = ["the movie was good", "good movie", "awful phone never again", "bad bad phone", "great book"]
    attrs = xb.get_explainer("grad_x_input").explain(model, texts)
    result = run(model, ["dataset_consistency", "rationale_consistency"], attrs, **{})
    for name in ("dataset_consistency", "rationale_consistency"):
        values = result[name].values
        assert np.isfinite(values).all() and (np.abs(values) <= 1).all(), name
    few = run(model, ["dataset_consistency"], attrs[:2])["dataset_consistency"]
    assert np.isnan(few.values).all() and "fewer than 3" in few.notes[0]
    with pytest.raises(ValueError, match="n_models must be an integer >= 2"):
        xb.get_metric("rationale_consistency", n_models=1)
