"""Stochastic explainers draw their samples per (explainer, seed, example): an example's scores do
not depend on the other texts of the call, and another seed gives other scores."""
import numpy as np
import pytest

import xaibench as xb

#: Cheap sampling budgets: these tests are about seeding, not estimator quality.
PARAMS = {"lime": {"n_samples": 30}, "shap": {"max_evals": 20}}


@pytest.mark.parametrize("name", ["random", "lime", "shap"])
def test_a_stochastic_explainer_samples_each_example_alone(tiny_model, name):
    texts = ["the movie was great", "bad phone , never again", "质量很好"]
    explainer = xb.get_explainer(name, **PARAMS.get(name, {}))
    alone = [explainer.explain(tiny_model, [t])[0].scores for t in texts]
    together = [a.scores for a in explainer.explain(tiny_model, ["an awful slow delivery", *texts])[1:]]
    for a, b in zip(alone, together):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    if name != "shap":  # shap's partition tree on a short text needs no random tie-breaking
        other = xb.get_explainer(name, seed=1, **PARAMS.get(name, {})).explain(tiny_model, texts[:1])[0]
        assert not np.allclose(other.scores, alone[0], rtol=1e-6, atol=1e-9)


def test_seeds_are_per_explainer_and_example():
    lime, shap = xb.get_explainer("lime", seed=3), xb.get_explainer("shap", seed=3)
    assert lime.example_seed("good") == xb.get_explainer("lime", seed=3).example_seed("good")
    assert lime.example_seed("good") != lime.example_seed("bad")
    assert lime.example_seed("good") != shap.example_seed("good")
    assert lime.example_seed("good") != xb.get_explainer("lime", seed=4).example_seed("good")
