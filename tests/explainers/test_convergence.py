"""Convergence modes of LIME and SHAP (``converge_top_k``): the stopping rule, LIME's coefficient
standard error, SHAP's reuse of evaluated coalitions across rounds, and what they give on a model
whose label is caused by one known word."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge

import xaibench as xb
from xaibench.explainers._convergence import StableTopK, effective_k, top_k, weighted_ridge
from xaibench.testing import tiny_classifier

TEXTS = ["the phone works great and the battery is good", "awful screen , broken after a week",
         "not bad", "fine"]


def test_top_k_ranks_like_the_removal_metrics():
    assert top_k(np.array([0.1, 0.5, 0.5, -1.0]), 2) == {1, 2}
    assert top_k(np.array([0.5, 0.1, 0.5]), 1) == {0}  # a tie: the earlier position


def test_stable_top_k_needs_patience_unchanged_rounds():
    stable = StableTopK(1, 2)
    assert [stable.update(np.array(s)) for s in ([1, 0], [1, 0], [0, 1], [0, 1], [0, 1])] == \
        [False, False, False, False, True]
    # A text of k units or fewer: its top (units - 1), which still says which unit is last.
    assert (effective_k(5, 3), effective_k(5, 1), effective_k(2, 9)) == (2, 1, 2)
    short = StableTopK(5, 1)
    assert [short.update(np.array(s)) for s in ([3, 2, 1], [1, 2, 3], [1, 2, 3])] == [False, False, True]
    with pytest.raises(ValueError, match="converge_top_k"):
        StableTopK(0, 1)
    with pytest.raises(ValueError, match="converge_patience"):
        StableTopK(1, 0)


def test_weighted_ridge_is_limes_fit_and_its_stderr_matches_resampling():
    rng = np.random.default_rng(0)
    d, n = 5, 400
    beta = np.array([0.5, -0.2, 0.0, 0.1, 0.3])

    def draw():
        X = (rng.random((n, d)) < 0.5).astype(float)
        w = rng.random(n) + 0.2
        y = 0.1 + X @ beta + rng.normal(0, 0.2 * (1 + X[:, 0]), n)  # heteroskedastic noise
        return X, y, w

    X, y, w = draw()
    coef, intercept, _ = weighted_ridge(X, y, w)
    ridge = Ridge(alpha=1.0).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(coef, ridge.coef_, atol=1e-10)
    assert intercept == pytest.approx(ridge.intercept_, abs=1e-10)
    fits = [weighted_ridge(*draw()) for _ in range(300)]
    spread = np.std([c for c, _, _ in fits], axis=0)
    mean_se = np.mean([s for _, _, s in fits], axis=0)
    np.testing.assert_allclose(mean_se, spread, rtol=0.2)  # the sandwich SE is the sampling spread


@pytest.fixture(scope="module")
def model(one_torch_thread):
    return tiny_classifier(seed=0)


def test_converging_lime_stops_early_reports_stderr_and_is_per_example(model):
    lime = xb.get_explainer("lime", n_samples=1000, converge_top_k=2, converge_step=50, seed=3)
    attrs = lime.explain(model, TEXTS)
    for text, a in zip(TEXTS, attrs):
        meta = a.metadata
        assert 50 < meta["lime_samples"] <= 1000
        assert len(meta["lime_stderr"]) == len(a.scores) and all(s >= 0 for s in meta["lime_stderr"])
        assert meta["lime_converged"] == (meta["lime_samples"] < 1000)
    assert any(a.metadata["lime_converged"] for a in attrs)
    # Forward passes: the distinct perturbations only (short texts repeat many), far under the cap.
    assert sum(a.cost["n_forward"] for a in attrs) < sum(a.metadata["lime_samples"] for a in attrs)
    # An example's result does not depend on the others in the call (to float32 batch rounding of
    # the tiny model's nearly constant outputs).
    alone = lime.explain(model, [TEXTS[1]])[0]
    np.testing.assert_allclose(alone.scores, attrs[1].scores, rtol=1e-4, atol=1e-9)
    assert alone.metadata["lime_samples"] == attrs[1].metadata["lime_samples"]


def test_converging_shap_at_its_full_budget_is_fixed_shap_and_reuses_coalitions(model):
    fixed = xb.get_explainer("shap", max_evals=100, seed=1).explain(model, TEXTS)
    once = xb.get_explainer("shap", max_evals=100, seed=1, converge_top_k=2, converge_start=100).explain(model, TEXTS)
    for a, b in zip(fixed, once):
        np.testing.assert_allclose(b.scores, a.scores, atol=1e-9)
    rounds = xb.get_explainer("shap", max_evals=400, seed=1, converge_top_k=2, converge_start=25,
                             converge_patience=100)  # never stable long enough
    attrs = rounds.explain(model, TEXTS[:1])
    meta = attrs[0].metadata
    assert meta["shap_converged"] is False and meta["shap_last_change"] is not None
    # Rounds of 25, 50, 100, 200, 400 evaluations: each coalition asked once, so the passes are
    # the distinct coalitions (at most the last round's budget), not the rounds' sum (775).
    assert meta["shap_evals"] <= attrs[0].cost["n_forward"] <= meta["shap_evals"] + 2 <= 400 + 2
    np.testing.assert_allclose(
        attrs[0].scores, xb.get_explainer("shap", max_evals=400, seed=1).explain(model, TEXTS[:1])[0].scores,
        atol=1e-9)


def test_bad_convergence_parameters_name_themselves(model):
    for name, params, match in [("lime", {"converge_top_k": 0}, "converge_top_k"),
                                ("lime", {"converge_top_k": 3, "converge_step": 0}, "converge_step"),
                                ("shap", {"converge_top_k": 3, "converge_start": 1}, "converge_start")]:
        with pytest.raises(ValueError, match=match):
            xb.get_explainer(name, **params).explain(model, TEXTS[:1])
