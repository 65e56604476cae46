"""Bring your own sentence generator as a Python function."""
from __future__ import annotations

import importlib
from typing import Callable

from xaibench.core import registry
from xaibench.explainers._sentence import SentenceExplainer
from xaibench.explainers.base import ExplainBatch


def import_path(function) -> str | None:
    """``"module:qualname"`` of a function importable by that path (so a run can rebuild it in
    another process and cache keys stay stable), else None."""
    module, qualname = getattr(function, "__module__", None), getattr(function, "__qualname__", None)
    if not module or not qualname or "<" in qualname or module == "__main__":
        return None
    try:
        return f"{module}:{qualname}" if resolve_function(f"{module}:{qualname}") is function else None
    except (ImportError, AttributeError, ValueError):
        return None


def resolve_function(path: str) -> Callable:
    """The object ``"package.module:name.attr"`` names."""
    if not isinstance(path, str) or path.count(":") != 1:
        raise ValueError(f"function must be a callable or 'module:name', got {path!r}")
    module, qualname = path.split(":")
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"{path!r} is not callable")
    return obj


@registry.explainers.register
class CallableGenerator(SentenceExplainer):
    """Sentences from your own function: ``function(texts, labels) -> sentences``.

    ``texts``: the texts to explain (a list of str); ``labels``: per text the explained class's
    label (the predicted class by default, e.g. "negative"; for a regression model the predicted
    value, e.g. "rating 2.31"); return one sentence (str) per text, in order. The function is
    called once per batch of texts (a benchmark chunk: 16). Quote the words you cite (“…” or "…")
    so the scores are exactly the quoted units; without quotes every content word counts as cited
    (``xaibench.core.citations``).

    Parameters: ``function``: the callable, or its import path ``"package.module:function"``
    (what ``--xb-param nl_callable.function=...`` takes; a callable importable by such a path is
    stored as the path, so a run can rebuild it, e.g. for the stability metrics); ``seed``
    (not passed to the function); ``output``. Not in default runs.
    """

    name = "nl_callable"
    order = 42
    in_default_runs = False

    def __init__(self, *, function: Callable | str | None = None, seed: int = 0, output: str | None = None) -> None:
        super().__init__(seed=seed, output=output)
        if callable(function):
            function = import_path(function) or function
        self.function = function

    def check_params(self) -> None:
        if self.function is None:
            raise ValueError("nl_callable needs function=<callable or 'module:name'> (texts, labels) -> sentences")
        if not callable(self.function):
            try:
                resolve_function(self.function)
            except (ImportError, AttributeError) as exc:
                raise ValueError(f"function {self.function!r} cannot be imported: {exc}") from None

    def sentences(self, model, batch: ExplainBatch, labels: list[str]) -> list[str]:
        function = self.function if callable(self.function) else resolve_function(self.function)
        sentences = list(function(list(batch.texts), list(labels)))
        return sentences
