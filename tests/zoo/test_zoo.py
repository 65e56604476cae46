"""Fast checks of the built-in model machinery: recipe keys, cache layout, atomic publish, the
training loop on a handful of examples. No real model is trained here (see scripts/measure_models.py).
"""
from __future__ import annotations

import copy
import json
import re

import numpy as np
import pytest
import torch

from xaibench.core import registry
from xaibench.testing import tiny_classifier
from xaibench.zoo import builds, recipes
from xaibench.zoo.training import bucketed_batches, linear_warmup_decay, train_classifier

BUILTIN_NAMES = ["charbert-reviews-zh", "minilm-reviews-en"]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XAIBENCH_CACHE", str(tmp_path))
    return tmp_path


def fake_builder(calls: list):
    def build(recipe, folder, progress):
        calls.append(folder)
        (folder / "config.json").write_text("{}")
        return {"accuracy": {"test": 0.9}}

    return build


# ---- recipes and keys -------------------------------------------------------------------------
def test_recipe_key_is_a_stable_sha256_prefix():
    # Golden value: a change here silently orphans every cached model, so it must be deliberate.
    assert builds.recipe_key({"a": 1, "b": [1, 2]}) == "8baa73198470"
    assert builds.recipe_key({"b": [1, 2], "a": 1}) == "8baa73198470"  # key order does not matter
    # Non-ASCII text is hashed as UTF-8 (ensure_ascii=False); \u escapes would give 27da6fd50f80.
    assert builds.recipe_key({"text": "质量很好", "lr": 3e-05}) == "723d917da995"
    key = builds.recipe_key(recipes.MINILM_REVIEWS_EN)
    assert re.fullmatch(r"[0-9a-f]{12}", key), key
    assert key == builds.recipe_key(copy.deepcopy(recipes.MINILM_REVIEWS_EN))


@pytest.mark.parametrize("recipe", [recipes.MINILM_REVIEWS_EN, recipes.CHARBERT_REVIEWS_ZH], ids=["en", "zh"])
def test_recipe_key_changes_with_every_field(recipe):
    base = builds.recipe_key(recipe)
    for field in recipe:
        changed = copy.deepcopy(recipe)
        changed[field] = "something else"
        assert builds.recipe_key(changed) != base, field
    if "architecture" in recipe:
        changed = copy.deepcopy(recipe)
        changed["architecture"]["num_hidden_layers"] += 1
        assert builds.recipe_key(changed) != base


def test_recipes_are_json_plain_and_versioned():
    for recipe in (recipes.MINILM_REVIEWS_EN, recipes.CHARBERT_REVIEWS_ZH):
        assert json.loads(json.dumps(recipe)) == recipe
        assert recipe["recipe_version"] == recipes.RECIPE_VERSION
        assert recipe["split"] == "train"


def test_builtin_models_are_registered_with_their_recipe_and_key(cache):
    assert set(BUILTIN_NAMES) <= set(registry.models.names())
    for name in BUILTIN_NAMES:
        model = registry.models.create(name)
        assert model.name == name
        assert model.key == builds.recipe_key(model.recipe)
        assert model.folder == cache / "models" / f"{name}-{model.key}"
        assert model.targets["test_accuracy"] >= 0.85
    # Each call hands out its own recipe copy: editing one cannot change the registered recipe.
    registry.models.create("minilm-reviews-en").recipe["lr"] = 1.0
    assert registry.models.create("minilm-reviews-en").recipe["lr"] == recipes.MINILM_REVIEWS_EN["lr"]


# ---- cache layout and atomic publish ----------------------------------------------------------
def test_ensure_built_publishes_once_with_a_card(cache):
    calls = []
    model = builds.BuiltinModel("fake", {"recipe_version": 1, "seed": 0}, fake_builder(calls))
    folder = model.ensure_built(progress=False)
    assert folder == cache / "models" / f"fake-{model.key}"
    assert (folder / "config.json").is_file()
    card = json.loads((folder / builds.CARD_FILE).read_text())
    assert card["name"] == "fake" and card["key"] == model.key and card["recipe"] == model.recipe
    assert card["accuracy"] == {"test": 0.9} and "build_seconds" in card
    assert model.ensure_built(progress=False) == folder
    assert len(calls) == 1, "a built model must come from the cache"
    assert calls[0].parent == folder.parent and calls[0].name.startswith(".staging-")
    assert [p.name for p in folder.parent.iterdir() if p.name.startswith(".staging")] == []


