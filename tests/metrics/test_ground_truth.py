"""Planted-cause tasks and the ground-truth metrics: hand-computed values, NaN where a task has no
ground truth, and a tiny model trained in seconds on planted-en whose cause occlusion finds."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import xaibench as xb
from xaibench.core.records import Example
from xaibench.core.references import with_references
from xaibench.core.units import split_units
from xaibench.datasets.planted import CAUSES, remove_cause, swap_cause
from xaibench.harness.config import RunConfig, Task
from xaibench.modeling import engine
from xaibench.testing import tiny_classifier
from xaibench.zoo.counterfactual import counterfactual_check


def scored(model, text, scores, cause=None, rationale=()):
    a = xb.attribution_from_scores(model, text, scores, target=1)
    example = Example("x", text, 1, tuple(rationale), tuple(cause or ()))
    return with_references([a], [example])[0]


# ---- the metrics, by hand -----------------------------------------------------------------------
def test_top1_and_rank_by_hand(tiny_model):
    text = "the zephyr movie is good"  # units: the zephyr movie is good; cause = unit 1
    a = scored(tiny_model, text, [0.5, 0.2, 0.9, 0.1, 0.3], cause=[(4, 10)])
    top1, rank = xb.get_metric("ground_truth_top1"), xb.get_metric("ground_truth_rank")
    # ranking: movie, the, good, zephyr, is -> 3 non-cause units above the cause, of n - m = 4
    assert top1.score(tiny_model, [a]).tolist() == [0.0]
    assert rank.score(tiny_model, [a]).tolist() == [0.75]
    result = rank.evaluate(tiny_model, [a])
    assert result.random_reference.tolist() == [0.5] and not rank.higher_is_better and top1.higher_is_better
    assert top1.evaluate(tiny_model, [a]).random_reference.tolist() == [pytest.approx(0.2)]

    b = scored(tiny_model, text, [0.5, 2.0, 0.9, 0.1, 0.3], cause=[(4, 10)])
    assert top1.score(tiny_model, [b]).tolist() == [1.0] and rank.score(tiny_model, [b]).tolist() == [0.0]
    # ties are broken by position: all-zero scores rank "the" first, the cause second -> 1/4
    c = scored(tiny_model, text, [0.0] * 5, cause=[(4, 10)])
    assert top1.score(tiny_model, [c]).tolist() == [0.0] and rank.score(tiny_model, [c]).tolist() == [0.25]


def test_rank_of_a_two_unit_cause_counts_non_cause_units_above_its_best_unit(tiny_model):
    # cause = "zephyr movie" (units 1 and 2); ranking: good, zephyr, the, movie, is -> r = 1, n - m = 3
    a = scored(tiny_model, "the zephyr movie is good", [0.5, 0.8, 0.3, 0.1, 0.9], cause=[(4, 16)])
    result = xb.get_metric("ground_truth_rank").evaluate(tiny_model, [a])
    assert result.values.tolist() == [pytest.approx(1 / 3)]
    assert result.random_reference.tolist() == [pytest.approx(1 / 3)]  # 1 / (m + 1)
    assert xb.get_metric("ground_truth_top1").evaluate(tiny_model, [a]).random_reference.tolist() == [0.4]


def test_examples_without_ground_truth_are_nan_with_a_note(tiny_model):
    plain = xb.attribution_from_scores(tiny_model, "a good movie", [1.0, 2.0, 3.0], target=1)
    whole = scored(tiny_model, "zephyr", [1.0], cause=[(0, 6)])
    empty = scored(tiny_model, "", [], cause=[(0, 0)])
    for name in ("ground_truth_top1", "ground_truth_rank"):
        result = xb.get_metric(name).evaluate(tiny_model, [plain, empty])
        assert np.isnan(result.values).all()
        assert "no ground truth" in result.notes[0] and "empty" in result.notes[1]
    rank = xb.get_metric("ground_truth_rank").evaluate(tiny_model, [whole])
    assert np.isnan(rank.values[0]) and "every unit" in rank.notes[0]
    assert xb.get_metric("ground_truth_top1").score(tiny_model, [whole]).tolist() == [1.0]


# ---- the planted data -----------------------------------------------------------------------------
@pytest.mark.parametrize("name,source", [("planted-en", "reviews-en"), ("planted-zh", "reviews-zh")])
def test_planted_examples_carry_their_cause_and_keep_the_source_split(name, source):
    ds = xb.load_dataset(name, split="test", n=50)
    source_ids = set(xb.load_dataset(source, split="test").ids)
    assert ds.info["causes"] == list(CAUSES[name]) and set(ds.ids) <= source_ids
    labels = []
    for e in ds:
        (start, end), = e.cause_spans
        assert e.text[start:end] == CAUSES[name][e.label]
        assert sum(e.text.count(c) for c in CAUSES[name]) == 1  # the cause occurs exactly once
        flipped = swap_cause(e, name)
        assert flipped.label == 1 - e.label and flipped.text.count(CAUSES[name][flipped.label]) == 1
        assert not any(c in remove_cause(e).text for c in CAUSES[name])
        labels.append(e.label)
    assert 0.25 < np.mean(labels) < 0.75  # coin-flip labels
    train = xb.load_dataset(name, split="train", n=400, no_cause_share=0.2)
    without = [e for e in train if not e.cause_spans]
    assert 0.1 < len(without) / len(train) < 0.3
    assert not any(c in e.text for e in without for c in CAUSES[name])


def test_builtin_planted_models_and_tasks_are_registered():
    from xaibench.core import registry
    from xaibench.harness.config import builtin_tasks, profile_datasets, profile_metrics
    from xaibench.zoo import recipes

    tasks = builtin_tasks()
    assert tasks["planted-en"] == "minilm-planted-en" and tasks["planted-zh"] == "charbert-planted-zh"
    for profile in ("quick", "full"):
        assert {"planted-en", "planted-zh"} <= set(profile_datasets(profile))
        assert {"ground_truth_top1", "ground_truth_rank", "contrast_hit@3"} <= set(profile_metrics(profile))
    assert "planted-en" not in profile_datasets("smoke") and "ground_truth_top1" not in profile_metrics("smoke")
    recipes = {"minilm-planted-en": recipes.MINILM_PLANTED_EN, "charbert-planted-zh": recipes.CHARBERT_PLANTED_ZH}
    for name, recipe in recipes.items():
        model = registry.models.create(name)
        assert model.recipe == recipe and model.recipe["dataset"] in tasks
        assert model.targets["counterfactual_accuracy"] >= 0.95 and model.targets["train_seconds"] <= 180


# ---- a tiny model that learns the planted cause ------------------------------------------------
@pytest.fixture(scope="module")
def planted_en(one_torch_thread):
    """A tiny BERT trained in seconds on 1,500 planted-en reviews; the 30% without a cause are
    trained towards 50/50 (soft targets), else the tiny model learns "zephyr -> 1, anything else -> 0"
    and "quixel" causes nothing."""
    train = xb.load_dataset("planted-en", split="train", n=1500, no_cause_share=0.3)
    words = sorted({u.text.lower() for t in train.texts for u in split_units(t)})
    model = tiny_classifier(words=words, chars=[], seed=0, max_length=128)
    ids = model.token_ids(train.texts)
    targets = torch.tensor([[1.0 - e.label, float(e.label)] if e.cause_spans else [0.5, 0.5] for e in train])
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.hf_model.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    model.hf_model.train()
    for _ in range(400):
        rows = rng.choice(len(ids), 32)
        batch = engine.pad_batch([ids[i] for i in rows], model.pad_token_id, model.device)
        loss = torch.nn.functional.cross_entropy(model.hf_model(**batch).logits, targets[rows], label_smoothing=0.1)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.hf_model.eval()
    test = xb.load_dataset("planted-en", split="test", n=40)
    return model, test


@pytest.mark.slow  # trains a model (planted_en, ~7 s)
def test_tiny_model_uses_the_cause(planted_en):
    model, _ = planted_en
    check = counterfactual_check(model, "planted-en", n=60)
    print(f"tiny planted-en model: {check}")
    assert check["accuracy"] >= 0.95 and check["counterfactual_accuracy"] >= 0.95


@pytest.mark.slow
def test_occlusion_finds_the_cause_and_random_does_not(planted_en):
    model, test = planted_en
    rates = {}
    for name in ("occlusion", "random"):
        attrs = with_references(xb.get_explainer(name).explain(model, test.texts), test.examples)
        rates[name] = float(np.mean(xb.get_metric("ground_truth_top1").score(model, attrs)))
        rates[name + " rank"] = float(np.mean(xb.get_metric("ground_truth_rank").score(model, attrs)))
    print(f"ground truth on {len(test)} planted-en test reviews: {rates}")
    assert rates["occlusion"] >= 0.9 and rates["occlusion rank"] <= 0.05
    assert rates["random"] <= 0.3 and rates["random rank"] >= 0.25


@pytest.mark.slow
def test_session_attaches_the_ground_truth_and_leaves_other_tasks_nan(planted_en, tmp_path):
    from xaibench.harness.cache import ResultCache
    from xaibench.harness.session import BenchmarkSession

    model, _ = planted_en
    config = RunConfig(profile="quick", tasks=[Task("planted-en", "tiny"), Task("reviews-en", "tiny")],
                       explainers={"occlusion": {}}, metrics=["ground_truth_top1", "ground_truth_rank"], n=8,
                       seed=0, out=str(tmp_path / "run"))
    session = BenchmarkSession(config, cache=ResultCache(tmp_path / "cache"))
    session.use_model("tiny", model)
    for cell in session.cells():
        session.run_cell(cell, progress=False)
    rows = session.per_example
    planted = [r for r in rows if r["dataset"] == "planted-en"]
    plain = [r for r in rows if r["dataset"] == "reviews-en"]
    assert len(planted) == len(plain) == 16
    assert all(np.isfinite(r["value"]) for r in planted)
    assert all(np.isnan(r["value"]) and r["status"] == "nan" and "no ground truth" in r["note"] for r in plain)
