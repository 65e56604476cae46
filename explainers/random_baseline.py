"""The random control: scores that carry no information about the model."""
from __future__ import annotations

import numpy as np

from xaibench.core import registry
from xaibench.explainers.base import ExplainBatch, Explainer


@registry.explainers.register
class RandomExplainer(Explainer):
    """Independent uniform scores in [-1, 1) for every unit; never looks at the model.

    The control every table needs: a method that does not beat it on a metric has shown nothing on
    that metric. Scores have no units and no meaning; their signs are random too, so sign-aware
    metrics get a fair control. Each example draws from its own generator seeded by
    (``seed``, "random", text): the same seed gives identical scores, another seed different ones.
    Costs no model pass beyond the default-target prediction.
    """

    name = "random"
    order = 0
    family = "control"
    deterministic = False

    def __init__(self, *, seed: int = 0, output: str | None = None) -> None:
        super().__init__(seed=seed, output=output)

    def _attribute(self, model, batch: ExplainBatch) -> list[np.ndarray]:
        return [np.random.default_rng(s).uniform(-1.0, 1.0, len(u)) for s, u in zip(batch.seeds, batch.units)]