def test_interrupted_build_leaves_no_model_and_no_staging(cache):
    def broken(recipe, folder, progress):
        (folder / "half.bin").write_bytes(b"x")
        raise KeyboardInterrupt

    model = builds.BuiltinModel("broken", {"seed": 0}, broken)
    with pytest.raises(KeyboardInterrupt):
        model.ensure_built(progress=False)
    assert not model.folder.exists() and not model.is_built()
    assert [p for p in (cache / "models").iterdir() if p.is_dir()] == []
    calls = []
    fixed = builds.BuiltinModel("broken", {"seed": 0}, fake_builder(calls))
    assert fixed.ensure_built(progress=False).is_dir() and len(calls) == 1


def test_changed_recipe_builds_a_new_folder(cache):
    calls = []
    first = builds.BuiltinModel("fake", {"seed": 0}, fake_builder(calls)).ensure_built(progress=False)
    second = builds.BuiltinModel("fake", {"seed": 1}, fake_builder(calls)).ensure_built(progress=False)
    assert first != second and first.is_dir() and second.is_dir() and len(calls) == 2


# ---- training loop ----------------------------------------------------------------------------
def test_bucketed_batches_cover_every_index_once_and_group_lengths():
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 200, size=1000)
    batches = bucketed_batches(lengths, batch_size=8, seed=0, epoch=0)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(1000))
    assert all(len(b) <= 8 for b in batches)
    spread = np.mean([lengths[b].max() - lengths[b].min() for b in batches])
    assert spread < 0.2 * (lengths.max() - lengths.min())  # random batches would spread ~75%
    again = bucketed_batches(lengths, batch_size=8, seed=0, epoch=0)
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))
    other_epoch = bucketed_batches(lengths, batch_size=8, seed=0, epoch=1)
    assert not all(np.array_equal(a, b) for a, b in zip(batches, other_epoch))


def test_linear_warmup_decay_shape():
    factor = linear_warmup_decay(warmup_steps=4, total_steps=10)
    assert [factor(s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert factor(4) == 1.0 and factor(7) == pytest.approx(0.5) and factor(10) == 0.0
    assert linear_warmup_decay(0, 5)(0) == 1.0


def tiny_run(seed: int, epochs: float = 1):
    classifier = tiny_classifier(seed=0, hidden=16, layers=1)
    model, tokenizer = classifier.hf_model, classifier.tokenizer
    texts = ["good product", "bad product", "very good", "awful", "很好", "太差", "love it", "hate it"]
    labels = [1, 0, 1, 0, 1, 0, 1, 0]
    ids = tokenizer(texts, truncation=True, max_length=16)["input_ids"]
    before = [p.detach().clone() for p in model.parameters()]
    torch.manual_seed(seed)
    stats = train_classifier(model, ids, labels, pad_token_id=tokenizer.pad_token_id, batch_size=4,
                             lr=1e-2, epochs=epochs, seed=seed, warmup_ratio=0.5)
    return model, before, stats


def test_train_classifier_updates_the_model_and_reports():
    model, before, stats = tiny_run(seed=0)
    assert stats.steps == 2 and stats.examples == 8
    assert 0 < stats.tokens <= stats.padded_tokens and np.isfinite(stats.final_loss)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert not model.training


def test_train_classifier_is_reproducible_from_the_seed():
    first, _, _ = tiny_run(seed=3)
    second, _, _ = tiny_run(seed=3)
    for a, b in zip(first.parameters(), second.parameters()):
        assert torch.equal(a, b)


def test_fractional_epochs_stop_early():
    _, _, stats = tiny_run(seed=0, epochs=1.5)
    assert stats.steps == 3 and stats.examples == 12


def test_train_classifier_rejects_mismatched_inputs():
    classifier = tiny_classifier(hidden=16, layers=1)
    with pytest.raises(ValueError, match="labels"):
        train_classifier(classifier.hf_model, [[2, 3]], [0, 1], pad_token_id=0, batch_size=2, lr=1e-3,
                         epochs=1, seed=0)
