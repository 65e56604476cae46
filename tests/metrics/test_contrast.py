"""Contrast pairs (minimal edits that flip the prediction) and contrast_hit@k, on a transparent
bag-of-words classifier and on a tiny random BERT."""
from __future__ import annotations


import numpy as np
import pytest
import torch

import xaibench as xb
from xaibench.datasets.vader_lexicon import vader_lexicon
from xaibench.metrics.contrast import contrast_pairs
from xaibench.metrics.contrast_edits import candidate_edits, chinese_antonyms, english_antonyms
from xaibench.testing import bag_of_words_classifier, tiny_classifier

# Class-1 logit = sum of the token weights: "not" outweighs any sentiment word, so negation flips.
WEIGHTS = {"good": 3.0, "bad": -2.0, "great": 2.0, "terrible": -2.5, "not": -8.0, "the": 0.0, "movie": 0.0,
           "is": 0.0, "was": 0.0, "plot": 0.0, "a": 0.0, "and": 0.0}


@pytest.fixture(scope="module")
def bow():
    return bag_of_words_classifier(WEIGHTS, labels=("neg", "pos"), name="bow-contrast", max_length=64)


# ---- candidate edits ----------------------------------------------------------------------------
def test_english_edits_insert_not_and_swap_antonyms_with_their_span():
    edits = candidate_edits("Good plot and the movie is great")
    assert [(e.kind, e.edited[e.span[0]:e.span[1]]) for e in edits] == [
        ("antonym", "Bad"), ("negation", "not"), ("antonym", "terrible")]
    assert edits[1].edited == "Good plot and the movie is not great"
    assert [e.kind for e in candidate_edits("the movie is not good")] == ["antonym"]  # already negated


def test_antonym_tables_are_opposite_in_the_lexicon():
    lexicon = vader_lexicon()
    table = english_antonyms()
    assert len(table) >= 60 and table["good"] == "bad" and table["bad"] == "good"
    assert all(lexicon[a] * lexicon[b] < 0 for a, b in table.items())
    zh = chinese_antonyms()
    assert zh["好"] == "差" and zh["满意"] == "失望" and all(zh[zh[w]] for w in zh)


def test_chinese_edits_negate_and_swap():
    edits = candidate_edits("很好，物流快")
    assert {(e.kind, e.edited) for e in edits} == {("negation", "很不好，物流快"), ("antonym", "很差，物流快"),
                                                  ("antonym", "很好，物流慢")}
    assert all(e.edited[e.span[0]:e.span[1]] in "不差慢" for e in edits)
    assert [e.edited for e in candidate_edits("质量不好") if e.kind == "negation"] == []  # already negated
    assert "没有用" in [e.edited for e in candidate_edits("有用")]


# ---- pairs really flip the model -------------------------------------------------------------------
def test_pairs_flip_the_prediction_and_keep_the_clearest_flip(bow):
    texts = ["the movie is good", "the plot was terrible", "the movie", "the movie was not good"]
    pairs = contrast_pairs(bow, texts)
    first = pairs[0]
    assert first.edited == "the movie is not good" and first.kind == "negation"  # p(neg) is highest
    assert (first.original_class, first.edited_class) == (1, 0) and first.n_flipping == 2
    assert pairs[1].edited == "the plot was great"  # "was not terrible" stays negative for this model
    assert "no candidate edit" in pairs[2]
    assert "flips" in pairs[3]  # "not bad" is still negative for a bag of words
    kept = [p for p in pairs if not isinstance(p, str)]
    assert (bow.predict([p.original for p in kept]) != bow.predict([p.edited for p in kept])).all()


