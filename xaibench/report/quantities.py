"""Names of the explained output f(x) for axis labels, titles and table headings.

f is what every explainer and metric looks at (``Classifier.output_from_logits``): the probability
of the explained class (``"prob"``), its logit (``"logit"``), or, for regression, the prediction
divided by the standard deviation σ of the training targets (``"value"``). Pictures say which:
"p(neutral)", "logit(neutral)", "predicted rating / σ".
"""
from __future__ import annotations

import re
from typing import Iterable, Sequence

#: Hugging Face's placeholder names (``LABEL_0``): they name no quantity a reader would recognise.
_PLACEHOLDER = re.compile(r"LABEL_\d+")

TASK_TYPE_OUTPUT = {
    "classification": "f(x) = probability of the explained class (the predicted class unless targets were "
                      "given); metric values are differences and areas of probabilities",
    "regression": "f(x) = ŷ(x)/σ, the predicted value divided by the standard deviation of the model's "
                  "training targets; metric values are in units of σ",
}


def quantity_name(output: str, label: str | None = None) -> str:
    """``"p(label)"``, ``"logit(label)"`` or ``"predicted label / σ"`` (``label`` None or a
    ``LABEL_k`` placeholder: "explained class" / "value")."""
    if label is not None and output == "value" and _PLACEHOLDER.fullmatch(str(label)):
        label = None
    if output == "value":
        return f"predicted {label or 'value'} / σ"
    name = label if label is not None else "explained class"
    return f"logit({name})" if output == "logit" else f"p({name})"


def label_of(labels: Sequence[str] | None, target: int, output: str) -> str | None:
    """The class name of ``target`` (regression: the model's one output name), or None."""
    if not labels:
        return None
    index = 0 if output == "value" else int(target)
    return str(labels[index]) if 0 <= index < len(labels) else None


def shared_quantity(outputs: Iterable[str], targets: Iterable[int], labels: Sequence[str] | None = None) -> str:
    """One name for many attributions of a task (a curve averaged over examples): the class name
    only when they all explain the same class; "explained output f(x)" when their outputs differ."""
    outputs, targets = set(outputs), {int(t) for t in targets}
    if len(outputs) != 1:
        return "explained output f(x)"
    output = outputs.pop()
    label = label_of(labels, targets.pop(), output) if output == "value" or len(targets) == 1 else None
    return quantity_name(output, label)


def task_quantities(attribution_rows: Sequence[dict], model_info: dict | None = None) -> dict[tuple[str, str], str]:
    """``{(dataset, model): name}`` for a run's attribution rows (``output``, ``target``); class names
    come from ``model_info["<model>@<device>"]["labels"]`` when the session recorded them."""
    labels_of: dict[str, list[str]] = {}
    for key, info in (model_info or {}).items():
        if isinstance(info, dict) and info.get("labels"):
            labels_of.setdefault(key.rsplit("@", 1)[0], list(info["labels"]))
    grouped: dict[tuple[str, str], tuple[list, list]] = {}
    for row in attribution_rows:
        outputs, targets = grouped.setdefault((row["dataset"], row["model"]), ([], []))
        outputs.append(row.get("output", "prob"))
        targets.append(row.get("target", 0))
    return {key: shared_quantity(o, t, labels_of.get(key[1])) for key, (o, t) in grouped.items()}
