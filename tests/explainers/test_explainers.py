"""Explainer adapters on a tiny random BERT: contract, cost accounting, seeds, scripts, library fidelity."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import xaibench as xb
from xaibench.core.units import remove_units
from xaibench.testing import tiny_classifier

ALL = ["attention", "attention_rollout", "grad_x_input", "integrated_gradients", "lime", "occlusion",
       "random", "saliency", "shap"]
# Small budgets: these tests are about shapes and bookkeeping, not quality.
FAST = {"integrated_gradients": {"n_steps": 8}, "lime": {"n_samples": 60}, "shap": {"max_evals": 40}}
TEXTS = [
    "the movie was very good , i love it",   # English
    "质量很好，物流快，推荐！",                 # Chinese, full-width punctuation
    "great phone 😀👍🏽 would buy again",       # emoji with a skin-tone modifier
    "good 质量 ok 😀 不差",                     # mixed scripts
    "bad",                                   # one unit
    "  \u200b good  bad \ufeff",               # zero-width space, BOM, runs of spaces
    "a\u0301 café-bar don't 👨\u200d👩\u200d👧 ok",  # combining mark, inner hyphen/apostrophe, ZWJ family
]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model():
    return tiny_classifier()


def explainer(name, **params):
    return xb.get_explainer(name, **{**FAST.get(name, {}), **params})


def test_all_nine_are_registered():
    assert set(ALL) <= set(xb.list_explainers())


@pytest.mark.parametrize("name", ALL)
def test_one_finite_score_per_unit_for_every_script(model, name):
    attrs = explainer(name).explain(model, TEXTS + [""])
    assert len(attrs) == len(TEXTS) + 1
    for a, text in zip(attrs, TEXTS + [""]):
        units = model.units(text)
        assert a.units == [u.text for u in units]
        assert a.spans == tuple((u.start, u.end) for u in units)
        assert a.scores.dtype == np.float64 and a.scores.shape == (len(units),)
        assert np.all(np.isfinite(a.scores))
        assert a.text == text and a.output == "prob"
    assert attrs[-1].scores.size == 0
    predicted = model.predicted_targets(TEXTS)
    assert [a.target for a in attrs[:-1]] == list(predicted)


@pytest.mark.parametrize("name", ALL)
def test_cost_matches_the_model_counters(model, name):
    e = explainer(name)
    forward, backward = model.n_forward, model.n_backward
    attrs = e.explain(model, TEXTS)
    n_forward, n_backward = model.n_forward - forward, model.n_backward - backward
    assert sum(a.cost["n_forward"] for a in attrs) == n_forward > 0
    assert sum(a.cost["n_backward"] for a in attrs) == n_backward
    assert all(set(a.cost) == {"n_forward", "n_backward", "seconds", "peak_mem_bytes", "n_forward_reused",
                               "n_backward_reused", "call_seconds", "call_size"} for a in attrs)
    assert all(a.cost["peak_mem_bytes"] is None for a in attrs)  # not measured on the CPU
    assert all(a.cost["call_size"] == len(TEXTS) for a in attrs)
    assert all(a.cost["call_seconds"] == pytest.approx(a.cost["seconds"] * len(TEXTS)) for a in attrs)
    assert all(a.cost["n_forward_reused"] == a.cost["n_backward_reused"] == 0 for a in attrs)  # no sharing
    assert all(a.cost["seconds"] > 0 for a in attrs)
    forwards = [a.cost["n_forward"] for a in attrs]
    assert max(forwards) - min(forwards) <= 1  # amortised evenly
    assert attrs[0].explainer == {"name": name, **e.params()}
    if name in ("saliency", "grad_x_input"):
        assert n_backward == len(TEXTS)
    if name == "integrated_gradients":
        assert n_backward == 8 * len(TEXTS)


@pytest.mark.parametrize("name", ALL)
def test_rebuilt_from_record_gives_the_same_scores(model, name):
    a = explainer(name, seed=3).explain(model, TEXTS[:2], targets=[1, 0])
    params = {k: v for k, v in a[0].explainer.items() if k != "name"}
    b = xb.get_explainer(a[0].explainer["name"], **params).explain(model, TEXTS[:2], targets=[1, 0])
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.scores, y.scores)


@pytest.mark.parametrize("name", ["random", "lime", "shap"])
def test_seed_controls_stochastic_explainers(model, name):
    e = explainer(name, seed=1)
    assert not e.deterministic
    first = e.explain(model, TEXTS[:3], targets=[0, 1, 0])
    again = explainer(name, seed=1).explain(model, TEXTS[:3], targets=[0, 1, 0])
    other = explainer(name, seed=2).explain(model, TEXTS[:3], targets=[0, 1, 0])
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.scores, b.scores)
    if name == "shap":
        return  # see test_shap_seed_reaches_the_partition_tie_breaks
    assert any(not np.array_equal(a.scores, c.scores) for a, c in zip(first, other))


def test_shap_seed_reaches_the_partition_tie_breaks(model, monkeypatch):
    # shap's Partition explainer is deterministic except for the order of exactly tied queue
    # entries, drawn with np.random.randn: different seeds must give different draws, even when
    # (as is usual) the scores come out the same.
    draws = []
    original = np.random.randn
    monkeypatch.setattr(np.random, "randn", lambda *a: draws.append(original(*a)) or draws[-1])
    state = np.random.get_state()
    for seed in (1, 2, 1):
        explainer("shap", seed=seed).explain(model, TEXTS[:1], targets=[1])
        draws.append(None)
    runs = [tuple(g) for k, g in itertools.groupby(draws, key=lambda d: d is None) if not k]
    assert len(runs[0]) > 0 and runs[0] == runs[2] and runs[0] != runs[1]
    assert all(a == b for a, b in zip(np.random.get_state()[1], state[1]))  # caller's state restored


@pytest.mark.parametrize("name", ["random", "lime"])
def test_adding_an_example_does_not_change_the_others(model, name):
    alone = explainer(name).explain(model, [TEXTS[0]], targets=[1])[0]
    together = explainer(name).explain(model, [TEXTS[2], TEXTS[0], TEXTS[3]], targets=[0, 1, 0])[1]
    np.testing.assert_allclose(alone.scores, together.scores, atol=1e-6)


def test_inputs_are_validated_with_named_arguments(model):
    e = xb.get_explainer("occlusion")
    with pytest.raises(TypeError, match="texts"):
        e.explain(model, "a single string")
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        e.explain(model, ["good", 3])
    with pytest.raises(ValueError, match="targets has 1 entries for 2 texts"):
        e.explain(model, ["good", "bad"], targets=[1])
    with pytest.raises(ValueError, match=r"targets\[0\] = 5"):
        e.explain(model, ["good"], targets=[5])
    with pytest.raises(ValueError, match="output"):
        xb.get_explainer("occlusion", output="probability").explain(model, ["good"])
    with pytest.raises(ValueError, match="head_reduction"):
        xb.get_explainer("attention", head_reduction="median").explain(model, ["good"])
    assert e.explain(model, []) == []


def test_truncated_units_score_zero(model):
    words = "good bad movie phone great awful price slow fast nice".split()
    text = " ".join(words[i % 7] for i in range(100))  # 100 units; max_length 64 keeps 62 of them
    for name in ("occlusion", "saliency", "random"):
        a = explainer(name).explain(model, [text])[0]
        assert a.metadata["n_units_truncated"] == 38
        assert np.all(a.scores[62:] == 0) and np.any(a.scores[:62] != 0)


def test_logit_output_is_an_option(model):
    prob = xb.get_explainer("occlusion").explain(model, TEXTS[:1], targets=[1])[0]
    logit = xb.get_explainer("occlusion", output="logit").explain(model, TEXTS[:1], targets=[1])[0]
    assert logit.output == "logit" and prob.output == "prob"
    units = model.units(TEXTS[0])
    texts = [TEXTS[0]] + [remove_units(TEXTS[0], units, [i]) for i in range(len(units))]
    expected = model.logits(texts)[:, 1]
    np.testing.assert_allclose(logit.scores, expected[0] - expected[1:], atol=1e-6)


def _count_engine_calls(monkeypatch, model) -> list:
    """Record the token sequences of every engine call (``engine.compute_logits``) on ``model``."""
    from xaibench.modeling import engine

    calls = []
    original = engine.compute_logits

    def counting(m, inputs, **kw):
        if m is model:
            calls.append([tuple(x) if not isinstance(x, str) else tuple(m.token_ids([x])[0]) for x in inputs])
        return original(m, inputs, **kw)

    monkeypatch.setattr(engine, "compute_logits", counting)
    return calls


def test_occlusion_is_leave_one_unit_out_in_one_engine_call(monkeypatch):
    model = tiny_classifier()  # its own instance: the patched method must not outlive the test
    calls = _count_engine_calls(monkeypatch, model)
    attrs = xb.get_explainer("occlusion").explain(model, TEXTS[:3], targets=[1, 0, 1])
    assert len(calls) == 1
    for a, text in zip(attrs, TEXTS[:3]):
        units = model.units(text)
        p = model.predict_proba([text] + [remove_units(text, units, [i]) for i in range(len(units))])
        col = p[:, a.target]
        np.testing.assert_allclose(a.scores, col[0] - col[1:], atol=1e-6)


@pytest.mark.parametrize("name", ["lime", "shap"])
def test_sampling_explainers_batch_across_texts_and_follow_the_removal_rule(name, monkeypatch):
    model = tiny_classifier()  # its own instance: the patched method must not outlive the test
    texts = ["good bad , ok", "很好，快", "nice 😀 phone"]
    calls = _count_engine_calls(monkeypatch, model)
    explainer(name).explain(model, texts, targets=[1, 0, 1])
    allowed = []
    for text in texts:
        units = model.units(text)
        subsets = itertools.chain.from_iterable(
            itertools.combinations(range(len(units)), k) for k in range(len(units) + 1))
        allowed.append({tuple(model.token_ids([remove_units(text, units, drop)])[0]) for drop in subsets})
    seen = {ids for call in calls for ids in call}
    assert seen <= set().union(*allowed)  # every evaluated input is the text with some units removed
    empty = tuple(model.token_ids([""])[0])
    # one engine call serves the pending requests of all three texts at once
    assert any(all(set(call) & (ok - {empty}) for ok in allowed) for call in calls)
    if name == "lime":
        assert len([c for c in calls if len(c) > 1]) == 1


def test_shap_scores_are_efficient(model):
    # Owen values keep SHAP's efficiency: scores sum to f(x) - f(all units removed) = f(x) - f("").
    attrs = explainer("shap", max_evals=100).explain(model, TEXTS[:4], targets=[1, 1, 0, 0])
    p_full = model.predict_proba(TEXTS[:4])
    p_empty = model.predict_proba([""])[0]
    for a, p in zip(attrs, p_full):
        assert a.scores.sum() == pytest.approx(p[a.target] - p_empty[a.target], abs=1e-6)
        assert a.metadata["shap_base_value"] == pytest.approx(p_empty[a.target], abs=1e-6)


def test_lime_records_its_local_fit(model):
    a = explainer("lime").explain(model, TEXTS[:1])[0]
    assert -1.0 <= a.metadata["lime_r2"] <= 1.0
    assert np.isfinite(a.metadata["lime_intercept"])


def test_gradient_explainers_match_captum(model):
    from captum.attr import LayerGradientXActivation

    from xaibench.explainers._gradients import units_from_tokens
    from xaibench.modeling import engine

    texts, targets = TEXTS[:3], [1, 0, 1]
    ids, maps = model.encode(texts)
    batch = engine.pad_batch(ids, model.pad_token_id, model.device)

    def f(input_ids, attention_mask, target):
        return model.output_from_logits(model.hf_model(input_ids=input_ids, attention_mask=attention_mask).logits,
                                        target, "prob")

    layer = model.hf_model.get_input_embeddings()
    args = (batch["attention_mask"], torch.tensor(targets))
    gxi = LayerGradientXActivation(f, layer).attribute(batch["input_ids"], additional_forward_args=args)
    grad = LayerGradientXActivation(f, layer, multiply_by_inputs=False).attribute(
        batch["input_ids"], additional_forward_args=args)
    ours_gxi = xb.get_explainer("grad_x_input").explain(model, texts, targets=targets)
    ours_sal = xb.get_explainer("saliency").explain(model, texts, targets=targets)
    for k in range(3):
        n = len(ours_gxi[k].units)
        expected_gxi = units_from_tokens(gxi[k].sum(-1).detach().numpy(), maps[k], n)
        expected_sal = units_from_tokens(grad[k].norm(dim=-1).detach().numpy(), maps[k], n)
        np.testing.assert_allclose(ours_gxi[k].scores, expected_gxi, rtol=1e-5, atol=1e-10)
        np.testing.assert_allclose(ours_sal[k].scores, expected_sal, rtol=1e-5, atol=1e-10)
    assert all(np.all(a.scores >= 0) for a in ours_sal)


def test_integrated_gradients_reports_convergence_delta(model):
    attrs = explainer("integrated_gradients", internal_batch_size=16).explain(model, TEXTS)
    assert all(np.isfinite(a.metadata["convergence_delta"]) for a in attrs)
    same = explainer("integrated_gradients").explain(model, TEXTS)
    for a, b in zip(attrs, same):  # internal batching does not change the result
        np.testing.assert_allclose(a.scores, b.scores, rtol=1e-4, atol=1e-9)


def test_attention_scores_are_shares_and_layer_matters(model):
    last = xb.get_explainer("attention").explain(model, TEXTS)
    first = xb.get_explainer("attention", layer=0, head_reduction="max").explain(model, TEXTS)
    rolled = xb.get_explainer("attention_rollout").explain(model, TEXTS)
    for group in (last, rolled):
        for a in group:
            assert np.all(a.scores >= 0) and a.scores.sum() <= 1 + 1e-9
    assert any(not np.allclose(a.scores, b.scores) for a, b in zip(last, first))


def test_attention_switches_fused_attention_to_eager_and_back():
    model = tiny_classifier(seed=1)
    model.hf_model.set_attn_implementation("sdpa")
    eager = tiny_classifier(seed=1)
    a = xb.get_explainer("attention_rollout").explain(model, TEXTS[:2])
    b = xb.get_explainer("attention_rollout").explain(eager, TEXTS[:2])
    assert model.hf_model.config._attn_implementation == "sdpa"
    for x, y in zip(a, b):
        np.testing.assert_allclose(x.scores, y.scores, rtol=1e-5)


def test_regression_models_are_explained_on_their_value():
    model = tiny_classifier(regression=True)
    for name in ("occlusion", "integrated_gradients", "lime"):
        a = explainer(name).explain(model, TEXTS[:2])
        assert all(x.output == "value" and x.target == 0 and np.all(np.isfinite(x.scores)) for x in a)


def test_progress_bars_do_not_change_results(model):
    for name in ("saliency", "lime"):
        a = explainer(name).explain(model, TEXTS[:2], progress=True)
        b = explainer(name).explain(model, TEXTS[:2])
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x.scores, y.scores)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", ALL)
def test_cuda_gives_the_cpu_scores(name):
    cpu, gpu = tiny_classifier(), tiny_classifier(device="cuda")
    targets = list(cpu.predicted_targets(TEXTS))
    on_cpu = explainer(name).explain(cpu, TEXTS, targets=targets)
    on_gpu = explainer(name).explain(gpu, TEXTS, targets=targets)
    for a, b in zip(on_cpu, on_gpu):
        assert b.scores.shape == a.scores.shape and np.all(np.isfinite(b.scores))
        if xb.get_explainer(name).deterministic:
            np.testing.assert_allclose(b.scores, a.scores, rtol=1e-3, atol=1e-7)
    if name != "random":
        assert on_gpu[0].cost["peak_mem_bytes"] > 0