def sentiment_sentences(n: int, seed: int) -> list[tuple[str, int]]:
    """Synthetic reviews whose label is the adjective's polarity, flipped by "not" / 不."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        if rng.random() < 0.7:
            positive = bool(rng.integers(2))
            adjectives = ["good", "great", "excellent", "nice"] if positive else ["bad", "terrible", "awful", "poor"]
            adjective = rng.choice(adjectives)
            negated = bool(rng.integers(2))
            subject = rng.choice(["the movie", "this phone", "the product", "the price"])
            out.append((f"{subject} {rng.choice(['is', 'was'])}{' not' if negated else ''} {adjective}",
                        int(positive != negated)))
        else:
            word, label = [("很好", 1), ("很差", 0), ("不好", 0), ("很快", 1), ("很慢", 0)][rng.integers(5)]
            out.append((f"{rng.choice(['质量', '物流', '东西'])}{word}", label))
    return out


@pytest.fixture(scope="module")
def sentiment_model():
    """A tiny BERT trained in a second or two on ``sentiment_sentences``."""
    from xaibench.modeling import engine

    model = tiny_classifier(seed=1)
    train = sentiment_sentences(2000, seed=0)
    ids, labels = model.token_ids([t for t, _ in train]), torch.tensor([y for _, y in train])
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.hf_model.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    model.hf_model.train()
    for _ in range(150):
        rows = rng.choice(len(ids), 32)
        batch = engine.pad_batch([ids[i] for i in rows], model.pad_token_id, model.device)
        loss = torch.nn.functional.cross_entropy(model.hf_model(**batch).logits, labels[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.hf_model.eval()
    return model


def test_pairs_on_a_transformer_really_flip_it(sentiment_model):
    test = sentiment_sentences(60, seed=1)
    texts = [t for t, _ in test]
    assert (sentiment_model.predict(texts) == np.array([y for _, y in test])).mean() >= 0.95
    pairs = contrast_pairs(sentiment_model, texts)
    kept = [p for p in pairs if not isinstance(p, str)]
    assert len(kept) >= 0.6 * len(texts) and {"negation", "antonym"} <= {p.kind for p in kept}
    assert any(p.original[:2] in ("质量", "物流", "东西") for p in kept)  # Chinese pairs too
    before = sentiment_model.predict([p.original for p in kept])
    after = sentiment_model.predict([p.edited for p in kept])
    assert (before != after).all()
    assert [p.original_class for p in kept] == before.tolist() and [p.edited_class for p in kept] == after.tolist()


# ---- contrast_hit@k ---------------------------------------------------------------------------------
def test_contrast_hit_with_occlusion_and_its_random_reference(bow):
    texts = ["the movie is good", "the plot was terrible", "the movie"]
    attrs = xb.get_explainer("occlusion").explain(bow, texts)
    metric = xb.get_metric("contrast_hit@1")
    result = metric.evaluate(bow, attrs)
    assert metric.name == "contrast_hit@1" and metric.higher_is_better
    assert result.values[:2].tolist() == [1.0, 1.0] and np.isnan(result.values[2])
    assert "no candidate edit" in result.notes[2]
    details = result.details[0]
    assert details["edited"] == "the movie is not good" and details["top_k_units"] == ["not"]
    assert details["edited_units"] == ["not"]
    assert result.random_reference[0] == pytest.approx(1 / 5)  # 1 - C(4, 1) / C(5, 1)
    assert xb.get_metric("contrast_hit@3").evaluate(bow, attrs[:1]).random_reference[0] == pytest.approx(1 - 4 / 10)


def test_contrast_hit_is_nan_where_it_does_not_apply():
    regression = tiny_classifier(regression=True)
    attrs = xb.get_explainer("random").explain(regression, ["the movie is good"])
    result = xb.get_metric("contrast_hit@3").evaluate(regression, attrs)
    assert np.isnan(result.values).all() and "classifier" in result.notes[0]
    with pytest.raises(TypeError, match="unexpected keyword argument 'k'"):
        xb.get_metric("contrast_hit@3", k=5)  # k is part of the name
    with pytest.raises(ValueError, match="max_candidates must be a positive integer"):
        xb.get_metric("contrast_hit@3", max_candidates=0)
    assert xb.get_metric("contrast_hit@3", max_candidates=4).params() == {"max_candidates": 4}


def test_external_attributions_cannot_be_re_explained(bow):
    a = xb.attribution_from_scores(bow, "the movie is good", [0.0, 0.0, 0.0, 1.0])
    result = xb.get_metric("contrast_hit@3").evaluate(bow, [a])
    assert np.isnan(result.values[0]) and "cannot rebuild" in result.notes[0]
