"""Front doors: ``get_*``/``list_*``, ``evaluate`` and ``attribution_from_scores``.

Registries discover their members on first use (``xaibench.core.registry``), so nothing here
imports the component packages.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from xaibench.core import registry
from xaibench.core.records import Attribution


def get_explainer(name: str, **params):
    """An explainer by registry name; ``params`` are its constructor keyword arguments."""
    return registry.explainers.create(name, **params)


def get_metric(name: str, **params):
    """A metric by registry name; ``params`` are its constructor keyword arguments."""
    return registry.metrics.create(name, **params)


def list_explainers() -> list[str]:
    return registry.explainers.names()


def list_metrics() -> list[str]:
    return registry.metrics.names()


def list_models() -> list[str]:
    return registry.models.names()


def list_datasets() -> list[str]:
    return registry.datasets.names()


def evaluate(model, attributions: Sequence[Attribution], metrics: Sequence = ("comprehensiveness", "sufficiency",
             "deletion_auc", "insertion_auc"), chunk_size: int | None = None, progress: bool = False) -> dict:
    """Score ``attributions`` with several metrics in one joint pass; what the benchmark does per chunk.

    ``metrics``: names (``xb.list_metrics()``) or ``Metric`` instances (``xb.get_metric(name,
    **params)``); default the four removal metrics. Every model input the metrics need (f(x), each
    removal, each random-ordering reference) is collected across metrics and examples,
    de-duplicated and run through the batched engine once per chunk of ``chunk_size`` examples, so
    inputs two metrics share are evaluated once (calling ``metric.score`` per metric evaluates
    them again).

    Returns ``{name: MetricResult}`` in the order given; each result holds ``values`` (one float
    per attribution, NaN where undefined, ``notes`` say why), ``random_reference`` (the same
    metric under random unit orderings, or None), ``curves`` and ``higher_is_better``.
    """
    from xaibench.metrics.evaluation import DEFAULT_CHUNK_SIZE, evaluate_metrics

    if isinstance(metrics, str):
        metrics = [metrics]
    built = [get_metric(m) if isinstance(m, str) else m for m in metrics]
    return evaluate_metrics(model, built, list(attributions), progress=progress,
                            chunk_size=DEFAULT_CHUNK_SIZE if chunk_size is None else chunk_size)


def attribution_from_scores(model, text: str, scores, target: int | None = None, output: str | None = None,
                            explainer: str = "external") -> Attribution:
    """Wrap scores computed elsewhere (one per ``model.units(text)``) so metrics can score them."""
    units = model.units(text)
    scores = np.asarray(scores, dtype=float).reshape(-1)
    if len(scores) != len(units):
        raise ValueError(f"got {len(scores)} scores for {len(units)} units of {text!r}: "
                         f"{[u.text for u in units]}")
    if target is None:
        target = int(model.predicted_targets([text])[0])
    return Attribution(
        text=text, units=[u.text for u in units], scores=scores, target=int(target),
        cost={"n_forward": 0, "n_backward": 0, "seconds": 0.0, "peak_mem_bytes": 0},
        explainer={"name": explainer}, spans=tuple((u.start, u.end) for u in units),
        output=model.check_output(output),
    )
