"""DeepLIFT, GradientSHAP, SmoothGrad, KernelSHAP and IG's noise tunnel: what each computes (checked
against the quantity it must equal where one exists), per-example seeding, the sign option and the
cost accounting."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import xaibench as xb
from xaibench.testing import bag_of_words_classifier, tiny_classifier

TEXTS = ["the movie was good", "awful phone , never again", "great", "质量很好 但是 物流很慢"]
WEIGHTS = {"good": 3.0, "bad": -2.0, "great": 2.0, "awful": -2.5, "the": 0.0, "movie": 0.5, "was": 0.0}


@pytest.fixture(scope="module")
def tiny(one_torch_thread):
    return tiny_classifier(seed=3)


@pytest.fixture(scope="module")
def bow():
    return bag_of_words_classifier(WEIGHTS, 0.25)


def scores(explainer, model, texts=TEXTS, **kwargs):
    return [a.scores for a in explainer.explain(model, texts, **kwargs)]


def test_kernel_shap_recovers_an_additive_model_exactly(bow):
    """With f = the class-1 logit of a bag of words, f is additive in the units' presence, so the
    Shapley value of a unit is its weight (times its count), which KernelSHAP's regression finds."""
    text = "the movie was good great awful"
    a = xb.get_explainer("kernel_shap", n_samples=200, output="logit").explain(bow, [text], targets=[1])[0]
    np.testing.assert_allclose(a.scores, [WEIGHTS[w] for w in text.split()], atol=1e-6)
    # 200 coalitions of 6 units repeat: the engine runs each distinct text once (at most 2**6 of them).
    assert 0 < a.cost["n_forward"] <= 2**6 + 1 and a.explainer["name"] == "kernel_shap"


def test_kernel_shap_draws_per_example(bow):
    explainer = xb.get_explainer("kernel_shap", n_samples=8, seed=3)  # fewer samples than units: seed matters
    long_text = "the movie was good great awful the movie"
    alone = explainer.explain(bow, [long_text])[0].scores
    together = explainer.explain(bow, ["great", long_text])[1].scores
    np.testing.assert_array_equal(alone, together)  # the other text of the batch changes nothing
    other_seed = xb.get_explainer("kernel_shap", n_samples=8, seed=4).explain(bow, [long_text])[0].scores
    assert not np.allclose(alone, other_seed)
    assert xb.get_explainer("kernel_shap").explain(bow, ["great"])[0].scores[0] == pytest.approx(
        bow.explained_output(["great"], [1])[0] - bow.explained_output([""], [1])[0])  # one unit: exact


def test_deeplift_is_complete_up_to_its_delta(tiny):
    attrs = xb.get_explainer("deeplift").explain(tiny, TEXTS)
    ids = tiny.token_ids(TEXTS)
    special = set(tiny.tokenizer.all_special_ids) - {tiny.tokenizer.unk_token_id}
    baselines = [[t if t in special else tiny.pad_token_id for t in row] for row in ids]
    from xaibench.modeling.engine import forward_logits

    f_b = tiny.output_from_logits(forward_logits(tiny, [tuple(b) for b in baselines]), [a.target for a in attrs])
    f_x = tiny.explained_output(TEXTS, [a.target for a in attrs])
    for a, fx, fb in zip(attrs, f_x, f_b):
        # Scores (summed over units, special tokens dropped) + delta = f(x) − f(baseline).
        assert a.scores.sum() - a.metadata["convergence_delta"] == pytest.approx(fx - fb, abs=1e-4)
        assert a.cost["n_forward"] >= 2 and a.cost["n_backward"] >= 1


def test_smoothgrad_without_noise_is_saliency(tiny):
    plain = scores(xb.get_explainer("saliency"), tiny)
    smooth = scores(xb.get_explainer("smoothgrad", n_samples=3, noise_stdev=0.0), tiny)
    for p, s in zip(plain, smooth):
        np.testing.assert_allclose(s, p, rtol=1e-5, atol=1e-7)
    noisy = scores(xb.get_explainer("smoothgrad", n_samples=3, noise_stdev=0.5), tiny)
    assert not all(np.allclose(n, p) for n, p in zip(noisy, plain))
    assert all((s >= 0).all() for s in noisy)


