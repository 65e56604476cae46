"""xaibench: a benchmark suite for explanations of transformer text classifiers.

Public interface (see docs/api.md): ``load_model``, ``load_dataset``, ``get_explainer``,
``get_metric``, ``evaluate``, ``list_explainers``, ``list_metrics``, ``list_models``,
``list_datasets``, ``attribution_from_scores``, ``with_references``, ``plot_attention``,
``plot_attribution``; HTML views: ``attribution_html``, ``compare_html``, ``styled_summary``
(``xaibench.report.highlight``; ``Attribution`` and ``Attributions`` also render in Jupyter).

The layers, bottom to top (imports flow upward only; ``tests/test_architecture.py`` checks it):
``core`` (records, units, registries) and ``datasets``; ``modeling`` (Classifier, engine); ``zoo``
(built-in models); ``explainers``; ``metrics``; ``report``; ``harness`` (run config, session, pytest
plugin); and this facade (``api``, ``cli``, ``testing``).

Attributes are imported lazily so that the pytest plugin (loaded in every pytest session of an
environment with xaibench installed) does not import torch until a benchmark needs it.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "load_model": ("xaibench.modeling.loading", "load_model"),
    "Classifier": ("xaibench.modeling.classifier", "Classifier"),
    "load_dataset": ("xaibench.datasets", "load_dataset"),
    "Dataset": ("xaibench.datasets", "Dataset"),
    "Attribution": ("xaibench.core.records", "Attribution"),
    "Example": ("xaibench.core.records", "Example"),
    "Unit": ("xaibench.core.records", "Unit"),
    "get_explainer": ("xaibench.api", "get_explainer"),
    "get_metric": ("xaibench.api", "get_metric"),
    "evaluate": ("xaibench.api", "evaluate"),
    "list_explainers": ("xaibench.api", "list_explainers"),
    "list_metrics": ("xaibench.api", "list_metrics"),
    "list_models": ("xaibench.api", "list_models"),
    "list_datasets": ("xaibench.api", "list_datasets"),
    "list_generators": ("xaibench.api", "list_generators"),
    "attribution_from_scores": ("xaibench.api", "attribution_from_scores"),
    "with_references": ("xaibench.core.references", "with_references"),
    "plot_attention": ("xaibench.report.explanation_plots", "plot_attention"),
    "plot_attribution": ("xaibench.report.explanation_plots", "plot_attribution"),
    "read_results": ("xaibench.report.result_files", "read_results"),
    "Attributions": ("xaibench.core.records", "Attributions"),
    "attribution_html": ("xaibench.report.highlight", "attribution_html"),
    "compare_html": ("xaibench.report.highlight", "compare_html"),
    "styled_summary": ("xaibench.report.highlight", "styled_summary"),
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'xaibench' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
