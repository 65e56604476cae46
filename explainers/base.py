"""``Explainer``: the one call shape every attribution method shares.

``explain(model, texts, targets=None) -> list[Attribution]`` validates its inputs, picks the targets
(the predicted class by default), measures what the call cost, and hands one batch of texts to the
method's ``_attribute``. Methods batch *across* examples, so cost is measured for the whole call and
amortised over its examples (see ``Explainer.explain``).

Adding an explainer is one file with a subclass that declares its facts (below) and the
``@registry.explainers.register`` decorator; discovery finds the file.
"""
from __future__ import annotations

import abc
import time
from dataclasses import dataclass, field
from typing import ClassVar, Sequence

import numpy as np
import torch

from xaibench.core.component import Component
from xaibench.core.records import Attribution, Attributions, Unit
from xaibench.core.seeding import stable_hash

#: Explainer families: what kind of evidence the scores are. ``natural_language``: the explanation
#: is a sentence, and the scores are the units it cites (``explainers/_sentence.py``); ``external``:
#: scores computed elsewhere and read from a file (``explainers/attributions_file.py``).
FAMILIES = ("control", "attention", "gradient", "perturbation", "natural_language", "external")


@dataclass
class ExplainBatch:
    """What ``_attribute`` receives: texts that have at least one unit, and everything derived.

    ``token_ids[i]`` are the model's token ids (special tokens included, truncated to
    ``model.max_length``); ``token_units[i][t]`` is the unit index of token ``t`` (-1 for special
    tokens); ``seeds[i]`` is the example's own seed (see ``Explainer.example_seed``).
    """

    texts: list[str]
    targets: np.ndarray
    output: str
    units: list[list[Unit]]
    token_ids: list[list[int]]
    token_units: list[np.ndarray]
    seeds: list[int]
    progress: bool = False
    metadata: list[dict] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)


