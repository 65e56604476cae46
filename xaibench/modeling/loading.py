"""``load_model``: a built-in model name, a Hugging Face hub id, or a local folder -> ``Classifier``.

Model seeds: ``<name>-seed<s>`` (s >= 1, no leading zero) names seed s of the built-in model
``<name>``: the same recipe trained with another seed (``xaibench.zoo.recipes.seeded_recipe``);
seed 0 is ``<name>`` itself. Such names are not registered one by one (``xaibench list`` shows each
model once): ``builtin_model`` makes them from the base model's factory, and every function here
accepts them wherever a built-in name is accepted.
"""
from __future__ import annotations

import os
import re

from xaibench.core import registry
from xaibench.modeling.classifier import Classifier


def load_model(
    name_or_path: str,
    device: str | None = "cpu",
    *,
    trust_remote_code: bool = False,
    progress: bool = True,
    **options,
) -> Classifier:
    """Load a sequence classifier.

    - A built-in name (``xb.list_models()``): trained on first use (progress bar), cached under the
      cache root, reproducible from its recipe.
    - A local folder or hub id: ``AutoModelForSequenceClassification.from_pretrained``. Remote code
      never runs unless ``trust_remote_code=True``.
    ``options`` go to ``Classifier`` (``max_length``, ``token_budget``, ``target_std``, ``dtype``,
    ``compile``...; a run passes ``RunConfig.model_options()``).
    """

    builtin = builtin_model(name_or_path)
    if builtin is not None:
        folder = builtin.ensure_built(progress=progress)
        return from_folder(str(folder), device=device, name=name_or_path, **options)
    if not os.path.isdir(str(name_or_path)) and "/" not in str(name_or_path):
        # Neither a folder nor an owner/name hub id: most likely a mistyped built-in name.
        registry.models.factory(name_or_path)
    return from_folder(str(name_or_path), device=device, name=str(name_or_path),
                       trust_remote_code=trust_remote_code, **options)


_SEED_NAME = re.compile(r"^(?P<base>.+)-seed(?P<seed>[1-9][0-9]*)$")


def seed_model_name(base: str, seed: int) -> str:
    """The name of model seed ``seed`` of built-in model ``base``: ``base`` for 0, else ``base-seed<seed>``."""
    return str(base) if int(seed) == 0 else f"{base}-seed{int(seed)}"


def has_model_seeds(name: str) -> bool:
    """True for a registered built-in model whose factory makes model seeds (declares ``model_seeds``)."""
    return name in registry.models and bool(getattr(registry.models.spec(name), "model_seeds", False))


def split_seed_name(name: str) -> tuple[str, int]:
    """``(base model, model seed)`` of a model name: ``"minilm-reviews-en-seed2"`` ->
    ``("minilm-reviews-en", 2)``; a registered name, hub id or folder -> ``(name, 0)``."""
    name = str(name)
    match = None if name in registry.models else _SEED_NAME.match(name)
    if match and has_model_seeds(match["base"]):
        return match["base"], int(match["seed"])
    return name, 0


def builtin_model(name: str):
    """The ``BuiltinModel`` (recipe and builder) of a built-in name or model-seed name, else None."""
    if name in registry.models:
        return registry.models.create(name)
    base, seed = split_seed_name(name)
    return registry.models.create(base, seed=seed) if seed else None


def is_builtin(name: str) -> bool:
    """True for a built-in model name, including the model-seed names ``<name>-seed<s>``."""
    return name in registry.models or split_seed_name(name)[1] > 0


def from_folder(path: str, device=None, name: str | None = None, trust_remote_code: bool = False, **options) -> Classifier:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, use_fast=True, trust_remote_code=trust_remote_code)
    hf_model = AutoModelForSequenceClassification.from_pretrained(path, trust_remote_code=trust_remote_code)
    info = {"path": path, "fingerprint": folder_fingerprint(path) if os.path.isdir(path) else path}
    card = os.path.join(path, "xaibench_card.json")
    if os.path.isfile(card):
        import json

        with open(card, encoding="utf-8") as fh:
            info["card"] = json.load(fh)
    return Classifier(hf_model, tokenizer, name=name or path, device=device, info=info, **options)


def folder_fingerprint(path: str) -> str:
    """SHA-256 over a model folder's config, tokenizer and weight files (names and bytes): two folders
    with the same fingerprint give the same explanations, so cached results can be reused."""
    import hashlib

    h = hashlib.sha256()
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if not os.path.isfile(full) or name.startswith("."):
            continue
        h.update(name.encode("utf-8"))
        with open(full, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:20]


def model_labels(name_or_path: str, trust_remote_code: bool = False) -> list[str] | None:
    """Class names of a model without loading its weights (None when they cannot be known offline).

    Used to validate a user data file's labels before any model is loaded. Regression models have
    no classes: None (see ``model_task_type``).
    """

    entry = builtin_model(name_or_path)
    if entry is not None:
        if getattr(entry, "task_type", "classification") == "regression":
            return None
        return list(entry.labels)
    try:
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
    except Exception:  # offline hub id, unusual folder: the loader will report it properly
        return None
    if config.problem_type == "regression" or config.num_labels == 1:
        return None
    id2label = getattr(config, "id2label", None) or {}
    return [str(id2label.get(i, id2label.get(str(i), f"LABEL_{i}"))) for i in range(config.num_labels)]


def model_task_type(name_or_path: str, trust_remote_code: bool = False) -> str | None:
    """``"classification"`` or ``"regression"`` without loading weights (None when unknown offline)."""

    entry = builtin_model(name_or_path)
    if entry is not None:
        return getattr(entry, "task_type", "classification")
    try:
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
    except Exception:  # offline hub id, unusual folder: the loader will report it properly
        return None
    return "regression" if config.problem_type == "regression" or config.num_labels == 1 else "classification"