def test_integrated_gradients_noise_tunnel_without_noise_is_plain_ig(tiny):
    plain = scores(xb.get_explainer("integrated_gradients", n_steps=8), tiny)
    tunnel = xb.get_explainer("integrated_gradients", n_steps=8, noise_tunnel=2, noise_stdev=0.0)
    assert not tunnel.deterministic and xb.get_explainer("integrated_gradients").deterministic
    for p, t in zip(plain, scores(tunnel, tiny)):
        np.testing.assert_allclose(t, p, rtol=1e-4, atol=1e-6)


def test_gradient_shap_seeds_are_per_example_and_the_mean_approaches_completeness(tiny):
    explainer = xb.get_explainer("gradient_shap", n_samples=6, seed=1)
    alone = explainer.explain(tiny, [TEXTS[1]])[0].scores
    together = explainer.explain(tiny, TEXTS)[1].scores
    np.testing.assert_array_equal(alone, together)
    assert not np.allclose(alone, xb.get_explainer("gradient_shap", n_samples=6, seed=2).explain(tiny, [TEXTS[1]])[0].scores)
    # In expectation the scores sum to f(x) − E[f(baseline)] (two baselines: pad words, zero embeddings).
    text, target = TEXTS[0], 1
    many = xb.get_explainer("gradient_shap", n_samples=400, seed=0).explain(tiny, [text], targets=[target])[0]
    ids = torch.as_tensor(tiny.token_ids([text]))
    special = set(tiny.tokenizer.all_special_ids) - {tiny.tokenizer.unk_token_id}
    pad_ids = torch.where(torch.isin(ids, torch.as_tensor(sorted(special))), ids, torch.full_like(ids, tiny.pad_token_id))
    from xaibench.modeling.gradients import embedding_forward

    embedding = tiny.hf_model.get_input_embeddings()
    with torch.no_grad():
        bases = [embedding(pad_ids), torch.zeros_like(embedding(ids))]
        f_b = np.mean([float(tiny.output_from_logits(embedding_forward(tiny, b, ids, torch.ones_like(ids)), [target])[0])
                       for b in bases])
    f_x = tiny.explained_output([text], [target])[0]
    assert many.scores.sum() == pytest.approx(f_x - f_b, abs=0.15 * abs(f_x - f_b) + 0.01)


@pytest.mark.parametrize("name", ["deeplift", "gradient_shap", "grad_x_input", "integrated_gradients"])
def test_the_abs_sign_reports_magnitudes(tiny, name):
    params = {"gradient_shap": {"n_samples": 4}, "integrated_gradients": {"n_steps": 4}}.get(name, {})
    signed = scores(xb.get_explainer(name, **params), tiny)
    magnitude = scores(xb.get_explainer(name, sign="abs", **params), tiny)
    for s, m in zip(signed, magnitude):
        np.testing.assert_allclose(m, np.abs(s), rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match="sign must be one of"):
        xb.get_explainer(name, sign="positive").explain(tiny, TEXTS[:1])


def test_saliency_and_smoothgrad_have_no_signed_form(tiny):
    for name in ("saliency", "smoothgrad"):
        with pytest.raises(ValueError, match="has no sign"):
            xb.get_explainer(name, sign="signed").explain(tiny, TEXTS[:1])


def test_parameters_are_checked(tiny):
    for name, params, message in [("gradient_shap", {"n_samples": 0}, "n_samples must be a positive int"),
                                  ("smoothgrad", {"noise_stdev": -1}, "noise_stdev must be a number >= 0"),
                                  ("kernel_shap", {"n_samples": 1}, "n_samples must be an int >= 2"),
                                  ("integrated_gradients", {"noise_tunnel": -1}, "noise_tunnel must be an int >= 0")]:
        with pytest.raises(ValueError, match=message):
            xb.get_explainer(name, **params).explain(tiny, TEXTS[:1])
