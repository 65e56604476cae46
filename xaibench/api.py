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


def list_generators() -> list[str]:
    """The built-in sentence generators (the ``nl_generator`` explainer's models)."""
    return registry.generators.names()


def list_datasets() -> list[str]:
    return registry.datasets.names()


def evaluate(model, attributions: Sequence[Attribution], metrics: Sequence = ("comprehensiveness", "sufficiency",
             "deletion_auc", "insertion_auc"), chunk_size: int | None = None, progress: bool = False) -> dict:
    """Score ``attributions`` with several metrics in one joint, de-duplicated pass: what a benchmark
    run does per chunk of examples.

    ``model``: the ``Classifier`` the attributions explain. ``metrics``: registry names
    (``xb.list_metrics()``, built with default parameters) or ``Metric`` instances
    (``xb.get_metric(name, **params)``), each at most once, or a single name; default the four
    removal metrics. ``chunk_size``: examples whose inputs share one forward pass (default 64;
    the inputs and logits held at once grow with it, not with the number of attributions).
    ``progress``: a bar over chunks.

    Computes every metric's values and, where the metric has one, its random reference (the
    removal metrics and ``loo_correlation``: the mean over ``n_random`` seeded random unit
    orderings, default 3), exactly as ``metric.evaluate`` does.

    Cost: the metrics that declare their inputs (the faithfulness metrics) share one batched forward
    pass per chunk over the distinct inputs all of them need for its examples (f(x), each removal
    or kept subset of the attribution's ranking and of every random ordering, each leave-one-out
    text): every such input runs once, however many metrics or orderings ask for it, and
    ``model.n_forward`` grows by their count. On 48 reviews-en test sentences (18 units on average)
    with occlusion attributions, the four removal metrics with their references need 70 distinct
    inputs per example (their four ``score()`` calls, values only, run 29), and the call takes
    1.04x one bare engine pass over them (``benchmarks/test_joint_scoring_speed.py``). Metrics
    that evaluate on their own (stability, sanity, cost) then run their own ``evaluate`` over all
    attributions.

    Returns ``{name: MetricResult}`` in the order given; each result holds ``values`` (one float
    per attribution, NaN where undefined, ``notes`` say why), ``random_reference`` (or None),
    ``curves``, ``details``, ``params`` and ``higher_is_better``. An unknown name raises the
    registry's ``UnknownNameError`` (a ``ValueError`` that lists the valid names).
    """
    from xaibench.metrics.base import Metric
    from xaibench.metrics.evaluation import DEFAULT_CHUNK_SIZE, evaluate_metrics

    if isinstance(metrics, str):
        metrics = [metrics]
    built = []
    for m in metrics:
        if not isinstance(m, (str, Metric)):
            raise TypeError(f"metrics must be metric names (xb.list_metrics()) or Metric instances "
                            f"(xb.get_metric(name, **params)), got {m!r}")
        built.append(get_metric(m) if isinstance(m, str) else m)
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
