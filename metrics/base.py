"""``Metric``: the one abstraction every metric implements, and the records it returns.

A metric scores a list of attributions against a model. It can do so in one of two ways:

1. **Declare requests** (faithfulness metrics): ``requests(model, attribution)`` lists the inputs
   (texts, or token-id tuples for mask-mode perturbations) whose explained output f(x) it needs;
   ``compute(model, attribution, request, outputs)`` turns those outputs into an ``ExampleScore``.
   The engine (``xaibench.metrics.evaluation.evaluate_metrics``) collects the requests of every metric for every
   example, de-duplicates them, runs one batched forward pass per chunk of examples and scatters
   the outputs back. Metrics never call the model themselves.
2. **Evaluate on its own** (stability, sanity, runtime metrics that re-explain or only read costs):
   override ``evaluate(model, attributions) -> MetricResult``.

``score(model, attributions)`` returns one metric's values, computing nothing else;
``xb.evaluate(model, attributions, metrics=[...])`` scores several metrics in one joint pass and
returns their random references too.
"""
from __future__ import annotations

from typing import ClassVar, Sequence

import numpy as np

from xaibench.core.component import Component
from xaibench.metrics.evaluation import evaluate_metrics
from xaibench.metrics.records import ExampleScore, MetricResult, ModelInput, Request

__all__ = ["ExampleScore", "Metric", "MetricResult", "ModelInput", "Request"]

#: Metric families, in the order tables show them.
FAMILIES = ("faithfulness", "ground_truth", "plausibility", "natural_language", "stability", "sanity", "diagnostic",
            "complexity", "cost")


