"""Registry front doors: ``get_*``/``list_*`` and ``attribution_from_scores``."""
from __future__ import annotations

import numpy as np

from . import registry
from .records import Attribution


def _load_plugins() -> None:
    # Importing the packages registers their members.
    import xaibench.datasets  # noqa: F401
    import xaibench.explainers  # noqa: F401
    import xaibench.metrics  # noqa: F401
    import xaibench.zoo  # noqa: F401


def get_explainer(name: str, **params):
    """An explainer by registry name; ``params`` are its constructor keyword arguments."""
    _load_plugins()
    return registry.explainers.create(name, **params)


def get_metric(name: str, **params):
    """A metric by registry name; ``params`` are its constructor keyword arguments."""
    _load_plugins()
    return registry.metrics.create(name, **params)


def list_explainers() -> list[str]:
    _load_plugins()
    return registry.explainers.names()


def list_metrics() -> list[str]:
    _load_plugins()
    return registry.metrics.names()


def list_models() -> list[str]:
    _load_plugins()
    return registry.models.names()


def list_datasets() -> list[str]:
    _load_plugins()
    return registry.datasets.names()


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