class Explainer(Component, abc.ABC):
    """Base class of all explainers.

    A subclass declares its facts as class attributes: ``name``, ``order`` and
    ``in_default_runs`` (``xaibench.core.component``); ``family`` (one of ``FAMILIES``: what kind
    of evidence the scores are); ``deterministic`` (False when scores depend on ``seed``);
    ``gradient_based`` (scores come from gradients of f with respect to the input embeddings, so
    metrics that perturb embeddings, such as ``max_sensitivity``, apply); ``cheap_params``;
    ``removal`` (how the method takes units out of a text when it perturbs it: ``"delete"``, the
    removal rule of docs/api.md, or None when it never edits the text) and ``computes`` (the
    quantity its scores *are*, when a metric could recompute it: ``"leave_one_out"`` for the
    output drop of removing one unit). ``xaibench.metrics.circularity`` reads the last two to find
    explainer/metric pairs where the metric only re-measures what the explainer computed.
    ``profiles``: the built-in profiles whose default runs select it (None: every profile that
    selects default explainers; see ``in_default_runs``). ``reexplainable`` (False: it cannot
    explain other texts or models, so the metrics that re-explain do not apply) and ``external``
    (True: its scores were computed elsewhere, so the cost metrics do not apply).

    Two hooks take the model: ``unavailable_for(model)`` says why the explainer cannot explain
    that model at all (a learned generator trained for another classifier), so a run records the
    cell as not run instead of failing every example; ``cache_identity(model)`` adds what the
    results depend on beyond the parameters (the weights of a built-in generator) to cache keys.

    Parameters are constructor keyword arguments stored unchanged (``params()`` reads them back), so
    ``get_explainer(a.explainer["name"], **params)`` rebuilds the same explainer.

    Parameters
    ----------
    seed: int, default 0. Seeds every random choice; each example's seed is derived from
        (seed, explainer name, text), so the same configuration gives identical scores and adding
        an example does not change the others.
    output: ``None`` (the model's default: ``"prob"``, the target-class probability, for
        classifiers; ``"value"``, ŷ/σ, for regression models), ``"prob"`` or ``"logit"``
        (classifiers) or ``"value"`` (regression models).
    """

    family: ClassVar[str] = "perturbation"
    #: False for methods whose scores depend on ``seed`` (random, lime, shap).
    deterministic: ClassVar[bool] = True
    gradient_based: ClassVar[bool] = False
    #: Settings at the cheap end of the method's range, used by the smoke and quick profiles (full
    #: runs use the constructor defaults).
    cheap_params: ClassVar[dict] = {}
    #: The removal rule of the method's own text perturbations ("delete"), None if it edits no text.
    removal: ClassVar[str | None] = None
    #: The quantity the scores are, when it is one a metric can recompute ("leave_one_out"), else None.
    computes: ClassVar[str | None] = None
    #: Built-in profiles that select it by default (None: all of them).
    profiles: ClassVar[tuple[str, ...] | None] = None
    #: False when the explainer cannot explain other texts or models (scores read from a file):
    #: metrics that re-explain (``Metric.reexplains``) do not apply to it.
    reexplainable: ClassVar[bool] = True
    #: True when the scores were computed elsewhere: cost metrics do not apply.
    external: ClassVar[bool] = False

    def __init__(self, *, seed: int = 0, output: str | None = None) -> None:
        self.seed = seed
        self.output = output

    # ---- parameters (``params()``: see ``Component``; ``Attribution.explainer == {"name": ..., **params}``)
    def check_params(self) -> None:
        """Raise ``ValueError`` naming the first out-of-range parameter. Needs no model, so a run
        configuration is checked before anything is loaded; ``explain`` calls it first."""

    def shared_inputs(self, model, text: str) -> tuple:
        """Model inputs this method will evaluate on ``text`` whatever the model answers, known
        before it runs: the benchmark session computes them once per chunk, together with the
        metrics' (``Metric.shared_inputs``), and serves them from a shared table. Default: x itself
        (the forward pass that picks the predicted target)."""
        return (text,)

    def unavailable_for(self, model) -> str | None:
        """Why this explainer cannot explain ``model`` at all (one sentence), or None (default)."""
        return None

    def cache_identity(self, model) -> dict:
        """What explanations of ``model`` depend on besides ``params()`` (e.g. a generator's
        weights), for cache keys; default nothing."""
        return {}

    def example_seed(self, text: str) -> int:
        """The seed of one example: a stable hash of (seed, explainer name, text), in [0, 2**32)."""
        return stable_hash(self.seed, self.name, text) % 2**32

    # ---- the one verb ------------------------------------------------------------------------
    def explain(self, model, texts: Sequence[str], targets=None, progress: bool = False) -> Attributions:
        """Explain ``model`` on ``texts``; one ``Attribution`` per text, in order, as ``Attributions``
        (a ``list`` that Jupyter shows as highlighted texts on one colour scale).

        ``targets``: class index per text, any class of the model (e.g. 1 = "neutral" of a
        three-class model); default the predicted class (that forward pass counts in the cost).
        Regression models have one output: the target is 0 and f(x) = ŷ(x)/σ. Scores are one per ``model.units(text)``; sub-token scores are summed into
        their unit. A text with no units gets an empty score array; units whose tokens were cut by
        the model's ``max_length`` get score 0 and ``metadata["n_units_truncated"]`` counts them.

        ``cost`` is amortised: the call's totals divided evenly over its examples, because methods
        batch across examples. ``n_forward``/``n_backward`` (examples passed through the model,
        from the model's own counters) are split so that they sum exactly to the call's totals
        (remainders go to the first examples); ``seconds`` is wall time / n; ``call_seconds`` and
        ``call_size`` are the whole call's wall time and number of examples (every example of a
        call has the same ``seconds``: a spread over examples would describe nothing). Inside
        ``model.sharing()`` passes served from the shared table count too (with the seconds they
        took when first computed) and are also given as ``n_forward_reused``/``n_backward_reused``.
        ``peak_mem_bytes`` is the peak of the whole call, repeated on each attribution (a peak does
        not divide): on CUDA ``torch.cuda.max_memory_allocated`` during the call; on the CPU it is
        None, not measured: torch's CPU allocator keeps no peak statistics, and the process's
        resident high-water mark (``ru_maxrss``) only moves when a call exceeds every earlier one,
        which reported a false 0 for almost every call.
        """
        self.check_params()
        texts = _check_texts(texts)
        output = model.check_output(self.output)
        mem = _PeakMemory(model.device)  # synchronises CUDA first, so the clock starts on an idle device
        n_forward0, n_backward0, start = model.n_forward, model.n_backward, time.perf_counter()
        reused0 = _reused(model)
        if not texts:
            return Attributions()
        targets = self._check_targets(model, texts, targets)

        units = [model.units(t) for t in texts]
        active = [i for i, u in enumerate(units) if u]
        scores: list[np.ndarray] = [np.zeros(0) for _ in texts]
        metadata: list[dict] = [{} for _ in texts]
        if active:
            token_ids, token_units = model.encode([texts[i] for i in active])
            batch = ExplainBatch(
                texts=[texts[i] for i in active], targets=targets[active], output=output,
                units=[units[i] for i in active], token_ids=token_ids, token_units=token_units,
                seeds=[self.example_seed(texts[i]) for i in active], progress=progress,
                metadata=[metadata[i] for i in active],
            )
            results = self._attribute(model, batch)
            for j, i in enumerate(active):
                scores[i] = self._finish_scores(model, results[j], batch, j, metadata[i])

        peak = mem.peak()  # synchronises CUDA before the clock stops
        seconds = time.perf_counter() - start
        reused = [now - before for now, before in zip(_reused(model), reused0)]
        costs = _amortise(len(texts), model.n_forward - n_forward0, model.n_backward - n_backward0,
                          seconds, peak, *reused)
        info = {"name": self.name, **self.params()}
        return Attributions([
            Attribution(
                text=text, units=[u.text for u in units[i]], scores=scores[i], target=int(targets[i]),
                cost=costs[i], explainer=dict(info), spans=tuple((u.start, u.end) for u in units[i]),
                output=output,
                metadata={"n_units_truncated": 0, **metadata[i], "amortised_over": len(texts)},
            )
            for i, text in enumerate(texts)
        ])

    @abc.abstractmethod
    def _attribute(self, model, batch: ExplainBatch) -> list[np.ndarray]:
        """One score array per text of ``batch`` (len = its number of units).

        Implementations make all their model calls batched across the texts of ``batch`` and
        add per-example extras to ``batch.metadata[i]`` (a dict).
        """

    # ---- helpers -----------------------------------------------------------------------------
    def _check_targets(self, model, texts: list[str], targets) -> np.ndarray:
        if targets is None:
            return np.asarray(model.predicted_targets(texts), dtype=int)
        if np.isscalar(targets):
            raise TypeError(f"targets must be a sequence of class indices, one per text; got {targets!r}")
        targets = list(targets)
        if len(targets) != len(texts):
            raise ValueError(f"targets has {len(targets)} entries for {len(texts)} texts; give one per text")
        n_classes = 1 if model.task_type == "regression" else model.n_outputs
        out = np.empty(len(targets), dtype=int)
        for i, t in enumerate(targets):
            if isinstance(t, (bool, np.bool_)) or not isinstance(t, (int, np.integer)) or not 0 <= t < n_classes:
                raise ValueError(
                    f"targets[{i}] = {t!r} is not a class index of model {model.name!r} "
                    f"(expected an int in [0, {n_classes - 1}])"
                )
            out[i] = int(t)
        return out

    def _finish_scores(self, model, raw, batch: ExplainBatch, j: int, meta: dict) -> np.ndarray:
        scores = np.asarray(raw, dtype=np.float64).reshape(-1)
        n_units = len(batch.units[j])
        if scores.shape != (n_units,):
            raise RuntimeError(
                f"explainer {self.name!r} returned {scores.size} scores for {n_units} units of {batch.texts[j]!r}"
            )
        truncated = _truncated_units(model, batch.token_ids[j], batch.token_units[j], n_units)
        if truncated:
            # The model never saw these units: no method can have evidence about them.
            scores = scores.copy()
            scores[n_units - truncated:] = 0.0
        meta["n_units_truncated"] = truncated
        return scores


