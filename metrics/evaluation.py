"""The metric engine: every metric's model inputs for a chunk of examples in ONE batched pass.

For each chunk of attributions, ``evaluate_metrics`` asks every request-declaring metric which
inputs it needs (``Metric.requests``), de-duplicates them across metrics and examples (q = 0 and
q = 1 collide with x and with the empty text, AOPC and curve fractions overlap, random orderings
share their perturbations, f(x) is needed by everyone), runs the distinct inputs through the
batched, length-sorted, ``inference_mode`` engine once, and scatters the outputs back to each
metric's ``compute``. Chunks keep memory flat in the number of examples: only one chunk's inputs
and logits exist at a time. Metrics that evaluate on their own (``Metric.evaluate``) are called
as they are.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from xaibench.metrics.records import ExampleScore, MetricResult, ModelInput, Request
from xaibench.modeling import engine

#: Examples per chunk. At ~100 distinct inputs per example for the four curve metrics with their
#: random reference, a chunk is a few thousand short inputs: enough to fill the token-budget
#: batches, small enough that memory does not grow with the data set.
DEFAULT_CHUNK_SIZE = 64


def evaluate_metrics(model, metrics: Sequence, attributions: Sequence, progress: bool = False,
                     chunk_size: int = DEFAULT_CHUNK_SIZE) -> dict[str, MetricResult]:
    """Score ``attributions`` with every metric in ``metrics``; one result per metric name, in order.

    ``model``: the ``Classifier`` the attributions explain. ``progress``: show a bar over chunks.
    ``chunk_size``: examples whose inputs share one forward pass.
    """
    metrics = list(metrics)
    attributions = list(attributions)
    _check(metrics, chunk_size)
    batched = [m for m in metrics if m.declares_requests]
    scores: dict[str, list[ExampleScore]] = {m.name: [] for m in batched}
    if batched:
        starts = range(0, len(attributions), chunk_size)
        if progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="metrics", unit="chunk", leave=False)
        # batched: one de-duplicated engine pass per chunk of examples
        for start in starts:
            chunk = attributions[start:start + chunk_size]
            for metric, chunk_scores in zip(batched, score_chunk(model, batched, chunk, progress=progress)):
                scores[metric.name].extend(chunk_scores)
    results = {}
    # batched: metrics that evaluate on their own get all attributions at once
    for metric in metrics:
        if metric.declares_requests:
            results[metric.name] = MetricResult.from_scores(metric, scores[metric.name])
        else:
            result = metric.evaluate(model, attributions)
            if not isinstance(result, MetricResult) or len(result.values) != len(attributions):
                raise TypeError(f"metric {metric.name!r}: evaluate() must return a MetricResult with one value "
                                f"per attribution ({len(attributions)})")
            results[metric.name] = result
    return results


def score_chunk(model, metrics: Sequence, attributions: Sequence,
                progress: bool = False) -> list[list[ExampleScore]]:
    """Requests of every metric for every attribution -> one de-duplicated pass -> scores."""
    plans, inputs, positions = plan_chunk(model, metrics, attributions)
    logits = forward_inputs(model, inputs, progress=progress)
    out = []
    for metric, row, row_positions in zip(metrics, plans, positions):
        metric_scores = []
        for attribution, request, pos in zip(attributions, row, row_positions):
            if request.outcome is not None:
                if request.inputs:
                    raise ValueError(f"metric {metric.name!r}: a request with an outcome must not ask for inputs")
                metric_scores.append(request.outcome)
                continue
            targets = np.full(len(pos), int(attribution.target))
            outputs = (np.asarray(logits[pos], dtype=float) if request.logits else
                       np.asarray(model.output_from_logits(logits[pos], targets, attribution.output), dtype=float))
            metric_scores.append(metric.compute(model, attribution, request, outputs))
        out.append(metric_scores)
    return out


def plan_chunk(model, metrics: Sequence, attributions: Sequence):
    """Every metric's request for every attribution (``Metric.chunk_requests``), and the distinct
    inputs they need.

    Returns ``(plans, inputs, positions)``: ``plans[m][i]`` is metric m's ``Request`` for
    attribution i, ``inputs`` the distinct model inputs in first-seen order, and
    ``positions[m][i]`` the index in ``inputs`` of each of ``plans[m][i].inputs``.
    """
    plans: list[list[Request]] = []
    for m in metrics:
        plan = list(m.chunk_requests(model, attributions))
        if len(plan) != len(attributions):
            raise TypeError(f"metric {m.name!r}: chunk_requests gave {len(plan)} requests for {len(attributions)} "
                            "attributions")
        plans.append(plan)
    slots: dict[ModelInput, int] = {}
    positions = [[np.fromiter((slots.setdefault(x, len(slots)) for x in r.inputs), dtype=np.int64,
                              count=len(r.inputs)) for r in row] for row in plans]
    return plans, list(slots), positions


def forward_inputs(model, inputs: Sequence[ModelInput], progress: bool = False) -> np.ndarray:
    """Logits ``[len(inputs), n_outputs]`` for texts and/or token-id tuples (mask mode), in one
    batched pass through the engine (``engine.forward_logits``: de-duplicated by token ids,
    length-bucketed, ``torch.inference_mode``, the active shared table consulted first)."""
    return engine.forward_logits(model, list(inputs), progress=progress)


def _check(metrics: list, chunk_size: int) -> None:
    for m in metrics:
        if not hasattr(m, "declares_requests") or not hasattr(m, "evaluate"):
            raise TypeError(f"metrics must be Metric instances (xb.get_metric(name)), got {m!r}")
        if not m.declares_requests and _inherits_default_evaluate(m):
            raise TypeError(f"metric {m.name!r} must implement requests()/compute() or evaluate()")
    names = [m.name for m in metrics]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"each metric may appear once per call; repeated: {duplicated}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")


def _inherits_default_evaluate(metric) -> bool:
    """True when ``metric`` neither declares requests nor overrides ``Metric.evaluate`` (which
    would call back into this engine for ever)."""
    owner = next(c for c in type(metric).__mro__ if "evaluate" in vars(c))
    return owner.__module__ == "xaibench.metrics.base" and owner.__name__ == "Metric"
