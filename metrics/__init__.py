"""Metrics: one concept per module, found by discovery (``xaibench.core.registry``).

``base``: the ``Metric`` base class; ``records``: what metrics return (``ExampleScore``,
``MetricResult``, ``Request``); ``evaluation``: the engine that runs every metric's inputs in one
batched pass (``evaluate_metrics``); ``removal``: the perturbation builder shared by the
removal-based metrics; ``label_preserving``: the meaning-preserving edits of the stability metrics.
"""
from xaibench.metrics.base import Metric  # noqa: F401
from xaibench.metrics.records import ExampleScore, MetricResult, Request  # noqa: F401
