"""What metrics return and ask for: ``ExampleScore`` (one example), ``MetricResult`` (a metric
over n attributions), ``Request`` (the model inputs one metric needs for one attribution).

Plain records with no behaviour beyond assembling themselves, shared by the metrics and the
evaluation engine (``xaibench.metrics.evaluation``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence, Union

import numpy as np

#: One model input a metric asks for: a text (tokenized by the model) or a token-id sequence with
#: special tokens (used by mask-mode perturbations, which edit token ids, not text).
ModelInput = Union[str, tuple[int, ...]]


@dataclass(frozen=True)
class ExampleScore:
    """One metric's outcome on one attribution.

    ``value`` is NaN when the metric is undefined for the example, and ``note`` then says why.
    ``random_reference`` is the metric's expected value under random unit orderings of the same
    example (None when the metric has no such reference). ``curve`` is the per-example curve
    (``{"fractions": [...], "values": [...], ...}``) or None. ``details`` holds metric-specific
    extras (e.g. the leave-one-out drops) or None.
    """

    value: float
    random_reference: float | None = None
    curve: dict | None = None
    note: str | None = None
    details: dict | None = None

    @classmethod
    def undefined(cls, reason: str, with_reference: bool = False) -> "ExampleScore":
        return cls(float("nan"), float("nan") if with_reference else None, None, reason)


@dataclass(frozen=True)
class Request:
    """The inputs one metric needs for one attribution, plus any state ``compute`` wants back.

    ``outcome`` short-circuits the model: when set (e.g. an empty text), ``inputs`` must be empty
    and the engine returns ``outcome`` as is. ``logits``: hand ``compute`` the raw logits
    ``[len(inputs), n_outputs]`` instead of f (a metric that needs the predicted class of each
    input, as ``auc_tp`` does).
    """

    inputs: tuple[ModelInput, ...] = ()
    state: Any = None
    outcome: ExampleScore | None = None
    logits: bool = False


@dataclass
class MetricResult:
    """A metric over n attributions, in the order they were given.

    values: ``(n,)`` float array, NaN where undefined (``notes[i]`` then gives the reason).
    random_reference: ``(n,)`` expected value of the same metric under random orderings of each
        example's units (mean over ``n_random`` seeded permutations), or None if not applicable.
    curves: per example ``{"fractions": [...], "values": [...]}`` (or None), or None for metrics
        without curves.
    notes: per example, the reason a value is NaN (None otherwise).
    details: per example, a dict of metric-specific extras for inspection (e.g. the stability
        metrics' kept perturbation texts and tried/kept counts), or None.
    """

    name: str
    values: np.ndarray
    higher_is_better: bool
    params: dict = field(default_factory=dict)
    random_reference: np.ndarray | None = None
    curves: list[dict | None] | None = None
    notes: list[str | None] = field(default_factory=list)
    details: list[dict] | None = None

    def __len__(self) -> int:
        return len(self.values)

    def mean(self) -> float:
        """Mean over the examples where the metric is defined (NaN if none is)."""
        finite = self.values[~np.isnan(self.values)]
        return float(finite.mean()) if finite.size else float("nan")

    @classmethod
    def from_scores(cls, metric: "Metric", scores: Sequence[ExampleScore]) -> "MetricResult":
        """Assemble per-example scores (in attribution order) into a result."""
        values = np.array([s.value for s in scores], dtype=float)
        refs = [s.random_reference for s in scores]
        random_reference = None
        if any(r is not None for r in refs):
            random_reference = np.array([np.nan if r is None else r for r in refs], dtype=float)
        curves = [s.curve for s in scores]
        details = [s.details for s in scores]
        return cls(
            name=metric.name, values=values, higher_is_better=metric.higher_is_better,
            params=metric.params(), random_reference=random_reference,
            curves=curves if any(c is not None for c in curves) else None,
            notes=[s.note for s in scores],
            details=details if any(d is not None for d in details) else None,
        )
