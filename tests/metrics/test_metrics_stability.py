"""Stability and sanity metrics: the random control scores as it must, deterministic explainers are
seed-stable, a planted causal word stays on top under perturbation, the randomized copy really is a
different model, and max-sensitivity responds to its radius."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

import xaibench as xb
from xaibench.metrics.label_preserving import align_units
from xaibench.metrics.randomization import cascade, layer_stages, randomized_copy
from xaibench.modeling.engine import pad_batch
from xaibench.testing import tiny_classifier

PLANTED = "excellent"
NEUTRAL = ("the a this that it is was and product quality price delivery movie film book phone works "
           "i you we they would buy again").split()


def planted_sentences(n: int, seed: int, positive_only: bool = False) -> tuple[list[str], list[int]]:
    """Neutral words; class 1 exactly when the planted word is in the sentence. Negatives get one more
    neutral word instead, so sentence length says nothing about the class."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        words = list(rng.choice(NEUTRAL, size=int(rng.integers(5, 10))))
        label = 1 if positive_only else int(rng.random() < 0.5)
        words.insert(int(rng.integers(len(words) + 1)), PLANTED if label else str(rng.choice(NEUTRAL)))
        texts.append(" ".join(words))
        labels.append(label)
    return texts, labels


@pytest.fixture(scope="module")
def planted_model(one_torch_thread):
    """A tiny BERT trained (60 seeded Adam steps, a few seconds) until the planted word decides."""
    model = tiny_classifier(seed=0)
    texts, labels = planted_sentences(512, seed=0)
    ids = model.token_ids(texts)
    optimizer = torch.optim.Adam(model.hf_model.parameters(), lr=5e-3)
    rng = np.random.default_rng(1)
    model.hf_model.train()
    for _ in range(60):
        idx = rng.choice(len(texts), 24, replace=False)
        batch = pad_batch([ids[i] for i in idx], model.pad_token_id, "cpu")
        loss = model.hf_model(**batch, labels=torch.tensor([labels[i] for i in idx])).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.hf_model.eval()
    test_texts, test_labels = planted_sentences(64, seed=5)
    assert (model.predict(test_texts) == np.array(test_labels)).mean() == 1.0
    return model


@pytest.fixture(scope="module")
def texts():
    mixed, _ = planted_sentences(12, seed=7)
    return mixed


def evaluate(name, model, attributions, **params):
    return xb.get_metric(name, **params).evaluate(model, attributions)


def test_random_explainer_is_unstable_and_occlusion_is_not(planted_model, texts):
    random_attrs = xb.get_explainer("random", seed=0).explain(planted_model, texts)
    occlusion_attrs = xb.get_explainer("occlusion").explain(planted_model, texts)
    for name in ("perturbation_stability", "seed_stability"):
        assert abs(evaluate(name, planted_model, random_attrs).mean()) < 0.3, name
    stable = evaluate("perturbation_stability", planted_model, occlusion_attrs)
    assert stable.mean() > 0.5
    # Per-example records: the kept perturbations, how many were tried and kept.
    for d, v in zip(stable.details, stable.values):
        assert 1 <= d["kept"] <= 3 and d["tried"] == 8 and len(d["texts"]) == d["kept"]
        assert len(d["values"]) == d["kept"] and np.isclose(np.nanmean(d["values"]), v)
    # The same perturbations are used for every metric that shares the settings.
    topk = evaluate("topk_intersection", planted_model, occlusion_attrs, k=3)
    assert [d["texts"] for d in topk.details] == [d["texts"] for d in stable.details]
    # Occlusion keeps most of its top 3 on the perturbed texts (0.87 here); random keeps ~3/n (0.38).
    random_topk = evaluate("topk_intersection", planted_model, random_attrs, k=3)
    assert topk.mean() > 0.75 and random_topk.mean() < 0.5


def test_seed_stability_marks_deterministic_explainers(planted_model, texts):
    attrs = xb.get_explainer("occlusion").explain(planted_model, texts[:4])
    before = planted_model.n_forward
    result = evaluate("seed_stability", planted_model, attrs)
    # Not 1.0: a score that cannot vary with the seed is no evidence of stability.
    assert np.all(np.isnan(result.values)) and all(d["deterministic"] for d in result.details)
    assert result.notes == ["deterministic"] * 4
    assert planted_model.n_forward == before  # nothing re-run
    assert xb.get_metric("seed_stability").not_applicable_to(type(xb.get_explainer("occlusion"))) == "deterministic"
    assert xb.get_metric("seed_stability").not_applicable_to(type(xb.get_explainer("lime"))) is None
    random_result = evaluate("seed_stability", planted_model, xb.get_explainer("random").explain(planted_model, texts[:4]))
    d = random_result.details[0]
    assert d["deterministic"] is False and len(set(d["seeds"])) == 3 and len(d["pairwise"]) == 3