def _check_texts(texts) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("texts must be a list of str, got a single str; wrap it: explain(model, [text])")
    try:
        texts = list(texts)
    except TypeError:
        raise TypeError(f"texts must be a list of str, got {type(texts).__name__}") from None
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}] must be a str, got {type(t).__name__}")
    return texts


def _truncated_units(model, token_ids: Sequence[int], token_units: np.ndarray, n_units: int) -> int:
    """Units after the last unit that kept a token, when the encoding hit ``max_length``."""
    if len(token_ids) < model.max_length:
        return 0
    seen = token_units[token_units >= 0]
    last = int(seen.max()) if seen.size else -1
    return n_units - 1 - last


def _reused(model) -> tuple[int, int, float]:
    """The model's counters of work served from a shared table (0 for models without them)."""
    return (int(getattr(model, "n_forward_reused", 0)), int(getattr(model, "n_backward_reused", 0)),
            float(getattr(model, "seconds_reused", 0.0)))


def _amortise(n: int, n_forward: int, n_backward: int, seconds: float, peak: int | None, n_forward_reused: int = 0,
              n_backward_reused: int = 0, seconds_reused: float = 0.0) -> list[dict]:
    """Per-example costs of a call. Work reused from a shared table counts as the method's own
    (passes it needed, and the seconds those passes took when first computed), and is also reported
    separately (``n_forward_reused``/``n_backward_reused``), so cost columns are what the method
    costs on its own whatever else ran in the same session."""
    def split(total: int) -> list[int]:
        base, extra = divmod(int(total), n)
        return [base + (1 if i < extra else 0) for i in range(n)]

    forwards, backwards = split(n_forward + n_forward_reused), split(n_backward + n_backward_reused)
    fwd_reused, bwd_reused = split(n_forward_reused), split(n_backward_reused)
    return [
        {"n_forward": forwards[i], "n_backward": backwards[i], "seconds": (seconds + seconds_reused) / n,
         "call_seconds": seconds + seconds_reused, "call_size": n,
         "peak_mem_bytes": None if peak is None else int(peak),
         "n_forward_reused": fwd_reused[i], "n_backward_reused": bwd_reused[i]}
        for i in range(n)
    ]


class _PeakMemory:
    """Peak memory of a block: the CUDA allocator's peak; None on the CPU (see ``Explainer.explain``)."""

    def __init__(self, device) -> None:
        self.cuda = torch.device(device).type == "cuda"
        if self.cuda:
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
            self.device = device

    def peak(self) -> int | None:
        if self.cuda:
            torch.cuda.synchronize(self.device)
            return int(torch.cuda.max_memory_allocated(self.device))
        return None
