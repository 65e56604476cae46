"""Model randomization for the sanity check (Adebayo et al. 2018): a copy of a ``Classifier`` with its
weights re-initialised, all at once or cascading from the top layer down.

Re-initialisation uses the model's own ``_init_weights`` (what ``from_config`` would draw: normal(0,
initializer_range) weights, zero biases, unit LayerNorm scales), falling back to a module's
``reset_parameters`` and then to normal(0, 0.02) for any weight matrix neither touched. Each module
draws from a generator seeded by (seed, module name), so the last cascading stage equals the full
randomization exactly. Stages, top down: ``head`` (every module registered after the layer stack:
pooler, classifier), one stage per transformer layer from the last to the first, ``embeddings``
(everything registered before the layer stack). The layer stack is the ``nn.ModuleList`` holding the
most parameters; Hugging Face models register modules in data-flow order, which the split relies on.
"""
from __future__ import annotations

import copy
import weakref
from typing import Iterator

import torch

from xaibench.core.seeding import stable_hash
from xaibench.modeling.classifier import Classifier

#: model -> {seed: fully randomized copy}; several explainers' sanity checks reuse one copy.
_FULL: "weakref.WeakKeyDictionary[Classifier, dict[int, Classifier]]" = weakref.WeakKeyDictionary()


def layer_stages(hf_model: torch.nn.Module) -> list[tuple[str, list[str]]]:
    """Top-down stages ``[(stage name, names of modules with own parameters)]``; see module docstring."""
    owners = [name for name, m in hf_model.named_modules() if any(True for _ in m.parameters(recurse=False))]
    lists = [(n, m) for n, m in hf_model.named_modules() if isinstance(m, torch.nn.ModuleList) and len(m)]
    if not lists:
        return [("all", owners)]
    prefix, stack = max(lists, key=lambda item: sum(p.numel() for p in item[1].parameters()))
    layers: list[list[str]] = [[] for _ in stack]
    below, above, seen_stack = [], [], False
    for name in owners:
        if name.startswith(prefix + "."):
            seen_stack = True
            layers[int(name[len(prefix) + 1:].split(".")[0])].append(name)
        else:
            (above if seen_stack else below).append(name)
    stages = [("head", above)] + [(f"layer.{k}", layers[k]) for k in reversed(range(len(stack)))]
    return [s for s in stages + [("embeddings", below)] if s[1]]


def reinitialise(hf_model: torch.nn.Module, module_names: list[str], seed: int) -> int:
    """Re-initialise the own parameters of the named modules in place; returns tensors changed."""
    modules = dict(hf_model.named_modules())
    init_weights = getattr(hf_model, "_init_weights", None)
    std = float(getattr(getattr(hf_model, "config", None), "initializer_range", None) or 0.02)
    changed = 0
    for name in module_names:
        module = modules[name]
        params = list(module.parameters(recurse=False))
        before = [p.detach().clone() for p in params]
        for p in params:
            # transformers skips tensors flagged as already initialised (loaded from a checkpoint).
            if hasattr(p, "_is_hf_initialized"):
                delattr(p, "_is_hf_initialized")
        with torch.random.fork_rng(devices=[p.device for p in params if p.device.type == "cuda"][:1]), \
                torch.no_grad():
            torch.manual_seed(stable_hash("randomize", seed, name) % 2**63)
            if init_weights is not None:
                init_weights(module)
            if all(torch.equal(p, b) for p, b in zip(params, before)) and hasattr(module, "reset_parameters"):
                module.reset_parameters()
            for p, b in zip(params, before):
                if p.ndim >= 2 and torch.equal(p, b):
                    p.normal_(0.0, std)
        changed += sum(not torch.equal(p, b) for p, b in zip(params, before))
    return changed


def _wrap(model: Classifier, hf_model, stage: str) -> Classifier:
    return Classifier(
        hf_model, model.tokenizer, name=f"{model.name}[randomized:{stage}]", device=model.device,
        max_length=model.max_length, token_budget=model.token_budget, max_batch=model.max_batch,
        target_std=model.target_std,
        # "randomized_from": components tied to the original model (a sentence generator trained
        # for it) keep serving the copy, so the sanity check sees what randomizing the weights does.
        info={**model.info, "randomized": stage, "randomized_from": model.info.get("randomized_from", model.name)},
    )


def cascade(model: Classifier, seed: int = 0) -> Iterator[tuple[str, Classifier]]:
    """Yield ``(stage, copy)`` with the stages re-initialised cumulatively from the top down.

    One deep copy is edited in place between yields (use each copy before advancing); the last one
    is the full randomization and is cached like ``randomized_copy``'s.
    """
    hf_model = copy.deepcopy(model.hf_model)
    stages = layer_stages(hf_model)
    current = None
    for stage, names in stages:
        reinitialise(hf_model, names, seed)
        current = _wrap(model, hf_model, stage)
        yield stage, current
    if current is not None:
        _FULL.setdefault(model, {}).setdefault(seed, current)


def randomized_copy(model: Classifier, seed: int = 0) -> Classifier:
    """``model`` with every weight re-initialised (a new ``Classifier``, same tokenizer), cached per
    model and seed within the process."""
    cached = _FULL.get(model, {}).get(seed)
    if cached is None:
        hf_model = copy.deepcopy(model.hf_model)
        reinitialise(hf_model, [n for _, names in layer_stages(hf_model) for n in names], seed)
        cached = _wrap(model, hf_model, "all")
        _FULL.setdefault(model, {})[seed] = cached
    return cached
