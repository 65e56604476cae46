"""Circular explainer/metric pairs: the metric re-measures the very quantity the explainer computed.

``loo_correlation`` correlates scores with leave-one-out output drops; ``occlusion``'s scores *are*
those drops, so the pair scores 1.0 by construction and says nothing about faithfulness. Such a
pair is not hard-coded: explainers declare ``computes`` (the quantity their scores are) and
``removal`` (how they cut units out of a text), metrics declare ``recomputes`` and their removal
rule (``Metric.removal_rule``). A pair is circular when the explainer computes what the metric
recomputes, with the same removal rule. Tables mark circular cells with a dagger and leave them out
of "best" and of every rank; the values are still computed and stored.

A weaker relation, sharing the removal rule without recomputing the quantity (LIME, SHAP and
occlusion delete words exactly as the deletion-family metrics do, so those metrics may favour them
because the inputs are equally out of distribution), is not circular: ``shares_removal`` names it,
and the removal-agreement table (``xaibench.report.removal_agreement``) tests whether the ranking
survives another removal.
"""
from __future__ import annotations


def _fact(component, name: str):
    return getattr(component, name, None)


def circular_reason(explainer, metric) -> str | None:
    """Why ``metric`` only recomputes what ``explainer`` computed, or None when the pair is not
    circular. ``explainer``: an ``Explainer`` (instance or class, or a registry spec with its
    facts); ``metric``: a ``Metric`` instance (its removal rule may depend on its ``mode``)."""
    quantity = _fact(metric, "recomputes")
    if quantity is None or _fact(explainer, "computes") != quantity:
        return None
    rule = metric.removal_rule() if hasattr(metric, "removal_rule") else _fact(metric, "removal")
    own = _fact(explainer, "removal")
    if rule is not None and own is not None and rule != own:
        return None
    return (f"{_fact(explainer, 'name')} computes {quantity.replace('_', '-')} output drops"
            f"{f' with the {own} removal' if own else ''}, which {_fact(metric, 'name')} recomputes")


def shares_removal(explainer, metric) -> bool:
    """True when the explainer perturbs text with the same removal rule the metric uses."""
    own = _fact(explainer, "removal")
    rule = metric.removal_rule() if hasattr(metric, "removal_rule") else _fact(metric, "removal")
    return own is not None and own == rule
