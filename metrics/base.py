"""``Metric``: the one abstraction every metric implements, and the records it returns.

A metric scores a list of attributions against a model. It can do so in one of two ways:

1. **Declare requests** (faithfulness metrics): ``requests(model, attribution)`` lists the inputs
   (texts, or token-id tuples for mask-mode perturbations) whose explained output f(x) it needs;
   ``compute(model, attribution, request, outputs)`` turns those outputs into an ``ExampleScore``.
   The engine (``xaibench.scoring.evaluate_metrics``) collects the requests of every metric for every
   example, de-duplicates them, runs one batched forward pass per chunk of examples and scatters
   the outputs back. Metrics never call the model themselves.
2. **Evaluate on its own** (stability, sanity, runtime metrics that re-explain or only read costs):
   override ``evaluate(model, attributions) -> MetricResult``.

``score(model, attributions)`` is the one call users need; it returns one float per attribution.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Sequence, Union

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
    and the engine returns ``outcome`` as is.
    """

    inputs: tuple[ModelInput, ...] = ()
    state: Any = None
    outcome: ExampleScore | None = None


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


class Metric:
    """Base class of all metrics.

    Subclasses set ``name`` (the registry name) and ``higher_is_better``, store their constructor
    keyword arguments unchanged (``params()`` returns them), and implement either ``requests`` +
    ``compute`` or ``evaluate`` (see the module docstring). The class docstring of a public metric
    states its definition, reference, range and direction.
    """

    name: ClassVar[str] = ""
    higher_is_better: ClassVar[bool] = True

    def params(self) -> dict:
        """Constructor keyword arguments, as given (plus defaults)."""
        return dict(getattr(self, "_params", {}))

    # ---- protocol 1: declare inputs, compute from their outputs ------------------------------
    def requests(self, model, attribution) -> Request:
        """The inputs whose explained output this metric needs for ``attribution``."""
        raise NotImplementedError

    def compute(self, model, attribution, request: Request, outputs: np.ndarray) -> ExampleScore:
        """Score one attribution from ``outputs[i]`` = f(``request.inputs[i]``), where f is the
        attribution's explained output (``model.output_from_logits`` with its target and output)."""
        raise NotImplementedError

    def shared_inputs(self, model, text: str) -> tuple[ModelInput, ...]:
        """Inputs this metric asks for on *every* attribution of ``text``, whatever its scores
        (f(x), random-ordering perturbations, leave-one-out texts). The benchmark session computes
        the union over metrics and explainers once per chunk of examples and shares it
        (``xaibench.sharing``); the default is none."""
        return ()

    @property
    def declares_requests(self) -> bool:
        """True when the metric uses protocol 1 (the engine batches it with the others)."""
        return type(self).requests is not Metric.requests

    # ---- protocol 2: evaluate on its own ------------------------------------------------------
    def evaluate(self, model, attributions: Sequence) -> MetricResult:
        """All attributions at once. The default runs protocol 1 through the shared engine."""
        from xaibench.scoring import evaluate_metrics

        return evaluate_metrics(model, [self], attributions)[self.name]

    def score(self, model, attributions: Sequence) -> np.ndarray:
        """One float per attribution (NaN where undefined)."""
        from xaibench.scoring import evaluate_metrics

        return evaluate_metrics(model, [self], attributions)[self.name].values

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"
