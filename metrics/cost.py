"""Cost metrics: what an explanation cost, read from ``Attribution.cost`` (no model calls).

Explainers batch across examples, so per-example costs are the call's totals amortised over its
examples (see ``Explainer.explain``). Tables report the mean with a bootstrap CI plus the median and
95th percentile over examples (``summary.csv`` columns ``median`` and ``p95``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from xaibench.core import registry
from xaibench.metrics.base import Metric, MetricResult


class _CostMetric(Metric):
    higher_is_better = False
    family = "cost"
    cost_key = ""
    scale = 1.0

    def evaluate(self, model, attributions: Sequence) -> MetricResult:
        values = np.array([float(a.cost.get(self.cost_key, np.nan)) * self.scale for a in attributions], dtype=float)
        notes = [None if np.isfinite(v) else f"attribution has no cost[{self.cost_key!r}]" for v in values]
        return MetricResult(name=self.name, values=values, higher_is_better=False, params={}, notes=notes)


@registry.metrics.register
class RuntimeSeconds(_CostMetric):
    """Wall-clock seconds per explained example (the explain call's time / its examples, targets'
    forward pass included). Lower is better. Range [0, ∞)."""

    name = "runtime_seconds"
    order = 90
    noisy = True  # wall time depends on the machine and the moment
    cost_key = "seconds"


@registry.metrics.register
class ForwardPasses(_CostMetric):
    """Examples passed forward through the model per explained example (e.g. LIME ≈ n_samples,
    occlusion = units + 1, attention = 1). Lower is better. Range [0, ∞)."""

    name = "forward_passes"
    order = 91
    cost_key = "n_forward"


@registry.metrics.register
class BackwardPasses(_CostMetric):
    """Examples back-propagated per explained example (IG = n_steps, saliency = 1, LIME = 0).
    Lower is better. Range [0, ∞)."""

    name = "backward_passes"
    order = 92
    cost_key = "n_backward"


@registry.metrics.register
class PeakMemoryMB(_CostMetric):
    """Peak memory of the explain call in MiB (CUDA: ``max_memory_allocated``; CPU: growth of the
    process's resident high-water mark, approximate). Lower is better. Range [0, ∞)."""

    name = "peak_memory_mb"
    order = 93
    noisy = True  # memory depends on the allocator and what ran before
    cost_key = "peak_mem_bytes"
    scale = 1.0 / 2**20
