"""Property tests of the faithfulness metrics on an additive (bag-of-words) binary classifier.

For such a model the target-class probability is sigmoid(bias + sum of the kept units' weights), so
ranking units by their weight is the ideal ordering: it removes the largest contributions first
and keeps the largest ones first, for every k at once. No other ordering may beat it on any metric.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xaibench as xb
from xaibench.api import attribution_from_scores
from xaibench.metrics.evaluation import evaluate_metrics
from xaibench.modeling.classifier import Classifier
from xaibench.modeling.tokenization import vocab_tokenizer

WORDS = ("alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta", "iota", "kappa", "好", "差")
NAMES = ("comprehensiveness", "sufficiency", "deletion_auc", "insertion_auc", "loo_correlation")
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


class Additive(torch.nn.Module):
    """logits = [0, bias + sum of token weights]: an HF-shaped transparent binary classifier."""

    def __init__(self, table: torch.Tensor, bias: float):
        super().__init__()
        self.table, self.bias = table, bias
        self.config = SimpleNamespace(num_labels=2, problem_type="single_label_classification",
                                      id2label={0: "neg", 1: "pos"}, max_position_embeddings=64)

    def forward(self, input_ids, attention_mask=None, **kwargs):
        margin = (self.table[input_ids] * attention_mask).sum(1) + self.bias
        return SimpleNamespace(logits=torch.stack([torch.zeros_like(margin), margin], dim=1))


def additive_model(seed: int = 0):
    tokenizer = vocab_tokenizer(WORDS)
    vocab = tokenizer.get_vocab()
    rng = np.random.default_rng(seed)
    weights = {w: float(v) for w, v in zip(WORDS, np.round(rng.normal(0, 1.5, len(WORDS)), 3))}
    table = torch.zeros(len(vocab), dtype=torch.float64)
    for w, v in weights.items():
        table[vocab[w]] = v
    table[tokenizer.mask_token_id] = -0.3  # a constant shift per masked unit keeps the model additive
    return Classifier(Additive(table, 0.2), tokenizer, name="additive"), weights


MODEL, WEIGHTS = additive_model()
texts = st.lists(st.sampled_from(WORDS), min_size=1, max_size=9).map(" ".join)


def scores_of(text: str, target: int) -> np.ndarray:
    sign = 1.0 if target == 1 else -1.0
    return np.array([sign * WEIGHTS[u.text] for u in MODEL.units(text)])


def evaluate(attrs, mode, **kw):
    metrics = [xb.get_metric(n, mode=mode, n_random=2) for n in NAMES]
    return evaluate_metrics(MODEL, metrics, attrs, **kw)


@SETTINGS
@given(text=texts, target=st.sampled_from([0, 1]), mode=st.sampled_from(["delete", "mask"]), data=st.data())
def test_ideal_ordering_is_at_least_as_good_as_any_other(text, target, mode, data):
    ideal = scores_of(text, target)
    other = data.draw(st.permutations(list(range(len(ideal)))))  # any ordering, ties included below
    other_scores = np.asarray(other, dtype=float) // data.draw(st.sampled_from([1, 2]))
    attrs = [attribution_from_scores(MODEL, text, s, target=target) for s in (ideal, other_scores)]
    res = evaluate(attrs, mode)
    for name in NAMES:
        best, value = res[name].values
        if np.isnan(best):  # loo_correlation: one unit or all weights equal
            assert name == "loo_correlation"
            continue
        if np.isnan(value):
            continue
        if res[name].higher_is_better:
            assert best >= value - 1e-9, name
        else:
            assert best <= value + 1e-9, name
    assert np.isnan(res["loo_correlation"].values[0]) or res["loo_correlation"].values[0] == pytest.approx(1.0)


BOUNDS = {"comprehensiveness": (-1, 1), "sufficiency": (-1, 1), "deletion_auc": (0, 1), "insertion_auc": (0, 1),
          "loo_correlation": (-1, 1)}


@SETTINGS
@given(text=texts, seed=st.integers(0, 2**16), mode=st.sampled_from(["delete", "mask"]))
def test_values_and_random_references_are_bounded(text, seed, mode):
    scores = np.random.default_rng(seed).normal(size=len(MODEL.units(text)))
    res = evaluate([attribution_from_scores(MODEL, text, scores)], mode)
    for name, (low, high) in BOUNDS.items():
        for v in (res[name].values[0], res[name].random_reference[0]):
            assert np.isnan(v) or low - 1e-12 <= v <= high + 1e-12, (name, v)
        if np.isnan(res[name].values[0]):
            assert res[name].notes[0]


@settings(max_examples=10, deadline=None)
@given(batch=st.lists(texts, min_size=2, max_size=7), perm_seed=st.integers(0, 1000),
       chunk=st.integers(1, 4))
def test_permuting_examples_permutes_results(batch, perm_seed, chunk):
    rng = np.random.default_rng(perm_seed)
    attrs = [attribution_from_scores(MODEL, t, rng.normal(size=len(MODEL.units(t)))) for t in batch]
    perm = rng.permutation(len(attrs))
    base = evaluate(attrs, "delete")
    shuffled = evaluate([attrs[i] for i in perm], "delete", chunk_size=chunk)
    for name in NAMES:
        np.testing.assert_allclose(shuffled[name].values, base[name].values[perm], atol=1e-12)
        np.testing.assert_allclose(shuffled[name].random_reference, base[name].random_reference[perm], atol=1e-12)
        assert shuffled[name].notes == [base[name].notes[i] for i in perm]
    for got, i in zip(shuffled["deletion_auc"].curves, perm):  # batch composition moves the last bits
        want = base["deletion_auc"].curves[i]
        assert got["k"] == want["k"] and got["fractions"] == want["fractions"]
        np.testing.assert_allclose(got["values"], want["values"], atol=1e-12)
