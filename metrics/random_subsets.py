"""What ``infidelity`` and ``faithfulness_correlation`` share: random subsets of a text's units,
each removed with the ``delete`` rule of docs/api.md, and f of every such text in the engine's
joint pass.

Subsets: ``n_subsets`` of them, each of k = max(1, round(``fraction`` · n)) distinct units drawn
uniformly, from a generator seeded by (seed, "random-subsets", text) only. So they are the same for
every explainer of a text: the session computes them once per chunk (``shared_inputs``), and the
two metrics share them when their parameters agree.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from xaibench.core.seeding import stable_hash
from xaibench.metrics.base import ExampleScore, Metric, Request
from xaibench.metrics.removal import checked_units, perturber_for


def random_subsets(text: str, n_units: int, n_subsets: int, fraction: float, seed: int) -> list[np.ndarray]:
    """``n_subsets`` sorted arrays of k = max(1, round(fraction · n_units)) distinct unit indices."""
    rng = np.random.default_rng(stable_hash("random-subsets", seed, text))
    k = min(n_units, max(1, int(round(fraction * n_units))))
    return [np.sort(rng.choice(n_units, size=k, replace=False)) for _ in range(n_subsets)]


def check_fraction(fraction) -> float:
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise ValueError(f"fraction must be a number in (0, 1], got {fraction!r}")
    return float(fraction)


def check_count(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


class SubsetMetric(Metric):
    """Asks for f(x) and f(x without S) for every random subset S; subclasses turn the pairs
    (sum of the attribution over S, f(x) − f(x without S)) into a value (``value``)."""

    family: ClassVar[str] = "faithfulness"
    removal: ClassVar[str] = "delete"
    min_units: ClassVar[int] = 1

    def __init__(self, n_subsets: int = 16, fraction: float = 0.25, seed: int = 0) -> None:
        self.n_subsets = check_count("n_subsets", n_subsets, 2)
        self.fraction = check_fraction(fraction)
        self.seed = seed

    def _subsets(self, text: str, n_units: int) -> list[np.ndarray]:
        return random_subsets(text, n_units, self.n_subsets, self.fraction, self.seed)

    def requests(self, model, attribution) -> Request:
        units = checked_units(model, attribution)
        if len(units) < self.min_units:
            return Request(outcome=ExampleScore.undefined(f"fewer than {self.min_units} units"))
        if not np.all(np.isfinite(attribution.scores)):
            return Request(outcome=ExampleScore.undefined("non-finite attribution scores"))
        perturber = perturber_for(model, attribution.text, units, "delete")
        subsets = self._subsets(attribution.text, len(units))
        return Request((perturber.original(), *(perturber.without(s) for s in subsets)), state=subsets)

    def shared_inputs(self, model, text: str) -> tuple:
        """x and its random-subset removals: the same for every explainer of ``text``."""
        units = model.units(text)
        if len(units) < self.min_units:
            return ()
        perturber = perturber_for(model, text, units, "delete")
        return (perturber.original(), *(perturber.without(s) for s in self._subsets(text, len(units))))

    def compute(self, model, attribution, request: Request, outputs: np.ndarray) -> ExampleScore:
        outputs = np.asarray(outputs, dtype=float)
        scores = np.asarray(attribution.scores, dtype=float)
        attributed = np.array([scores[s].sum() for s in request.state])
        drops = outputs[0] - outputs[1:]
        return self.value(attributed, drops)

    def value(self, attributed: np.ndarray, drops: np.ndarray) -> ExampleScore:
        raise NotImplementedError
