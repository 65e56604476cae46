"""Explainer adapters; importing this package registers them all.

One file per explainer, one class each, registered by name in ``xaibench.registry.explainers``.
"""
from .base import Explainer, ExplainBatch  # noqa: F401
from . import (  # noqa: F401  (registration side effects)
    attention,
    attention_rollout,
    grad_x_input,
    integrated_gradients,
    lime_explainer,
    occlusion,
    random_baseline,
    saliency,
    shap_explainer,
)