def test_a_pair_scores_spearman_rho_and_top_k_overlap_over_the_aligned_units(tiny_model):
    """Hand values on "the quality is great" (scores 0.1, 0.4, 0.2, 0.9: ranks 1, 3, 2, 4)."""
    def scored(text, scores):
        return xb.attribution_from_scores(tiny_model, text, scores, target=1)

    x = scored("the quality is great", [0.1, 0.4, 0.2, 0.9])
    same = scored("the quality is great", [0.1, 0.4, 0.2, 0.9])
    filler = scored("honestly the quality is great", [5.0, 0.1, 0.4, 0.2, 0.9])  # "honestly" is not aligned
    typo = scored("the qaulity is great", [0.1, 9.0, 0.2, 0.9])                   # "qaulity" is not aligned
    swap_top = scored("the quality is great", [0.1, 0.9, 0.2, 0.4])  # ranks 1, 4, 2, 3: sum d^2 = 2
    reversed_ = scored("the quality is great", [0.9, 0.2, 0.4, 0.1])  # ranks 4, 2, 3, 1: sum d^2 = 20
    stability = xb.get_metric("perturbation_stability")
    assert stability.compare(x, same) == (pytest.approx(1.0), None)
    assert stability.compare(x, filler)[0] == pytest.approx(1.0)
    assert stability.compare(x, typo)[0] == pytest.approx(1.0)  # the, is, great keep their order
    assert stability.compare(x, swap_top)[0] == pytest.approx(1 - 6 * 2 / (4 * 15))   # 0.8: lower
    assert stability.compare(x, reversed_)[0] == pytest.approx(1 - 6 * 20 / (4 * 15))  # -1.0
    value, note = stability.compare(x, scored("great", [1.0]))
    assert np.isnan(value) and "fewer than 2 units" in note
    top2 = xb.get_metric("topk_intersection", k=2)  # top 2 of x: great, quality
    assert top2.compare(x, same)[0] == 1.0 and top2.compare(x, swap_top)[0] == 1.0  # the same two units
    assert top2.compare(x, reversed_)[0] == 0.0                                     # the, is
    assert top2.compare(x, filler)[0] == 0.5   # the unaligned filler takes one of the two places
    assert top2.compare(x, typo)[0] == 0.5     # "qaulity" is not "quality"


@pytest.mark.parametrize("explainer, params", [("occlusion", {}), ("integrated_gradients", {"n_steps": 16})])
def test_planted_word_stays_on_top_under_perturbation(planted_model, explainer, params):
    positives, _ = planted_sentences(6, seed=11, positive_only=True)
    attrs = xb.get_explainer(explainer, **params).explain(planted_model, positives)
    assert [a.units[int(a.ranking()[0])] for a in attrs] == [PLANTED] * len(attrs)
    # k=1 intersection = 1 means the top unit of every kept x' is the (aligned) planted word.
    result = evaluate("topk_intersection", planted_model, attrs, k=1, protect_top=1)
    assert all(d["kept"] >= 1 for d in result.details)
    np.testing.assert_array_equal(result.values, 1.0)


def test_randomized_copy_really_differs(planted_model, texts):
    trained = {k: v.clone() for k, v in planted_model.hf_model.state_dict().items()}
    copy_ = randomized_copy(planted_model, seed=0)
    assert randomized_copy(planted_model, seed=0) is copy_  # cached: all explainers share it
    assert copy_.tokenizer is planted_model.tokenizer and copy_.hf_model is not planted_model.hf_model
    matrices = [k for k, v in trained.items() if v.ndim >= 2 and v.dtype.is_floating_point]
    random_state = copy_.hf_model.state_dict()
    assert all(not torch.equal(trained[k], random_state[k]) for k in matrices)
    assert all(torch.equal(v, planted_model.hf_model.state_dict()[k]) for k, v in trained.items())  # original intact
    gap = np.abs(planted_model.predict_proba(texts) - copy_.predict_proba(texts)).max()
    assert gap > 0.3
    # Cascading: head first, one stage per layer, embeddings last; the last stage is the full copy.
    names = [s for s, _ in layer_stages(planted_model.hf_model)]
    assert names == ["head", "layer.1", "layer.0", "embeddings"]
    *_, (stage, last) = list(cascade(planted_model, seed=0))
    assert stage == "embeddings"
    assert all(torch.equal(v, random_state[k]) for k, v in last.hf_model.state_dict().items())


