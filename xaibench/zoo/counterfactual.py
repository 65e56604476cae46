"""Built-in models of the planted-cause tasks, and the check that they really use the cause.

``minilm-planted-en`` and ``charbert-planted-zh`` are the ``reviews-*`` recipes (same base model,
architecture and optimiser) trained on a smaller train subset of ``planted-en`` / ``planted-zh``
with 20% cause-free rows whose labels are coin flips (``no_cause_share``, see
``xaibench.datasets.planted``): the cause is then the only evidence, and removing it leaves the
model near 50/50. ``with_counterfactual_check`` wraps the recipe's builder so the model card also
records ``counterfactual_check`` on the test split:

- ``accuracy``: on the planted test examples;
- ``counterfactual_accuracy``: on the same examples with the cause swapped for the other class's
  cause (label swapped too); >= 0.95 means the prediction follows the cause;
- ``prediction_flip_rate``: share of examples whose prediction changes when the cause is swapped;
- ``cause_removed_mean_max_prob``: mean top-class probability with the cause cut out (0.5 = no
  evidence left).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

COUNTERFACTUAL_FLOOR = 0.95


def counterfactual_check(model, dataset: str, split: str = "test", n: int | None = None, seed: int = 0) -> dict:
    """The four numbers of the module docstring for ``model`` (a ``Classifier``) on ``n`` planted
    examples of ``dataset``'s ``split`` (all by default), in one batched forward pass."""
    from xaibench.datasets import load_dataset
    from xaibench.datasets.planted import remove_cause, swap_cause

    data = [e for e in load_dataset(dataset, split=split, n=n, seed=seed) if len(e.cause_spans) == 1]
    if not data:
        raise ValueError(f"{dataset!r} {split} has no planted examples")
    swapped = [swap_cause(e, dataset) for e in data]
    removed = [remove_cause(e) for e in data]
    probs = model.predict_proba([e.text for e in (*data, *swapped, *removed)])
    p_orig, p_swap, p_removed = probs[:len(data)], probs[len(data):2 * len(data)], probs[2 * len(data):]
    labels = np.array([e.label for e in data])
    return {
        "split": split, "n": len(data),
        "accuracy": round(float((p_orig.argmax(1) == labels).mean()), 4),
        "counterfactual_accuracy": round(float((p_swap.argmax(1) == 1 - labels).mean()), 4),
        "prediction_flip_rate": round(float((p_swap.argmax(1) != p_orig.argmax(1)).mean()), 4),
        "cause_removed_mean_max_prob": round(float(p_removed.max(1).mean()), 4),
    }


def with_counterfactual_check(build: Callable[[dict, Path, bool], dict]) -> Callable[[dict, Path, bool], dict]:
    """A builder that runs ``build`` and adds ``counterfactual_check`` (test split) to the card."""

    def build_planted(recipe: dict, out: Path, progress: bool) -> dict:
        from xaibench.modeling.loading import from_folder

        card = build(recipe, out, progress)
        card["counterfactual_check"] = counterfactual_check(from_folder(str(out), device="cpu"), recipe["dataset"])
        return card

    build_planted.__name__ = f"{build.__name__}_with_counterfactual_check"
    build_planted.__doc__ = f"{build.__doc__}\n\nThen measures the counterfactual check (xaibench.zoo.counterfactual)."
    return build_planted
