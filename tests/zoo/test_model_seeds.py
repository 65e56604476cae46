"""Model seeds of the built-in models (``<name>-seed<s>``): names, recipes, cache keys, loading and
``xaibench prepare --model-seeds``. No real model is trained: builders are faked or folders
pre-filled with a tiny model."""
from __future__ import annotations

import copy
import json

import pytest

from xaibench import cli
from xaibench.core import registry
from xaibench.modeling.loading import (
    builtin_model,
    is_builtin,
    load_model,
    model_labels,
    model_task_type,
    seed_model_name,
    split_seed_name,
)
from xaibench.testing import tiny_classifier
from xaibench.zoo import builds, recipes


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XAIBENCH_CACHE", str(tmp_path))
    return tmp_path


def test_seed_zero_keeps_the_recipe_and_key_of_every_cached_model():
    for name, (recipe, _, _) in recipes.BUILTIN_MODELS.items():
        untouched = copy.deepcopy(recipe)
        model = registry.models.create(name)
        assert model.name == name and model.recipe == untouched
        assert model.key == builds.recipe_key(untouched)
        assert registry.models.create(name, seed=0).key == builds.recipe_key(untouched)
        assert builtin_model(name).key == builds.recipe_key(untouched)
    # The cache key of the reference model: a change here orphans every user's cached model.
    assert builds.recipe_key(recipes.MINILM_REVIEWS_EN) == "28fc5632aa08"


def test_seed_variants_change_only_the_seed_and_get_their_own_key_and_folder(cache):
    base = registry.models.create("minilm-reviews-en")
    keys = {base.key}
    for s in (1, 2, 3):
        variant = builtin_model(f"minilm-reviews-en-seed{s}")
        assert variant.name == f"minilm-reviews-en-seed{s}" == seed_model_name("minilm-reviews-en", s)
        # Training seed s; the train subset stays the one of seed 0 (data_seed).
        assert variant.recipe == {**recipes.MINILM_REVIEWS_EN, "seed": s, "data_seed": 0}
        assert variant.targets == base.targets and variant.build is base.build
        assert variant.folder == cache / "models" / f"minilm-reviews-en-seed{s}-{variant.key}"
        keys.add(variant.key)
    assert len(keys) == 4
    assert recipes.MINILM_REVIEWS_EN["seed"] == 0 and "data_seed" not in recipes.MINILM_REVIEWS_EN
    with pytest.raises(ValueError, match="integer >= 0"):
        recipes.seeded_recipe(recipes.MINILM_REVIEWS_EN, -1)


def test_names_resolve_without_flooding_the_registry():
    assert not [n for n in registry.models.names() if "-seed" in n]
    assert split_seed_name("minilm-reviews-en-seed2") == ("minilm-reviews-en", 2)
    assert split_seed_name("charbert-reviews-zh-seed10") == ("charbert-reviews-zh", 10)
    for other in ("minilm-reviews-en", "minilm-reviews-en-seed0", "minilm-reviews-en-seed01", "nope-seed1",
                  "owner/model-seed1", "./folder-seed1"):
        assert split_seed_name(other) == (other, 0)
    assert is_builtin("minilm-reviews-en-seed1") and is_builtin("minilm-reviews-en")
    assert not is_builtin("minilm-reviews-en-seed0") and not is_builtin("owner/model")
    assert builtin_model("owner/model") is None
    assert model_labels("minilm-sentiment3-en-seed1") == ["negative", "neutral", "positive"]
    assert model_task_type("minilm-ratings-en-seed2") == "regression"


def test_training_data_is_the_same_for_every_seed(monkeypatch):
    """The train subset is drawn with ``data_seed`` (seed 0's); the training seed moves the rest."""
    drawn = []
    monkeypatch.setattr("xaibench.datasets.load_dataset", lambda name, **kw: drawn.append((name, kw)))
    for s in (0, 1, 2):
        builds._train_split(builtin_model(seed_model_name("minilm-reviews-en", s)).recipe)
    assert [kw["seed"] for _, kw in drawn] == [0, 0, 0]
    assert {kw["n"] for _, kw in drawn} == {8000}


def test_seed_variant_builds_with_its_recipe_into_its_own_folder(cache):
    seen = []

    def build(recipe, folder, progress):
        seen.append(recipe)
        (folder / "config.json").write_text("{}")
        return {}

    base = builtin_model("charbert-reviews-zh")
    variant = builtin_model("charbert-reviews-zh-seed1")
    for model in (base, variant):
        builds.BuiltinModel(model.name, model.recipe, build).ensure_built(progress=False)
    assert [r["seed"] for r in seen] == [0, 1]
    card = json.loads((variant.folder / builds.CARD_FILE).read_text())
    assert card["name"] == "charbert-reviews-zh-seed1" and card["recipe"]["seed"] == 1
    assert base.folder.is_dir() and variant.folder.is_dir() and base.folder != variant.folder


def _prefill(model) -> None:
    """Put a tiny model into ``model``'s cache folder, as a finished build would."""
    tiny = tiny_classifier(num_labels=2, seed=0)
    model.folder.mkdir(parents=True)
    tiny.hf_model.save_pretrained(model.folder)
    tiny.tokenizer.save_pretrained(model.folder)
    (model.folder / builds.CARD_FILE).write_text(json.dumps({
        "name": model.name, "key": model.key, "recipe": model.recipe, "sizes": {"train": 3, "test": 2},
        "metrics": {"test": {"accuracy": 0.5}}, "train_seconds": 0.1, "num_threads": 1, "build_seconds": 0.1}))


def test_load_model_and_prepare_accept_seed_names(cache, capsys):
    models = [builtin_model(seed_model_name("minilm-reviews-en", s)) for s in range(3)]
    for model in models:
        _prefill(model)
    loaded = load_model("minilm-reviews-en-seed2", progress=False)
    assert loaded.name == "minilm-reviews-en-seed2" and loaded.info["card"]["key"] == models[2].key
    assert cli.main(["prepare", "--model", "minilm-reviews-en", "--model-seeds", "3", "--quiet"]) == 0
    out = capsys.readouterr().out
    for model in models:
        assert f"{model.name}  ({model.folder})" in out
    assert cli.main(["prepare", "--model", "minilm-reviews-en-seed1", "--quiet"]) == 0
    assert "minilm-reviews-en-seed1  (" in capsys.readouterr().out


@pytest.mark.parametrize("args, fragment", [
    (["--model-seeds", "0"], "--model-seeds must be an integer >= 1"),
    (["--model-seeds", "two"], "--model-seeds must be an integer >= 1"),
    (["--model", "minilm-reviews-en-seed1", "--model-seeds", "2"], "already a model seed"),
    (["--model", "minilm-reviews-xx"], "unknown model"),
])
def test_prepare_refuses_bad_seed_options_before_training(cache, capsys, args, fragment):
    assert cli.main(["prepare", "--quiet", *args]) == 2
    assert fragment in capsys.readouterr().err
    assert not (cache / "models").exists()
