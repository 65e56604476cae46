"""Faithfulness metrics against hand-computed values on a transparent bag-of-words classifier, and
the metric engine (one de-duplicated pass per chunk)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import xaibench as xb
from xaibench.api import attribution_from_scores
from xaibench.core.units import keep_units, remove_units
from xaibench.metrics import evaluation as scoring
from xaibench.metrics.base import ExampleScore, Metric, MetricResult, Request
from xaibench.metrics.evaluation import evaluate_metrics
from xaibench.metrics.loo import kendall_tau_b
from xaibench.metrics.removal import top_k_count, unit_orderings
from xaibench.modeling.classifier import Classifier
from xaibench.testing import bag_of_words_classifier

FOUR = ("comprehensiveness", "sufficiency", "deletion_auc", "insertion_auc")
ALL = (*FOUR, "loo_correlation")
# Class-1 logit weight per token (class-0 logit is 0): f = bias + sum of the text's token weights.
WEIGHTS = {"good": 3.0, "bad": -2.0, "fine": 0.5, "great": 2.0, "##ness": 1.0, "好": 1.5, "不": -1.0, "差": -2.5,
           ",": 0.0, "[UNK]": 0.125}
BIAS = 0.25
MASK_WEIGHT = 0.5


def bow_classifier(mask_weight: float = MASK_WEIGHT, regression: bool = False, weights=WEIGHTS, **kw) -> Classifier:
    return bag_of_words_classifier(weights, BIAS, mask_weight=mask_weight, regression=regression,
                                   labels=("L0", "L1"), target_std=kw.pop("target_std", None), **kw)


@pytest.fixture(scope="module")
def bow():
    return bow_classifier()


def logit(words, n_masks=0):
    """Hand value of the class-1 logit: bias + weights of the words (+ masked sub-tokens)."""
    return BIAS + sum(WEIGHTS[w] for w in words) + n_masks * MASK_WEIGHT


def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


def trapezoid(values, step=0.1):
    return step * (sum(values) - (values[0] + values[-1]) / 2)


def run(model, names, attrs, **params):
    return evaluate_metrics(model, [xb.get_metric(n, **params) for n in names], attrs)


def one(model, name, text, scores, target=1, output="logit", **params):
    a = attribution_from_scores(model, text, scores, target=target, output=output)
    return run(model, [name], [a], **params)[name]


# ---- hand-computed values ----------------------------------------------------------------------
# "good bad fine great", scores rank good > great > fine > bad. n = 4:
# AOPC k = ceil(q*4) for q = .01,.05,.1,.2,.5 -> 1,1,1,1,2; curve k for q = 0..1 -> 0,1,1,2,2,2,3,3,4,4,4.
TEXT = "good bad fine great"
SCORES = [0.9, -0.5, 0.1, 0.4]
DEL_WORDS = {0: TEXT.split(), 1: ["bad", "fine", "great"], 2: ["bad", "fine"], 3: ["bad"], 4: []}
INS_WORDS = {0: [], 1: ["good"], 2: ["good", "great"], 3: ["good", "fine", "great"], 4: TEXT.split()}
AOPC_K = [1, 1, 1, 1, 2]
CURVE_K = [0, 1, 1, 2, 2, 2, 3, 3, 4, 4, 4]


def expected(mode: str, f):
    """Hand values of the four metrics; in mask mode each removed unit is one masked token."""
    n = 4
    fx = f(logit(TEXT.split()))
    wo = {k: f(logit(w, n_masks=k if mode == "mask" else 0)) for k, w in DEL_WORDS.items()}
    only = {k: f(logit(w, n_masks=n - k if mode == "mask" else 0)) for k, w in INS_WORDS.items()}
    return {
        "comprehensiveness": sum(fx - wo[k] for k in AOPC_K) / 5,
        "sufficiency": sum(fx - only[k] for k in AOPC_K) / 5,
        "deletion_auc": trapezoid([wo[k] for k in CURVE_K]),
        "insertion_auc": trapezoid([only[k] for k in CURVE_K]),
    }


@pytest.mark.parametrize("mode", ["delete", "mask"])
@pytest.mark.parametrize("output,f", [("logit", lambda z: z), ("prob", sigmoid)])
def test_four_metrics_match_hand_computation(bow, mode, output, f):
    a = attribution_from_scores(bow, TEXT, SCORES, target=1, output=output)
    res = run(bow, FOUR, [a], mode=mode)
    for name, value in expected(mode, f).items():
        assert res[name].values[0] == pytest.approx(value, abs=1e-6), name
    if output == "logit" and mode == "delete":  # spelled-out numbers, to read the definitions by
        assert res["comprehensiveness"].values[0] == pytest.approx((4 * 3.0 + 5.0) / 5)
        assert res["sufficiency"].values[0] == pytest.approx((4 * 0.5 - 1.5) / 5)
    curve = res["deletion_auc"].curves[0]
    assert curve["k"] == CURVE_K and res["comprehensiveness"].curves[0]["k"] == AOPC_K
    assert curve["fractions"] == pytest.approx([i / 10 for i in range(11)])
    assert np.trapezoid(curve["values"], curve["fractions"]) == pytest.approx(res["deletion_auc"].values[0])


def test_regression_value_output():
    model = bow_classifier(regression=True, target_std=2.0)
    a = attribution_from_scores(model, TEXT, SCORES)
    assert a.output == "value"
    res = run(model, FOUR, [a])
    for name, value in expected("delete", lambda z: z / 2.0).items():
        assert res[name].values[0] == pytest.approx(value, abs=1e-6), name


def test_mask_mode_masks_every_sub_token_of_a_unit(bow):
    # "goodness" is one unit of two sub-tokens (good, ##ness): masking it adds two mask tokens.
    text = "goodness bad"
    res = one(bow, "deletion_auc", text, [1.0, 0.0], mode="mask", fractions=(0.0, 0.5, 1.0))
    fx = logit(["good", "##ness", "bad"])
    assert res.curves[0]["values"] == pytest.approx([fx, logit(["bad"], 2), logit([], 3)])
    delete = one(bow, "deletion_auc", text, [1.0, 0.0], fractions=(0.0, 0.5, 1.0))
    assert delete.curves[0]["values"] == pytest.approx([fx, logit(["bad"]), logit([])])


def test_loo_correlation_hand_values(bow):
    # Drops in logit space are the unit weights [3, -2, 0.5, 2].
    res = one(bow, "loo_correlation", TEXT, SCORES)
    assert res.values[0] == pytest.approx(1.0) and res.details[0]["drops"] == pytest.approx([3.0, -2.0, 0.5, 2.0])
    # swap fine/great in the scores: one discordant pair of 6 -> (5 - 1) / 6
    assert one(bow, "loo_correlation", TEXT, [0.9, -0.5, 0.4, 0.1]).values[0] == pytest.approx(4 / 6)
    # mask mode: every drop shifts by the same mask weight, so the ranking is unchanged
    assert one(bow, "loo_correlation", TEXT, [0.9, -0.5, 0.4, 0.1], mode="mask").values[0] == pytest.approx(4 / 6)
    # repeated words tie in the drops [3, 3, -2]: tau-b = 2 / sqrt(3 * 2)
    assert one(bow, "loo_correlation", "good good bad", [1.0, 0.5, -1.0]).values[0] == pytest.approx(2 / math.sqrt(6))


def test_one_unit_text(bow):
    res = run(bow, ALL, [attribution_from_scores(bow, "good", [1.0], target=1, output="logit")])
    # k = ceil(q * 1) = 1 for every AOPC fraction: x without it is the empty text, only it is x.
    assert res["comprehensiveness"].values[0] == pytest.approx(logit(["good"]) - logit([]))
    assert res["sufficiency"].values[0] == pytest.approx(0.0)
    assert np.isnan(res["loo_correlation"].values[0]) and "single-unit" in res["loo_correlation"].notes[0]
    assert res["comprehensiveness"].notes[0] is None


@pytest.mark.parametrize("text", ["", "   \n"])
def test_empty_text_is_nan_with_reason(bow, text):
    res = run(bow, ALL, [attribution_from_scores(bow, text, [], target=1)])
    for name in ALL:
        assert np.isnan(res[name].values[0]) and "empty text" in res[name].notes[0]
        assert np.isnan(res[name].random_reference[0])


def test_non_finite_scores_are_nan_with_reason(bow):
    res = run(bow, ALL, [attribution_from_scores(bow, TEXT, [1.0, np.nan, 0.0, 2.0], target=1)])
    for name in ALL:
        assert np.isnan(res[name].values[0]) and "non-finite" in res[name].notes[0]


def test_ties_and_all_zero_scores_rank_by_position(bow):
    # all-zero scores: the ranking is positional, so top-1 is "bad" and top-2 is "bad good"
    res = one(bow, "comprehensiveness", "bad good fine", [0.0, 0.0, 0.0], fractions=(0.33, 0.66))
    fx = logit(["bad", "good", "fine"])
    assert res.values[0] == pytest.approx(((fx - logit(["good", "fine"])) + (fx - logit(["fine"]))) / 2)
    tied = one(bow, "insertion_auc", "bad good fine", [0.0, 1.0, 1.0], fractions=(0.0, 0.33, 1.0))
    assert tied.curves[0]["values"] == pytest.approx([logit([]), logit(["good"]), fx])
    loo = one(bow, "loo_correlation", "bad good fine", [0.0, 0.0, 0.0])
    assert np.isnan(loo.values[0]) and "scores are equal" in loo.notes[0]


def test_cjk_text(bow):
    # "好不差" is three character units; "only the top-2" keeps 好 and 差 in original order: "好差"
    res = one(bow, "sufficiency", "好不差", [2.0, -1.0, 1.0], fractions=(0.5, 0.66))
    fx = logit(["好", "不", "差"])
    assert res.values[0] == pytest.approx(((fx - logit(["好", "差"])) + (fx - logit(["好", "差"]))) / 2)
    comp = one(bow, "comprehensiveness", "好不差", [2.0, -1.0, 1.0], fractions=(0.3,), mode="mask")
    assert comp.values[0] == pytest.approx(fx - logit(["不", "差"], n_masks=1))


def test_tolerant_ceil():
    assert [top_k_count(q, 10) for q in (0.0, 0.1, 0.3, 0.7, 1.0)] == [0, 1, 3, 7, 10]
    assert top_k_count(0.01, 3) == 1 and top_k_count(0.5, 3) == 2 and top_k_count(1.0, 0) == 0
    # why the tolerance is needed: grids built with linspace/arange hold 0.30000000000000004
    grid = np.linspace(0.0, 1.0, 11)
    assert grid[3] * 10 > 3 and grid[7] * 10 > 7
    assert [top_k_count(q, 10) for q in grid] == list(range(11))


def test_random_reference_is_mean_over_seeded_orderings(bow):
    a = attribution_from_scores(bow, TEXT, SCORES, target=1, output="logit")
    res = run(bow, ("comprehensiveness", "loo_correlation"), [a], n_random=4, seed=7)
    refs = {"comprehensiveness": [], "loo_correlation": []}
    for order in unit_orderings(a, 4, 7)[1:]:
        rank_scores = np.empty(4)
        rank_scores[order] = -np.arange(4.0)
        r = attribution_from_scores(bow, TEXT, rank_scores, target=1, output="logit")
        for name in refs:
            refs[name].append(one(bow, name, TEXT, r.scores, n_random=0).values[0])
    for name, values in refs.items():
        assert res[name].random_reference[0] == pytest.approx(np.mean(values))
    assert one(bow, "comprehensiveness", TEXT, SCORES, n_random=0).random_reference is None


def test_loo_tau_matches_scipy_without_ties():
    from scipy.stats import kendalltau

    rng = np.random.default_rng(0)
    for n in (2, 5, 700):  # 700 > one comparison block
        x, y = rng.normal(size=n), rng.normal(size=n)
        assert kendall_tau_b(x, y) == pytest.approx(kendalltau(x, y).statistic)
    x = np.array([1.0, 1.0, 2.0, 3.0])
    assert kendall_tau_b(x, np.array([1.0, 2.0, 2.0, 4.0])) == pytest.approx(
        kendalltau(x, [1.0, 2.0, 2.0, 4.0]).statistic)


# ---- the engine --------------------------------------------------------------------------------
def _attrs(model, seed=0):
    rng = np.random.default_rng(seed)
    texts = [TEXT, "good good bad", "好不差", "goodness , fine", "great", "bad fine great good good"]
    return [attribution_from_scores(model, t, rng.normal(size=len(model.units(t))), target=1) for t in texts]


def test_one_deduplicated_pass_per_chunk(bow, monkeypatch):
    attrs = _attrs(bow)
    calls = []
    real = scoring.forward_inputs

    def counting(model, inputs, progress=False):
        calls.append(len({tuple(x) if not isinstance(x, str) else tuple(model.token_ids([x])[0]) for x in inputs}))
        return real(model, inputs, progress)

    monkeypatch.setattr(scoring, "forward_inputs", counting)
    metrics = [xb.get_metric(n) for n in ALL]
    start = bow.n_forward
    together = evaluate_metrics(bow, metrics, attrs, chunk_size=4)
    assert len(calls) == 2  # 6 examples in chunks of 4: one pass each, all metrics together
    n_together = bow.n_forward - start
    # The engine ran each distinct token sequence once (x asked as a text and as the empty
    # removal's ids is one sequence).
    assert n_together == sum(calls)
    start = bow.n_forward
    for m in metrics:
        separate = evaluate_metrics(bow, [m], attrs, chunk_size=4)[m.name]
        np.testing.assert_allclose(separate.values, together[m.name].values, atol=1e-12)
        np.testing.assert_allclose(separate.random_reference, together[m.name].random_reference, atol=1e-12)
    assert bow.n_forward - start > 2 * n_together  # sharing inputs across metrics saves passes


def test_mixed_modes_share_the_pass_and_match_separate_runs(bow):
    attrs = _attrs(bow, seed=1)
    metrics = [xb.get_metric("deletion_auc"), xb.get_metric("insertion_auc", mode="mask")]
    res = evaluate_metrics(bow, metrics, attrs)
    for m in metrics:
        np.testing.assert_allclose(m.score(bow, attrs), res[m.name].values, atol=1e-12)


def test_matches_outside_recomputation_on_a_small_transformer():
    from xaibench.testing import tiny_classifier

    model = tiny_classifier(seed=1)
    texts = ["the movie was not very good , i would never buy it again", "质量很好，物流快", "great"]
    rng = np.random.default_rng(3)
    attrs = [attribution_from_scores(model, t, rng.normal(size=len(model.units(t)))) for t in texts]
    res = evaluate_metrics(model, [xb.get_metric(n, n_random=0) for n in FOUR], attrs)
    for i, a in enumerate(attrs):
        units, order = model.units(a.text), a.ranking()
        p = lambda ts: model.predict_proba(ts)[:, a.target]  # noqa: E731
        px = p([a.text])[0]
        ks = [math.ceil(q * len(units) - 1e-9) for q in (0.01, 0.05, 0.1, 0.2, 0.5)]
        grid = [math.ceil(q / 10 * len(units) - 1e-9) for q in range(11)]
        comp = np.mean(px - p([remove_units(a.text, units, order[:k]) for k in ks]))
        suff = np.mean(px - p([keep_units(a.text, units, order[:k]) for k in ks]))
        dele = np.trapezoid(p([remove_units(a.text, units, order[:k]) for k in grid]), dx=0.1)
        ins = np.trapezoid(p([keep_units(a.text, units, order[:k]) for k in grid]), dx=0.1)
        for name, value in zip(FOUR, (comp, suff, dele, ins)):
            assert res[name].values[i] == pytest.approx(value, abs=1e-5), (name, a.text)


def test_registry_params_and_interface(bow):
    assert set(ALL) <= set(xb.list_metrics())
    m = xb.get_metric("deletion_auc", mode="mask", fractions=[0.0, 0.5, 1.0], n_random=2, seed=3)
    # Parameters are read back from the instance, validated and normalised (a list becomes a tuple).
    assert m.params() == {"mode": "mask", "fractions": (0.0, 0.5, 1.0), "n_random": 2, "seed": 3}
    assert xb.get_metric("comprehensiveness").params()["fractions"] == (0.01, 0.05, 0.1, 0.2, 0.5)
    assert [xb.get_metric(n).higher_is_better for n in ALL] == [True, False, False, True, True]
    for n in ALL:
        doc = type(xb.get_metric(n)).__doc__
        assert "Definition" in doc and "Reference" in doc and "Range" in doc and "better" in doc
    res = m.evaluate(bow, _attrs(bow))
    assert isinstance(res, MetricResult) and res.values.shape == (6,) and len(res.curves) == 6
    assert res.params == m.params() and len(res.notes) == 6
    # The parameters are used: "great" (one unit) masked at q = 0.5 and 1 gives the curve
    # [p(great), p([MASK]), p([MASK])] over fractions 0, 0.5, 1.
    great, masked = sigmoid(logit(["great"])), sigmoid(logit([], n_masks=1))
    assert res.curves[4]["values"] == pytest.approx([great, masked, masked])
    assert res.values[4] == pytest.approx(0.5 * (great + masked) / 2 + 0.5 * masked)
    with pytest.raises(ValueError, match="mode"):
        xb.get_metric("sufficiency", mode="zero")
    with pytest.raises(ValueError, match="fractions"):
        xb.get_metric("insertion_auc", fractions=[0.5, 0.2])
    with pytest.raises(ValueError, match="fractions"):
        xb.get_metric("comprehensiveness", fractions=[1.5])


def test_mismatched_units_are_rejected(bow):
    a = attribution_from_scores(bow, TEXT, SCORES)
    bad = type(a)(text=a.text, units=["good", "bad", "fine", "grea"], scores=a.scores, target=1, cost={},
                  explainer={})
    with pytest.raises(ValueError, match="model.units"):
        xb.get_metric("comprehensiveness").score(bow, [bad])


class CountingMetric(Metric):
    """Evaluates on its own (protocol 2): the number of units."""

    name = "n_units_test"

    def evaluate(self, model, attributions):
        return MetricResult.from_scores(self, [ExampleScore(float(len(a.units))) for a in attributions])


class BrokenMetric(Metric):
    name = "broken_test"


def test_own_evaluate_metrics_fit_the_engine(bow):
    attrs = _attrs(bow)
    res = evaluate_metrics(bow, [CountingMetric(), xb.get_metric("sufficiency")], attrs)
    assert list(res) == ["n_units_test", "sufficiency"]
    assert res["n_units_test"].values.tolist() == [len(a.units) for a in attrs]
    assert CountingMetric().score(bow, attrs).tolist() == [len(a.units) for a in attrs]
    with pytest.raises(TypeError, match="requests"):
        evaluate_metrics(bow, [BrokenMetric()], attrs)
    with pytest.raises(ValueError, match="repeated"):
        evaluate_metrics(bow, [xb.get_metric("sufficiency"), xb.get_metric("sufficiency")], attrs)
    assert Request().inputs == ()
