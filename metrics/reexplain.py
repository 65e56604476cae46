"""What the stability and sanity metrics share: rebuild the explainer that made an attribution, run it
once on many texts, and compare score vectors.

Metrics that re-explain never loop over examples around the explainer: all texts of all attributions
made by the same explainer configuration go to ONE ``explain`` call (which batches its model calls),
with the attributions' own targets, and the results are split back per attribution.
"""
from __future__ import annotations

import json
from typing import Callable, Sequence

import numpy as np
from scipy import stats

from xaibench.core.records import Attribution
from xaibench.metrics.base import Metric, MetricResult


def explainer_key(spec: dict) -> str:
    """A hashable, order-independent key of an ``Attribution.explainer`` dict."""
    return json.dumps(spec, sort_keys=True, default=repr)


def rebuild_explainer(spec: dict, **overrides):
    """The explainer ``{"name": ..., **params}`` describes, with ``overrides`` replacing params.

    Raises ``ValueError`` with a readable message when it cannot be rebuilt (an ``"external"``
    attribution from ``attribution_from_scores``, unknown parameters).
    """
    from xaibench.core import registry

    name = spec.get("name")
    params = {k: v for k, v in spec.items() if k != "name"}
    params.update(overrides)
    try:
        return registry.explainers.create(name, **params)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"cannot rebuild explainer {name!r} from {spec!r} to re-explain: {exc}") from None


def explain_many(
    model,
    attributions: Sequence[Attribution],
    texts: Sequence[Sequence[str]],
    targets: Sequence[Sequence[int]] | None = None,
    **overrides,
) -> list[list[Attribution] | str]:
    """Explain ``texts[i]`` (a list of texts, e.g. perturbations of attribution i) with the explainer
    that made ``attributions[i]``; one ``explain`` call per explainer configuration.

    ``targets[i][j]``: the class to explain for ``texts[i][j]`` (default the attribution's own
    target for all of them; other classes for ``random_logit``, ``confidence_indication``).
    Returns, per attribution, the new attributions in the order of ``texts[i]``, or a string saying
    why the explainer could not be rebuilt. ``overrides`` replace explainer parameters (``seed``).
    """
    out: list[list[Attribution] | str] = [[] for _ in attributions]
    groups: dict[str, list[int]] = {}
    for i, a in enumerate(attributions):
        groups.setdefault(explainer_key(a.explainer), []).append(i)
    # batched: one explain call per explainer configuration
    for members in groups.values():
        try:
            explainer = rebuild_explainer(attributions[members[0]].explainer, **overrides)
        except ValueError as exc:
            for i in members:
                out[i] = str(exc)
            continue
        flat = [t for i in members for t in texts[i]]
        flat_targets = [int(targets[i][j]) if targets is not None else int(attributions[i].target)
                        for i in members for j in range(len(texts[i]))]
        if not flat:
            continue
        results = explainer.explain(model, flat, targets=flat_targets)
        pos = 0
        for i in members:
            out[i] = results[pos:pos + len(texts[i])]
            pos += len(texts[i])
    return out


def spearman(a, b) -> float:
    """Spearman's ρ (average ranks for ties); NaN for fewer than two pairs or a constant side."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(stats.spearmanr(a, b).statistic)


def mean_finite(values: Sequence[float]) -> float:
    """Mean of the finite values, NaN when there is none."""
    arr = np.asarray(list(values), dtype=float)
    arr = arr[np.isfinite(arr)]
    return float(arr.mean()) if arr.size else float("nan")


def build_result(metric: Metric, rows: Sequence[tuple[float, str | None, dict]],
                 curves: list[dict | None] | None = None) -> MetricResult:
    """A ``MetricResult`` from per-example ``(value, note, details)`` rows."""
    return MetricResult(
        name=metric.name, values=np.array([r[0] for r in rows], dtype=float),
        higher_is_better=metric.higher_is_better, params=metric.params(),
        curves=curves if curves and any(c is not None for c in curves) else None,
        notes=[r[1] for r in rows], details=[r[2] for r in rows],
    )


def per_attribution(attributions: Sequence[Attribution], results: Sequence[list[Attribution] | str],
                    score: Callable[[Attribution, list[Attribution]], tuple[float, str | None, dict]]
                    ) -> list[tuple[float, str | None, dict]]:
    """Apply ``score`` to each (attribution, its re-explanations); a rebuild failure becomes NaN."""
    rows = []
    for a, res in zip(attributions, results):
        if isinstance(res, str):
            rows.append((float("nan"), res, {}))
        else:
            rows.append(score(a, res))
    return rows