class Metric(Component):
    """Base class of all metrics.

    A subclass declares its facts as class attributes (read by the registry, the run
    configuration, the tables and the compare gate):

    - ``name``: registry name; ``order``, ``in_default_runs``: see ``xaibench.core.component``.
    - ``higher_is_better``: the direction.
    - ``family``: one of ``FAMILIES``; profiles select metrics by family, and ``cost`` metrics are
      reported but never ranked with quality.
    - ``noisy``: values depend on the machine and the moment (wall time, memory): ``--xb-compare``
      shows them but does not gate on them.
    - ``uses_reference``: values depend on the example's evidence (planted cause, rationale), so
      cached values are keyed on it too.
    - ``reference_param``: the constructor parameter that sets how many random orderings the
      random reference averages (``n_random``), or None. ``score()`` sets it to 0: it returns
      values only and computes no reference it would throw away.
    - ``proportion``: every value is 0 or 1 (a hit rate), so tables give a Wilson interval for
      the share instead of a bootstrap interval of the mean.
    - ``profile_params``: ``{profile: {param: value}}``, the settings a built-in profile runs the
      metric with (e.g. fewer perturbations in smoke); user parameters override them.
    - ``recomputes``: the explainer quantity the metric measures its attributions against
      (``"leave_one_out"`` for ``loo_correlation``), with the removal rule ``removal_rule()``
      returns: an explainer that *computes* that quantity with that rule makes a circular pair
      (``xaibench.metrics.circularity``).
    - ``variant_of``: the registered metric this one re-asks with another removal (its ``removal``
      fact: "mask", "soft"), or None; the removal-agreement report pairs them.
    - ``explainer_family``: the explainer family the metric is about (``"natural_language"``: it
      reads the sentence of a sentence explanation), or None for every explainer. Runs select such
      a metric exactly when they run an explainer of that family (whatever the profile's metric
      families), it is not applicable to the others, and it stays out of the across-task ranks
      (it does not compare every explainer).
    - ``amortised``: every example of an explain call has the same value (a cost divided over the
      call's examples): tables give the mean without an interval.
    - ``reexplains``: the metric explains other texts or models with the attribution's explainer
      (stability, sanity, contrast): it does not apply to explainers that cannot (``reexplainable``).
    - ``profiles``: the built-in profiles whose default runs select it (None: every profile that
      selects its family); the metrics that re-explain every text again (``random_logit``) run in
      quick and full only.
    - ``reference_label``: what the reference row of the tables is called ("random ordering";
      "shuffled explanation" for the sentence metrics, whose reference gives each text another
      text's sentence).
    - ``not_applicable_to(explainer)``: a short reason ("deterministic") when the metric says
      nothing about that explainer (an instance, or its class or registry spec: its declared
      facts); the run then records the reason instead of a value. Default: the
      ``explainer_family`` rule.

    Constructor keyword arguments are stored as attributes of the same name (``params()`` reads
    them back through the signature), and ``requests`` + ``compute`` or ``evaluate`` are
    implemented (see the module docstring). The class docstring of a public metric states its
    definition, reference, range and direction.
    """

    higher_is_better: ClassVar[bool] = True
    family: ClassVar[str] = "faithfulness"
    noisy: ClassVar[bool] = False
    uses_reference: ClassVar[bool] = False
    reference_param: ClassVar[str | None] = None
    proportion: ClassVar[bool] = False
    profile_params: ClassVar[dict] = {}
    recomputes: ClassVar[str | None] = None
    variant_of: ClassVar[str | None] = None
    explainer_family: ClassVar[str | None] = None
    reference_label: ClassVar[str] = "random ordering"
    profiles: ClassVar[tuple[str, ...] | None] = None
    reexplains: ClassVar[bool] = False
    amortised: ClassVar[bool] = False

    @classmethod
    def not_applicable_to(cls, explainer) -> str | None:
        """None when the metric applies to ``explainer`` (an instance, or its class or registry
        spec); otherwise a short reason shown in its table cell. Default: applies, unless the
        metric declares an ``explainer_family`` the explainer is not of, re-explains (``reexplains``)
        with an explainer that cannot (scores from a file), or measures cost of scores computed
        elsewhere. Subclasses that add reasons call this first."""
        if cls.explainer_family and getattr(explainer, "family", None) != cls.explainer_family:
            return f"not {cls.explainer_family.replace('_', ' ')}"
        if cls.reexplains and not getattr(explainer, "reexplainable", True):
            return "not re-explainable"
        if cls.family == "cost" and getattr(explainer, "external", False):
            return "computed elsewhere"
        return None

    def removal_rule(self) -> str | None:
        """How this metric takes units out of a text: its ``mode`` parameter when it has one,
        else the class's ``removal`` fact, else None (it removes nothing)."""
        return getattr(self, "mode", None) or getattr(type(self), "removal", None)

    # ---- protocol 1: declare inputs, compute from their outputs ------------------------------
    def requests(self, model, attribution) -> Request:
        """The inputs whose explained output this metric needs for ``attribution``."""
        raise NotImplementedError

    def chunk_requests(self, model, attributions: Sequence) -> list[Request]:
        """The requests of a chunk of attributions, one per attribution in order. Default: each
        attribution's ``requests``; a metric whose inputs depend on the other attributions of the
        chunk (the sentence metrics' shuffled reference) overrides this instead."""
        return [self.requests(model, a) for a in attributions]

    def compute(self, model, attribution, request: Request, outputs: np.ndarray) -> ExampleScore:
        """Score one attribution from ``outputs[i]`` = f(``request.inputs[i]``), where f is the
        attribution's explained output (``model.output_from_logits`` with its target and output)."""
        raise NotImplementedError

    def shared_inputs(self, model, text: str) -> tuple[ModelInput, ...]:
        """Inputs this metric asks for on *every* attribution of ``text``, whatever its scores
        (f(x), random-ordering perturbations, leave-one-out texts). The benchmark session computes
        the union over metrics and explainers once per chunk of examples and shares it
        (``xaibench.modeling.sharing``); the default is none."""
        return ()

    @property
    def declares_requests(self) -> bool:
        """True when the metric uses protocol 1 (the engine batches it with the others)."""
        return type(self).requests is not Metric.requests or type(self).chunk_requests is not Metric.chunk_requests

    # ---- protocol 2: evaluate on its own ------------------------------------------------------
    def evaluate(self, model, attributions: Sequence) -> MetricResult:
        """All attributions at once, with the random reference, curves and notes. The default runs
        protocol 1 through the shared engine."""
        return evaluate_metrics(model, [self], attributions)[self.name]

    def score(self, model, attributions: Sequence) -> np.ndarray:
        """This metric's values: ``(n,)`` floats, one per attribution in order, NaN where undefined
        (``evaluate(...).notes`` say why); the ``values`` of ``evaluate(model, attributions)``.

        Cost: only what the values need. The metric runs as ``values_only()``: no random reference,
        so no random-ordering input is built or run. A request-declaring metric then runs one
        batched forward pass per chunk of 64 examples (``DEFAULT_CHUNK_SIZE``) over the distinct
        inputs of its own requests (removal metrics: f(x) and one edit per distinct k of the
        attribution's ranking; ``loo_correlation``: f(x) and one removal per unit); the others run
        their ``evaluate``. These are the inputs ``evaluate`` uses for the values, batched with
        fewer others, so a float32 model's outputs for them, and the values, may differ from
        ``evaluate``'s in the last bits. Each call runs its own pass:
        to score several metrics, ``xb.evaluate`` runs the inputs they share once and returns the
        random references too.
        """
        return self.values_only().evaluate(model, attributions).values

    def values_only(self) -> "Metric":
        """This metric with the same parameters but ``reference_param`` = 0, so it computes no
        random reference (itself when it has none or it is already 0)."""
        if self.reference_param is None or not getattr(self, self.reference_param):
            return self
        return type(self)(**{**self.params(), self.reference_param: 0})


def declared(name: str, fact: str, default=None):
    """A fact the metric registered as ``name`` declares (``family``, ``noisy``, ...), or
    ``default`` for a name that is not registered (a baseline written by another version)."""
    from xaibench.core import registry

    if name not in registry.metrics:
        return default
    return getattr(registry.metrics.spec(name), fact, default)
