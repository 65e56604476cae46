"""Cost metrics: what an explanation cost, read from ``Attribution.cost`` (no model calls).

Explainers batch across examples, so per-example costs are the call's totals amortised over its
examples (see ``Explainer.explain``): every example of a call has the same share, so a confidence
interval over examples would only measure how calls differ, dressed up as precision. Cost metrics
declare ``amortised``: tables report the mean per example without an interval (``ci_method``
"none"), and ``cost.csv`` adds the seconds per call. Memory is measured on CUDA only; on the CPU
the value is NaN with the reason (never a 0 that was not measured).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from xaibench.core import registry
from xaibench.metrics.base import Metric, MetricResult


class _CostMetric(Metric):
    higher_is_better = False
    family = "cost"
    amortised = True
    cost_key = ""
    scale = 1.0
    #: The note of a cost the explain call did not measure (None in ``Attribution.cost``).
    unmeasured = "not measured"

    def evaluate(self, model, attributions: Sequence) -> MetricResult:
        raw = [a.cost.get(self.cost_key, np.nan) for a in attributions]
        values = np.array([np.nan if v is None else float(v) * self.scale for v in raw], dtype=float)
        notes = [self.unmeasured if v is None else (None if np.isfinite(x) else f"attribution has no cost[{self.cost_key!r}]")
                 for v, x in zip(raw, values)]
        return MetricResult(name=self.name, values=values, higher_is_better=False, params={}, notes=notes)


@registry.metrics.register
class RuntimeSeconds(_CostMetric):
    """Wall-clock seconds per explained example: the explain call's time divided by its examples
    (targets' forward pass included; a benchmark call is one chunk of 16). Lower is better. Range
    [0, ∞). Shown without an interval (``amortised``); ``cost.csv`` has the seconds per call."""

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
    """Peak GPU memory of the explain call in MiB (``torch.cuda.max_memory_allocated`` with the
    peak reset at the call's start: model weights included). Lower is better. Range [0, ∞). On the
    CPU it is not measured: NaN with that reason (see ``Explainer.explain``)."""

    name = "peak_memory_mb"
    order = 93
    noisy = True  # memory depends on the allocator and what ran before
    cost_key = "peak_mem_bytes"
    scale = 1.0 / 2**20
    unmeasured = ("not measured on the CPU: torch's CPU allocator keeps no peak, and the process's "
                  "high-water mark hides a call's own use (CUDA runs measure it)")
