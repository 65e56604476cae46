"""Meaning-preserving perturbations: seeded and reproducible, language-aware, protected units left
alone, and the label check keeps only edits within the threshold."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from xaibench.core.units import split_units
from xaibench.metrics.label_preserving import (
    OPERATORS,
    align_units,
    alignment_key,
    detect_language,
    label_preserving,
    propose,
)
from xaibench.modeling.classifier import Classifier
from xaibench.modeling.tokenization import vocab_tokenizer
from xaibench.testing import tiny_classifier

EN = [
    "The delivery was slow but the quality is excellent.",
    "I would never buy this phone again, the screen broke after a week!",
    "Honestly a fine movie with a great cast",
]
ZH = ["质量很好，物流也快。", "手机不好,太贵了!", "这本书写得很一般，不推荐购买。"]
PLANTED = "excellent"


class PlantedBag(torch.nn.Module):
    """An HF-like classifier whose class-1 logit is +6 per planted token and −3 otherwise (bias)."""

    def __init__(self, tokenizer):
        super().__init__()
        table = torch.zeros(len(tokenizer.get_vocab()), 2, dtype=torch.float64)
        table[tokenizer.convert_tokens_to_ids(PLANTED), 1] = 6.0
        self.table = torch.nn.Parameter(table, requires_grad=False)
        self.config = SimpleNamespace(num_labels=2, id2label={0: "neg", 1: "pos"},
                                      problem_type="single_label_classification", max_position_embeddings=64)

    def forward(self, input_ids, attention_mask=None, **kwargs):
        logits = (self.table[input_ids] * attention_mask[..., None]).sum(1)
        logits[:, 1] -= 3.0
        return SimpleNamespace(logits=logits)


@pytest.fixture(scope="module")
def planted_bag():
    words = "the delivery was slow but quality is excellent a fine movie with great cast product".split()
    tokenizer = vocab_tokenizer(words)
    return Classifier(PlantedBag(tokenizer), tokenizer, name="planted-bag")


@pytest.mark.parametrize("text", EN + ZH)
def test_propose_is_seeded_and_reproducible(text):
    first = propose(text, 6, seed=3)
    again = propose(text, 6, seed=3)
    assert [(p.text, p.kind) for p in first] == [(p.text, p.kind) for p in again]
    assert len(first) == 6
    assert len({p.text for p in first}) == 6 and all(p.text != text for p in first)
    other = [p.text for p in propose(text, 6, seed=4)]
    assert other != [p.text for p in first]


def test_language_picks_the_operator_set():
    assert [detect_language(t) for t in EN] == ["en"] * 3
    assert [detect_language(t) for t in ZH] == ["zh"] * 3
    for text in EN:
        assert {p.kind for p in propose(text, 8, seed=0)} <= set(OPERATORS["en"])
    kinds = {p.kind for text in ZH for s in range(3) for p in propose(text, 8, seed=s)}
    assert kinds == set(OPERATORS["zh"])  # every Chinese operator fires on these texts
    with pytest.raises(ValueError, match="language"):
        propose(EN[0], 2, language="fr")


@pytest.mark.parametrize("text", [EN[0], EN[1], ZH[2]])
def test_protected_units_are_never_edited(text):
    units = [u.text for u in split_units(text)]
    protected = list(range(0, len(units), 2))
    for seed in range(5):
        for p in propose(text, 8, seed=seed, protected=protected):
            new_units = [u.text for u in split_units(p.text)]
            aligned = dict(align_units(units, new_units))
            for i in protected:
                # Still there, at an aligned position, with its exact text (case changes excluded).
                assert i in aligned, (p.kind, p.text, units[i])
                assert alignment_key(new_units[aligned[i]]) == alignment_key(units[i])
                if p.kind in ("typo", "variant"):
                    assert new_units[aligned[i]] == units[i]


def test_alignment_treats_width_case_and_script_variants_as_the_same_unit():
    assert align_units(["Great", "，", "买", "!"], ["great", ",", "買", "！"]) == [(0, 0), (1, 1), (2, 2), (3, 3)]
    # A typo'd word and an inserted filler are left out; order is kept.
    pairs = align_units(["the", "quality", "is", "great"], ["honestly", "the", "qaulity", "is", "great"])
    assert pairs == [(0, 1), (2, 3), (3, 4)]


def test_label_check_rejects_label_changes_and_big_moves(planted_bag):
    texts = ["the quality is excellent but the delivery was slow", "a fine movie with excellent cast"]
    # Nothing protected: typos may hit the planted word and flip the label.
    sets = label_preserving(planted_bag, texts, [1, 1], n_tries=40, n_keep=40, max_delta=0.05, seed=1)
    flips = 0
    for s, text in zip(sets, texts):
        cands = propose(text, 40, seed=1)
        assert s.tried == len(cands) and len(s.kept) <= s.tried and len(s.deltas) == len(s.kept)
        p = planted_bag.predict_proba([text, *[c.text for c in cands]])
        flips += int((p[1:].argmax(1) != p[0].argmax()).sum())
        if s.kept:
            kept_p = planted_bag.predict_proba(s.texts)
            assert (kept_p.argmax(1) == p[0].argmax()).all()
            assert np.all(np.abs(kept_p[:, 1] - p[0, 1]) <= 0.05)
            np.testing.assert_allclose(kept_p[:, 1] - p[0, 1], s.deltas, atol=1e-12)
    assert flips > 0  # the check had something to reject
    assert sum(len(s.kept) for s in sets) < sum(s.tried for s in sets)
    # n_keep caps what is kept, in proposal order.
    capped = label_preserving(planted_bag, texts, [1, 1], n_tries=40, n_keep=2, seed=1)
    assert [c.texts for c in capped] == [s.texts[:2] for s in sets]


def test_zero_threshold_keeps_only_output_identical_edits(tiny_model):
    texts = [EN[0], ZH[0]]
    sets = label_preserving(tiny_model, texts, [0, 1], n_tries=8, n_keep=8, max_delta=0.0, seed=0)
    for s in sets:
        assert all(d == 0.0 for d in s.deltas)
    loose = label_preserving(tiny_model, texts, [0, 1], n_tries=8, n_keep=8, max_delta=0.05, seed=0)
    # The random tiny model moves p by ~1e-6 for any token change: all kept at 0.05, few at 0.
    assert sum(len(s.kept) for s in loose) > sum(len(s.kept) for s in sets)


def test_label_preserving_uses_one_batched_engine_call(monkeypatch):
    model = tiny_classifier()  # its own instance: the patched method must not outlive the test
    calls = []
    original = model.logits
    monkeypatch.setattr(model, "logits", lambda texts, **kw: calls.append(len(texts)) or original(texts, **kw))
    sets = label_preserving(model, EN + ZH, [0] * 6, n_tries=5, n_keep=2, seed=0)
    assert calls == [6 + sum(s.tried for s in sets)]
