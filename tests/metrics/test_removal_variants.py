"""Removal variants: the mask-mode metrics under their own names, and soft comprehensiveness /
sufficiency (Zhao & Aletras 2023) against hand-built masked forwards on the tiny model."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import xaibench as xb
from xaibench.api import attribution_from_scores
from xaibench.core import registry
from xaibench.core.component import default_selection
from xaibench.metrics.base import Metric
from xaibench.metrics.removal_variants import MASK_VARIANTS, importance_probabilities
from xaibench.modeling.embedding_masks import embedding_module, keep_mask, masked_embedding_logits

TEXTS = ["the movie was very good", "bad phone , never buy again", "i love this book but the price is bad",
         "很好的书", "not great"]
SOFT = ("soft_comprehensiveness", "soft_sufficiency")


def _attributions(model, texts=TEXTS, seed=0, output=None):
    rng = np.random.default_rng(seed)
    return [attribution_from_scores(model, t, rng.normal(size=len(model.units(t))), output=output) for t in texts]


@pytest.fixture(scope="module")
def own_model():
    """A tiny classifier of this module's own (counters reset freely)."""
    from xaibench.testing import tiny_classifier

    return tiny_classifier(num_labels=2, seed=0)


@pytest.fixture(scope="module")
def sharp_model():
    """A tiny classifier of this module's own whose head is scaled up 10^4 times: the random tiny
    model barely reacts to its input (f moves by ~1e-5), this one's target logit moves by ~0.1-1, so
    hand-computed values are checked well above float32 rounding."""
    from xaibench.testing import tiny_classifier

    model = tiny_classifier(num_labels=2, seed=0)
    with torch.no_grad():
        model.hf_model.classifier.weight.mul_(1e4)
    return model


@pytest.fixture(scope="module")
def regression_model():
    from xaibench.testing import tiny_classifier

    return tiny_classifier(regression=True, seed=1, target_std=2.0)


def test_facts():
    for name in (*MASK_VARIANTS.values(), *SOFT):
        spec = registry.metrics.spec(name)
        assert spec.family == "faithfulness" and spec.in_default_runs is False
        assert spec.removal == ("soft" if name in SOFT else "mask")
        assert registry.metrics.spec(spec.variant_of).higher_is_better == spec.higher_is_better
        assert spec.reference_param == "n_random"
    assert {registry.metrics.spec(v).variant_of: v for v in MASK_VARIANTS.values()} == MASK_VARIANTS
    assert registry.metrics.spec("soft_comprehensiveness").variant_of == "comprehensiveness"
    assert registry.metrics.spec("soft_sufficiency").variant_of == "sufficiency"
    for base in MASK_VARIANTS:
        assert registry.metrics.spec(base).removal == "delete" and registry.metrics.spec(base).variant_of is None
    assert Metric.variant_of is None
    selected = default_selection(registry.metrics)
    assert not set(selected) & {*MASK_VARIANTS.values(), *SOFT}
    assert xb.get_metric("comprehensiveness_mask").removal_rule() == "mask"
    assert xb.get_metric("soft_sufficiency").removal_rule() == "soft"


@pytest.mark.parametrize("base", list(MASK_VARIANTS))
def test_mask_variants_equal_the_base_metric_in_mask_mode(tiny_model, base):
    attrs = _attributions(tiny_model)
    variant = xb.get_metric(MASK_VARIANTS[base])
    assert variant.params() == xb.get_metric(base, mode="mask").params()
    got = variant.evaluate(tiny_model, attrs)
    want = xb.get_metric(base, mode="mask").evaluate(tiny_model, attrs)
    np.testing.assert_array_equal(got.values, want.values)
    np.testing.assert_array_equal(got.random_reference, want.random_reference)
    assert got.curves == want.curves and got.name == MASK_VARIANTS[base]
    delete = xb.get_metric(base).evaluate(tiny_model, attrs)
    assert not np.array_equal(delete.values, got.values)


