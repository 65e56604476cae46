"""Explainer adapters: one file per explainer, one class each.

A class that subclasses ``Explainer``, declares its ``name`` and facts, and is decorated with
``@registry.explainers.register`` is found by discovery (``xaibench.core.registry``): adding an
explainer is adding one file here, or, from another package, one ``xaibench.explainers`` entry point.
"""
from xaibench.explainers.base import ExplainBatch, Explainer  # noqa: F401
