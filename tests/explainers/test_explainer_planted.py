"""Explainers on a model whose label is caused by one known word.

A tiny BERT is trained in seconds on synthetic sentences: filler words plus one planted word,
"zorb" (class 1) or "blick" (class 0) at a random position. Sentences without a planted word are
trained towards 50/50, so removing the planted word really takes the evidence away (otherwise
"no zorb" would itself be evidence for class 0, and the label of a "blick" sentence would not be
caused by "blick"). A faithful explainer ranks the planted word first.

The fast lane keeps the cheap checks (training takes ~3 s); the sampling and path methods at
realistic budgets are marked slow.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import xaibench as xb
from xaibench.modeling import engine
from xaibench.testing import tiny_classifier

FILLER = ("the a this that it is was and but very movie film book phone product price delivery "
          "quality works really would buy again we they you").split()
N_TEST = 40
# Realistic budgets: these tests are about quality.
PARAMS = {"integrated_gradients": {"n_steps": 50}, "lime": {"n_samples": 300}, "shap": {"max_evals": 200},
          "kernel_shap": {"n_samples": 200}, "gradient_shap": {"n_samples": 20}, "smoothgrad": {"n_samples": 20}}


def sentences(n: int, seed: int, with_unplanted: bool = False):
    """(text, label, position of the planted word); label 2 = no planted word (training only)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        words = list(rng.choice(FILLER, rng.integers(4, 10)))
        label = int(rng.integers(3 if with_unplanted else 2))
        position = int(rng.integers(len(words) + 1))
        if label < 2:
            words.insert(position, "zorb" if label == 1 else "blick")
        out.append((" ".join(words), label, position))
    return out


@pytest.fixture(scope="module")
def planted(one_torch_thread):
    model = tiny_classifier(words=[*FILLER, "zorb", "blick"], chars=[], seed=0)
    train = sentences(3000, seed=1, with_unplanted=True)
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.hf_model.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    model.hf_model.train()
    for _ in range(200):
        rows = [train[i] for i in rng.choice(len(train), 32)]
        batch = engine.pad_batch(model.token_ids([t for t, _, _ in rows]), model.pad_token_id, model.device)
        soft = torch.tensor([[1.0 - y, float(y)] if y < 2 else [0.5, 0.5] for _, y, _ in rows])
        loss = torch.nn.functional.cross_entropy(model.hf_model(**batch).logits, soft, label_smoothing=0.1)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.hf_model.eval()
    test = sentences(N_TEST, seed=2)
    texts = [t for t, _, _ in test]
    labels = np.array([y for _, y, _ in test])
    positions = np.array([p for _, _, p in test])
    assert (model.predict(texts) == labels).mean() == 1.0  # the model learned the rule
    return model, texts, labels, positions


def top1_rate(model, texts, labels, positions, name, magnitude=False):
    attrs = xb.get_explainer(name, **PARAMS.get(name, {})).explain(model, texts, targets=list(labels))
    top = [int(np.argmax(np.abs(a.scores))) if magnitude else int(a.ranking()[0]) for a in attrs]
    rate = float(np.mean(np.array(top) == positions))
    print(f"{name}{' |score|' if magnitude else ''}: planted word ranked first in {rate:.0%} of {len(texts)}")
    return rate


@pytest.mark.parametrize("name", ["occlusion", *(pytest.param(n, marks=pytest.mark.slow)  # realistic budgets
                                                  for n in ("integrated_gradients", "lime", "shap", "kernel_shap",
                                                            "gradient_shap"))])
def test_perturbation_and_path_methods_find_the_planted_word(planted, name):
    assert top1_rate(*planted, name) >= 0.9


@pytest.mark.parametrize("name", ["saliency", "smoothgrad"])
def test_saliency_finds_the_planted_word(planted, name):
    assert top1_rate(*planted, name) >= 0.7


def test_grad_x_input_magnitude_finds_the_planted_word(planted):
    assert top1_rate(*planted, "grad_x_input", magnitude=True) >= 0.7


@pytest.mark.xfail(reason="signed gradient x input on pre-LayerNorm word embeddings gives the planted word a "
                          "large NEGATIVE score on this model (growing its embedding would saturate); measured "
                          "top-1 by signed score: ~0-35% over training seeds, by |score| 97.5%", strict=False)
def test_grad_x_input_signed_ranks_the_planted_word_first(planted):
    assert top1_rate(*planted, "grad_x_input") >= 0.7


def test_random_is_near_chance(planted):
    model, texts, labels, positions = planted
    chance = float(np.mean([1 / len(model.units(t)) for t in texts]))
    rate = top1_rate(*planted, "random")
    assert abs(rate - chance) <= 0.2  # ~0.14 expected; 40 sentences give a standard error of ~0.06


def test_integrated_gradients_completeness_improves_with_steps(planted):
    """|sum(scores) - (p(x) - p(baseline))| is small and shrinks as n_steps grows."""
    model, texts, labels, _ = planted
    texts, labels = texts[:10], labels[:10]
    ids = model.token_ids(texts)
    special = set(model.tokenizer.all_special_ids) - {model.tokenizer.unk_token_id}
    baselines = [[t if t in special else model.pad_token_id for t in row] for row in ids]
    batch = engine.pad_batch(baselines, model.pad_token_id, model.device)
    with torch.inference_mode():
        p_baseline = model.output_from_logits(model.hf_model(**batch).logits.double().numpy(), labels, "prob")
    p_x = model.explained_output(texts, labels)
    gaps = {}
    for n_steps in (4, 50, 200):
        attrs = xb.get_explainer("integrated_gradients", n_steps=n_steps).explain(model, texts, targets=list(labels))
        error = np.abs(np.array([a.scores.sum() for a in attrs]) - (p_x - p_baseline))
        np.testing.assert_allclose(error, np.abs([a.metadata["convergence_delta"] for a in attrs]), atol=1e-5)
        gaps[n_steps] = float(error.mean())
    print(f"IG completeness gap, mean over 10 sentences: {gaps}; "
          f"mean |p(x) - p(baseline)| = {np.mean(np.abs(p_x - p_baseline)):.3f}")
    assert gaps[200] < gaps[50] < gaps[4]
    assert gaps[50] < 0.05 * np.mean(np.abs(p_x - p_baseline))


def test_deeplift_magnitude_finds_the_planted_word(planted):
    """DeepLIFT's Rescale rule only acts on the pooler's tanh here (no rule for GELU, LayerNorm or
    attention's softmax), so it is close to gradient x (input − baseline) at the input: like signed
    gradient x input it gives the planted word a large negative score on this model, and like
    gradient x input its magnitude finds it (see the xfail below)."""
    assert top1_rate(*planted, "deeplift", magnitude=True) >= 0.9


@pytest.mark.xfail(reason="signed DeepLIFT on this tiny BERT behaves like signed gradient x input: measured top-1 "
                          "0% by signed score, 100% by |score| (test above)", strict=False)
def test_deeplift_signed_ranks_the_planted_word_first(planted):
    assert top1_rate(*planted, "deeplift") >= 0.9