def test_importance_probabilities():
    np.testing.assert_allclose(importance_probabilities([2.0, -2.0, 0.0, 1.0]), [1.0, 0.0, 0.5, 0.75])
    np.testing.assert_array_equal(importance_probabilities([0.0, 0.0, 0.0]), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(importance_probabilities([3.0]), [0.0])


def test_keep_mask_drops_each_element_with_its_probability():
    p = np.array([0.0, 0.25, 0.5, 0.9, 1.0])
    mask = keep_mask(p, key=123, width=4000)
    assert mask.shape == (5, 4000) and set(mask.unique().tolist()) <= {0.0, 1.0}
    np.testing.assert_allclose(1 - mask.mean(dim=1).numpy(), p, atol=0.03)
    assert mask[0].all() and not mask[-1].any()
    assert torch.equal(mask, keep_mask(p, key=123, width=4000))
    assert not torch.equal(mask, keep_mask(p, key=124, width=4000))
    assert torch.equal(keep_mask(np.array([0.0, 1.0]), None, 3), torch.tensor([[1.0] * 3, [0.0] * 3]))
    with pytest.raises(ValueError, match="key"):
        keep_mask(p, None, 3)


def test_soft_metrics_are_deterministic_and_seeded(tiny_model):
    attrs = _attributions(tiny_model)
    for name in SOFT:
        first = xb.get_metric(name, n_samples=2).evaluate(tiny_model, attrs)
        again = xb.get_metric(name, n_samples=2).evaluate(tiny_model, attrs)
        np.testing.assert_array_equal(first.values, again.values)
        np.testing.assert_array_equal(first.random_reference, again.random_reference)
        other = xb.get_metric(name, n_samples=2, seed=1).evaluate(tiny_model, attrs)
        assert not np.array_equal(first.values, other.values)
        assert all(np.isfinite(first.values)) and all(np.isfinite(first.random_reference))
        assert all(len(d["per_sample"]) == 2 for d in first.details)


def _direct_logit(model, text: str, zeroed_units: set[int], layer: str, target: int) -> float:
    """The target logit of ``text`` with the whole vectors of ``zeroed_units``' tokens zeroed at
    ``layer``, by a plain forward of the Hugging Face model with a hook of this test's own."""
    ids, maps = model.encode([text])
    positions = [t for t, u in enumerate(maps[0]) if u in zeroed_units]
    module = model.hf_model.get_input_embeddings() if layer == "word" else model.hf_model.bert.embeddings

    def hook(mod, args, output):
        output = output.clone()
        output[:, positions] = 0
        return output

    handle = module.register_forward_hook(hook)
    try:
        with torch.inference_mode():
            logits = model.hf_model(input_ids=torch.tensor(ids), attention_mask=torch.ones(1, len(ids[0]))).logits
    finally:
        handle.remove()
    return float(logits[0, target])


@pytest.mark.parametrize("layer", ["embeddings", "word"])
def test_one_unit_with_probability_one_is_removed_outright(sharp_model, layer):
    text = "bad phone , never buy again"
    n = len(sharp_model.units(text))
    scores = np.zeros(n)
    scores[3] = 5.0  # "never": p = 1, every other unit p = 0
    a = attribution_from_scores(sharp_model, text, scores, output="logit")
    f_x = _direct_logit(sharp_model, text, set(), layer, a.target)
    comp = xb.get_metric("soft_comprehensiveness", n_samples=3, n_random=0, layer=layer).evaluate(sharp_model, [a])
    want = f_x - _direct_logit(sharp_model, text, {3}, layer, a.target)
    assert abs(want) > 0.01 and comp.values[0] == pytest.approx(want, abs=1e-4)
    assert len(set(comp.details[0]["per_sample"])) == 1  # a fixed mask: every draw is the same input
    suff = xb.get_metric("soft_sufficiency", n_samples=3, n_random=0, layer=layer).evaluate(sharp_model, [a])
    want = f_x - _direct_logit(sharp_model, text, set(range(n)) - {3}, layer, a.target)
    assert abs(want) > 0.01 and suff.values[0] == pytest.approx(want, abs=1e-4)
    null = _direct_logit(sharp_model, text, set(range(n)), layer, a.target)
    assert suff.details[0]["f_null"] == pytest.approx(null, abs=1e-4)
    assert suff.details[0]["normalized"] is None  # logits: the paper's normalised form is for probabilities


def test_equal_importance_perturbs_nothing(sharp_model):
    text = "i love this book but the price is bad"
    a = attribution_from_scores(sharp_model, text, np.zeros(len(sharp_model.units(text))), output="logit")
    comp = xb.get_metric("soft_comprehensiveness").evaluate(sharp_model, [a])
    assert comp.values[0] == pytest.approx(0.0, abs=1e-4)
    assert comp.random_reference[0] == pytest.approx(0.0, abs=1e-4)
    suff = xb.get_metric("soft_sufficiency").evaluate(sharp_model, [a])  # p = 0: every unit dropped (the null input)
    d = suff.details[0]
    assert abs(d["f_x"] - d["f_null"]) > 0.01
    assert suff.values[0] == pytest.approx(d["f_x"] - d["f_null"], abs=1e-12)


def test_soft_values_average_the_draws_and_follow_the_importance(sharp_model):
    """Graded importance: each draw is another input, the value is their mean."""
    text = "awful , terrible product . never again !"
    n = len(sharp_model.units(text))
    a = attribution_from_scores(sharp_model, text, np.linspace(-1.0, 1.0, n), output="logit")
    result = xb.get_metric("soft_comprehensiveness", n_samples=4, n_random=2).evaluate(sharp_model, [a])
    per_sample = result.details[0]["per_sample"]
    assert len(set(per_sample)) == 4 and result.values[0] == pytest.approx(np.mean(per_sample), abs=1e-12)
    assert result.random_reference[0] != result.values[0]


def test_normalized_forms_follow_the_paper():
    from xaibench.metrics.removal_variants import SoftComprehensiveness, SoftSufficiency

    a = type("A", (), {"output": "prob"})()
    drops = np.array([0.1, -0.05, 0.3])
    assert SoftComprehensiveness()._normalized(a, 0.2, drops) == pytest.approx(np.mean([0.5, 0.0, 1.0]))
    assert SoftSufficiency()._normalized(a, 0.2, drops) == pytest.approx(np.mean([0.5, 1.0, 0.0]))
    assert SoftComprehensiveness()._normalized(a, 0.0, drops) is None
    assert SoftComprehensiveness()._normalized(type("A", (), {"output": "logit"})(), 0.2, drops) is None


def test_forward_passes_are_counted(own_model):
    text = "i love this book but the price is bad"
    n = len(own_model.units(text))
    graded = attribution_from_scores(own_model, text, np.arange(n, dtype=float))
    own_model.reset_counters()
    xb.get_metric("soft_comprehensiveness", n_samples=2, n_random=1).evaluate(own_model, [graded])
    assert own_model.n_forward == 1 + 1 + (1 + 1) * 2  # f(x), the null input, 2 draws x (scores + 1 random)
    one_hot = attribution_from_scores(own_model, text, np.eye(n)[0])
    own_model.reset_counters()
    xb.get_metric("soft_sufficiency", n_samples=4, n_random=0).evaluate(own_model, [one_hot])
    assert own_model.n_forward == 1 + 1 + 1  # 0/1 probabilities: the 4 draws are one input
    ids = own_model.token_ids([text])[0]
    own_model.reset_counters()
    probs = np.full(len(ids), 0.5)
    logits = masked_embedding_logits(own_model, [ids, ids, ids], [probs, probs, probs], [7, 7, 8])
    assert own_model.n_forward == 2 and logits.shape == (3, 2)
    np.testing.assert_array_equal(logits[0], logits[1])
    assert not np.array_equal(logits[0], logits[2])


def test_a_batch_of_texts_with_an_empty_one(tiny_model):
    texts = [*TEXTS, "", "good", "awful , terrible product . never again !"]
    attrs = _attributions(tiny_model, texts, seed=3)
    for name in SOFT:
        result = xb.get_metric(name, n_samples=2).evaluate(tiny_model, attrs)
        empty = texts.index("")
        assert np.isnan(result.values[empty]) and result.notes[empty].startswith("empty text")
        keep = [i for i in range(len(texts)) if i != empty]
        assert np.all(np.isfinite(result.values[keep])) and np.all(np.abs(result.values[keep]) <= 1)
        values = xb.get_metric(name, n_samples=2).score(tiny_model, attrs)
        np.testing.assert_allclose(values, result.values, atol=1e-6)


def test_regression_uses_the_prediction_over_sigma(regression_model):
    attrs = _attributions(regression_model, TEXTS[:3], output="value")
    result = xb.get_metric("soft_comprehensiveness", n_samples=2).evaluate(regression_model, attrs)
    assert np.all(np.isfinite(result.values)) and np.all(np.isfinite(result.random_reference))
    f_x = regression_model.logits([a.text for a in attrs])[:, 0] / 2.0
    np.testing.assert_allclose([d["f_x"] for d in result.details], f_x, atol=1e-9)
    assert all(d["normalized"] is None for d in result.details)


def test_parameters_are_checked(tiny_model):
    with pytest.raises(ValueError, match="layer"):
        xb.get_metric("soft_comprehensiveness", layer="hidden")
    with pytest.raises(ValueError, match="n_samples"):
        xb.get_metric("soft_sufficiency", n_samples=0)

    class NoEmbeddingsModule(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = torch.nn.Embedding(4, 2)

        def get_input_embeddings(self):
            return self.wte

    with pytest.raises(ValueError, match="layer='word'"):
        embedding_module(NoEmbeddingsModule(), "embeddings")
    assert embedding_module(NoEmbeddingsModule(), "word") is not None
    assert embedding_module(tiny_model.hf_model, "embeddings") is tiny_model.hf_model.bert.embeddings


def test_a_session_runs_the_variants(tmp_path, run_tiny_session, own_model):
    metrics = ("comprehensiveness", "comprehensiveness_mask", "soft_comprehensiveness", "soft_sufficiency")
    session = run_tiny_session(own_model, tmp_path, TEXTS[:3], metrics=metrics)
    rows = [r for r in session.record.per_example if r["metric"] in metrics]
    assert len(rows) == 2 * len(metrics) * 3
    assert all(r["status"] == "ok" for r in rows), [r for r in rows if r["status"] != "ok"][:2]