def test_randomization_sanity(planted_model, texts):
    random_result = evaluate("randomization_sanity", planted_model, xb.get_explainer("random").explain(planted_model, texts))
    np.testing.assert_allclose(random_result.values, 0.0, atol=1e-12)  # model-blind scores survive
    attrs = xb.get_explainer("occlusion").explain(planted_model, texts)
    plain = evaluate("randomization_sanity", planted_model, attrs)
    assert plain.mean() > 0.2
    cascading = evaluate("randomization_sanity", planted_model, attrs, cascading=True)
    np.testing.assert_allclose(cascading.values, plain.values, equal_nan=True)
    curve = cascading.curves[0]
    assert curve["stages"] == ["head", "layer.1", "layer.0", "embeddings"] and len(curve["values"]) == 4


def test_max_sensitivity(planted_model, texts):
    saliency = xb.get_explainer("saliency").explain(planted_model, texts[:6])
    small = evaluate("max_sensitivity", planted_model, saliency, radius=1e-4, n_samples=2)
    large = evaluate("max_sensitivity", planted_model, saliency, radius=0.2, n_samples=2)
    assert np.all(np.isfinite(large.values)) and np.all(large.values > 0)  # the noise hook fired
    assert np.all(small.values < large.values) and small.mean() < 0.05
    ig = xb.get_explainer("integrated_gradients", n_steps=8).explain(planted_model, texts[:3])
    assert np.all(np.isfinite(evaluate("max_sensitivity", planted_model, ig, n_samples=2).values))
    occlusion = evaluate("max_sensitivity", planted_model, xb.get_explainer("occlusion").explain(planted_model, texts[:2]))
    assert np.all(np.isnan(occlusion.values)) and "gradient explainers" in occlusion.notes[0]


def test_metrics_run_through_score_and_are_registered(planted_model, texts):
    assert {"perturbation_stability", "topk_intersection", "seed_stability", "randomization_sanity",
            "max_sensitivity"} <= set(xb.list_metrics())
    attrs = xb.get_explainer("grad_x_input").explain(planted_model, texts[:3])
    values = xb.get_metric("perturbation_stability").score(planted_model, attrs)
    details = evaluate("perturbation_stability", planted_model, attrs).details
    # Recomputed from outside: re-explain each kept perturbation with the same explainer and target,
    # Spearman's rho over the aligned units, mean over the perturbations.
    for a, d, value in zip(attrs, details, values, strict=True):
        assert d["kept"] >= 1
        again = xb.get_explainer("grad_x_input").explain(planted_model, d["texts"], targets=[a.target] * d["kept"])
        rhos = []
        for b in again:
            ia, ib = (list(x) for x in zip(*align_units(a.units, b.units)))
            rhos.append(spearmanr(a.scores[ia], b.scores[ib]).statistic)
        assert value == pytest.approx(np.mean(rhos), abs=1e-9)
    assert min(values) < 1.0  # at least one perturbation moved the ranking: not a constant 1.0
    external = xb.attribution_from_scores(planted_model, texts[0], np.arange(len(planted_model.units(texts[0]))))
    result = evaluate("perturbation_stability", planted_model, [external])
    assert np.isnan(result.values[0]) and "cannot rebuild explainer" in result.notes[0]
    assert xb.get_metric("topk_intersection", k=5).display_name == "topk_intersection@5"


def test_max_sensitivity_is_not_answered_from_a_shared_table(planted_model, texts):
    """The session scores inside ``model.sharing()``; the clean gradients stored there for the same
    token ids must not answer the noisy re-explanation (the noise would never reach the model)."""
    with planted_model.sharing():
        attrs = xb.get_explainer("saliency").explain(planted_model, texts[:3])
        shared = evaluate("max_sensitivity", planted_model, attrs, n_samples=2)
    alone = evaluate("max_sensitivity", planted_model, attrs, n_samples=2)
    assert np.all(np.isfinite(shared.values)) and np.all(shared.values > 0)
    np.testing.assert_allclose(shared.values, alone.values, rtol=1e-5)
