"""The built-in sentence generators by name: one recipe each, registered in ``registry.generators``.

A generator recipe names the classifier it explains (and that classifier's recipe key, so a
retrained classifier gets a retrained generator), the teacher whose verbalized explanations it
learns (``teacher``, ``k``), the pairs (``dataset``, ``split``, ``n_pairs``, ``max_units``; held
out: ``eval_split``, ``n_eval``), the conditioning, the GPT-2 ``architecture`` and the optimiser
settings. It is built like a built-in classifier (``BuiltinModel``: cached under
``cache_root()/models/<name>-<hash12>``, staged and published atomically, one build at a time) by
``xaibench.zoo.generator_training.build_generator``; ``xaibench prepare`` builds it, and the
``nl_generator`` explainer on first use.
"""
from __future__ import annotations

from xaibench.core import registry
from xaibench.zoo.builds import BuiltinModel, recipe_key
from xaibench.zoo.generator_training import build_generator
from xaibench.zoo.recipes import BUILTIN_MODELS

GENERATOR_RECIPE_VERSION = 1

_ARCHITECTURE = {"n_layer": 2, "n_embd": 192, "n_head": 4, "dropout": 0.1, "vocab_min_count": 2,
                 "max_prompt_units": 64, "max_new_tokens": 40, "copy": True, "no_repeat_ngram": 2}


def _recipe(classifier: str, dataset: str, **changes) -> dict:
    recipe = {
        "recipe_version": GENERATOR_RECIPE_VERSION,
        "classifier": classifier,
        "classifier_key": recipe_key(BUILTIN_MODELS[classifier][0]),
        "teacher": "occlusion", "teacher_params": None, "k": 3,
        "dataset": dataset, "split": "train", "n_pairs": 3000, "max_units": 48,
        "eval_split": "validation", "n_eval": 300,
        "conditioning": "text+classifier",
        "architecture": dict(_ARCHITECTURE),
        "batch_size": 32, "lr": 2e-3, "epochs": 6, "warmup_ratio": 0.05, "weight_decay": 0.01,
        "seed": 0,
    }
    recipe.update(changes)
    return recipe


#: name -> (recipe, targets). ``train_seconds``: the whole build (pairs, training, held-out
#: check) on 2 CPU cores; the other targets are what the recipe was tuned to reach.
BUILTIN_GENERATORS = {
    "nlgen-reviews-en": (_recipe("minilm-reviews-en", "reviews-en"), {"train_seconds": 600}),
    "nlgen-reviews-zh": (_recipe("charbert-reviews-zh", "reviews-zh"), {"train_seconds": 600}),
}


def _factory(name: str):
    recipe, targets = BUILTIN_GENERATORS[name]

    def create() -> BuiltinModel:
        return BuiltinModel(name=name, recipe=dict(recipe), build=build_generator, targets=dict(targets))

    return create


for _name, (_recipe_of, _targets) in BUILTIN_GENERATORS.items():
    # ``classifier``: the built-in model this generator explains (``generator_for`` reads it).
    registry.generators.register(_name, _factory(_name), classifier=_recipe_of["classifier"])


def generator_for(model_name: str) -> str | None:
    """The registered generator trained to explain the model named ``model_name``, or None."""
    for name in registry.generators.names():
        if getattr(registry.generators.spec(name), "classifier", None) == model_name:
            return name
    return None
