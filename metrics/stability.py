"""Stability: does an explanation stay put when the input or the explainer's seed changes in ways that
should not matter?

``perturbation_stability`` and ``topk_intersection`` re-explain label-preserving, meaning-preserving
perturbations of each text (``xaibench.metrics.label_preserving``) with the same explainer and settings;
``seed_stability`` re-explains the same texts with other seeds. Both share ``metrics.reexplain``.
"""
from __future__ import annotations

import itertools
import weakref
from collections import OrderedDict

import numpy as np

from xaibench.core import registry
from xaibench.core.seeding import stable_hash
from xaibench.metrics.base import Metric, MetricResult
from xaibench.metrics.label_preserving import PerturbationSet, align_units, label_preserving
from xaibench.metrics.reexplain import (
    build_result,
    explain_many,
    explainer_key,
    mean_finite,
    per_attribution,
    rebuild_explainer,
    spearman,
)

#: Recent perturbation runs, so perturbation_stability and topk_intersection on the same
#: attributions with the same settings perturb and re-explain once. Keyed by content; the model is
#: held by weak reference and compared by identity.
_RUNS: OrderedDict = OrderedDict()
_RUNS_SIZE = 4
#: The note (and table cell) of seed_stability for an explainer whose scores ignore the seed.
DETERMINISTIC = "deterministic"


def _check_int(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return int(value)


def perturbation_runs(model, attributions, *, n_tries: int, n_keep: int, max_delta: float, protect_top: int,
                      seed: int) -> tuple[list[PerturbationSet], list]:
    """Label-preserving perturbations of every attribution's text (its top ``protect_top`` units
    protected from edits) and their re-explanations (one ``explain`` call per explainer config)."""
    protected = [tuple(int(i) for i in a.ranking()[:protect_top]) for a in attributions]
    key = (tuple((a.text, int(a.target), explainer_key(a.explainer), p) for a, p in zip(attributions, protected)),
           n_tries, n_keep, float(max_delta), seed)
    hit = _RUNS.get(key)
    if hit is not None and hit[0]() is model:
        return hit[1], hit[2]
    sets = label_preserving(model, [a.text for a in attributions], [a.target for a in attributions],
                            n_tries=n_tries, n_keep=n_keep, max_delta=max_delta, seed=seed, protected=protected)
    explained = explain_many(model, attributions, [s.texts for s in sets])
    _RUNS[key] = (weakref.ref(model), sets, explained)
    while len(_RUNS) > _RUNS_SIZE:
        _RUNS.popitem(last=False)
    return sets, explained


class _PerturbationMetric(Metric):
    """Shared protocol: perturb, re-explain, compare each kept x' with x, average over the x'."""

    family = "stability"
    reexplains = True
    # Smoke (CI) keeps one perturbation of four tries per example; quick and full several.
    profile_params = {"smoke": {"n_tries": 4, "n_keep": 1}}

    def __init__(self, n_tries: int = 8, n_keep: int = 3, max_delta: float = 0.05, protect_top: int = 3,
                 seed: int = 0) -> None:
        self.n_tries = _check_int("n_tries", n_tries, 1)
        self.n_keep = _check_int("n_keep", n_keep, 1)
        self.protect_top = _check_int("protect_top", protect_top, 0)
        if not isinstance(max_delta, (int, float)) or not 0 <= max_delta <= 1:
            raise ValueError(f"max_delta must be a float in [0, 1], got {max_delta!r}")
        self.max_delta = float(max_delta)
        self.seed = seed

    def compare(self, a, b) -> tuple[float, str | None]:
        """One number for the attribution ``a`` of x and ``b`` of a kept x' (NaN with a reason)."""
        raise NotImplementedError

    def evaluate(self, model, attributions) -> MetricResult:
        attributions = list(attributions)
        sets, explained = perturbation_runs(
            model, attributions, n_tries=self.n_tries, n_keep=self.n_keep, max_delta=self.max_delta,
            protect_top=self.protect_top, seed=self.seed)
        by_id = {id(a): s for a, s in zip(attributions, sets)}

        def score(a, others):
            pset = by_id[id(a)]
            details = {"language": pset.language, "tried": pset.tried, "kept": len(pset.kept),
                       "texts": pset.texts, "kinds": [p.kind for p in pset.kept], "deltas": list(pset.deltas)}
            if not others:
                return float("nan"), f"no label-preserving perturbation kept (tried {pset.tried})", details
            pairs = [self.compare(a, b) for b in others]
            details["values"] = [v for v, _ in pairs]
            value = mean_finite(details["values"])
            note = None if np.isfinite(value) else next((n for _, n in pairs if n), "undefined for every pair")
            return value, note, details

        return build_result(self, per_attribution(attributions, explained, score))


@registry.metrics.register
class PerturbationStability(_PerturbationMetric):
    """Mean Spearman ρ between the attribution of x and that of each kept perturbation x′, over the
    units they share.

    Definition: for each text, ``n_tries`` meaning-preserving edits are proposed
    (``xaibench.metrics.label_preserving``: typos, punctuation, fillers, case for English; width swaps,
    particles, repeated punctuation, traditional/simplified variants for Chinese; the top
    ``protect_top`` units of the attribution are never edited); the first ``n_keep`` that keep the
    predicted class and move p(target) by at most ``max_delta`` are re-explained by the same
    explainer with the same settings and target. ρ is taken over the units aligned by text and order
    (``align_units``), and averaged over the kept x′. Seeds: per example from (``seed``, text).
    Reference: Alvarez-Melis & Jaakkola 2018, "On the Robustness of Interpretability Methods"
    (stability under small input changes); Yin et al. 2022, "On the Sensitivity and Stability of
    Model Interpretations in NLP", ACL (meaning-preserving text perturbations).
    Range: [-1, 1]. Direction: higher is better (the random explainer scores ≈ 0). NaN (with a note)
    when no perturbation was kept or every pair has constant scores or fewer than 2 shared units.
    ``details[i]``: language, tried, kept, the kept texts, their kinds and p(target) changes, and
    each pair's ρ.
    """

    name = "perturbation_stability"
    order = 40
    higher_is_better = True

    def compare(self, a, b):
        pairs = align_units(a.units, b.units)
        if len(pairs) < 2:
            return float("nan"), "fewer than 2 units shared with the perturbed text"
        ia, ib = (list(x) for x in zip(*pairs))
        rho = spearman(np.asarray(a.scores)[ia], np.asarray(b.scores)[ib])
        return rho, None if np.isfinite(rho) else "constant scores on the shared units: ρ is undefined"


@registry.metrics.register
class TopKIntersection(_PerturbationMetric):
    """Share of the k top-ranked units of x that are still among the k top-ranked units of each kept
    perturbation x′ (units matched by ``align_units``), averaged over the kept x′.

    Definition: |top_k(x) ∩ top_k(x′)| / k' with k' = min(k, units of x, units of x′); top_k by
    ``Attribution.ranking`` (score descending, earlier first on ties) over *all* units of each text,
    so a unit of x′ that x lacks (an inserted filler) can push a shared unit out. Perturbations and
    re-explanations as in ``perturbation_stability`` (shared and cached when both run).
    Reference: top-k intersection of Ghorbani, Abid & Zou 2019, "Interpretation of Neural Networks
    is Fragile", AAAI. Range: [0, 1]. Direction: higher is better. A pair is NaN when all scores of x
    or of x′ are equal (no top-k); the value is NaN when every pair is.
    Display name ``topk_intersection@k``.
    """

    name = "topk_intersection"
    order = 41
    higher_is_better = True

    def __init__(self, k: int = 3, n_tries: int = 8, n_keep: int = 3, max_delta: float = 0.05,
                 protect_top: int = 3, seed: int = 0) -> None:
        super().__init__(n_tries=n_tries, n_keep=n_keep, max_delta=max_delta, protect_top=protect_top, seed=seed)
        self.k = _check_int("k", k, 1)

    @property
    def display_name(self) -> str:
        return f"topk_intersection@{self.k}"

    def compare(self, a, b):
        if len(a.scores) == 0 or np.ptp(a.scores) == 0:
            return float("nan"), "all attribution scores are equal: the top-k is undefined"
        k = min(self.k, len(a.units), len(b.units))
        if k == 0 or np.ptp(b.scores) == 0:
            return float("nan"), "all scores of the perturbed text are equal: its top-k is undefined"
        b_to_a = {j: i for i, j in align_units(a.units, b.units)}
        top_a = set(int(i) for i in a.ranking()[:k])
        top_b = {b_to_a.get(int(j), -1) for j in b.ranking()[:k]}
        return len(top_a & top_b) / k, None


@registry.metrics.register
class SeedStability(Metric):
    """Mean pairwise Spearman ρ between attributions of the same text from ``n_seeds`` explainer seeds.

    Definition: the given attribution (the explainer's own seed s0) plus ``n_seeds − 1`` re-explanations
    with seeds derived from (``seed``, s0, j) by ``stable_hash``, everything else unchanged; ρ over all
    units for each of the n(n−1)/2 pairs, averaged. The metric does not apply to explainers whose
    class declares ``deterministic = True`` (their scores cannot vary with the seed, and a 1.0
    would count as a win): they are not re-run, their values are NaN with the note
    "deterministic", and benchmark tables show "deterministic" and leave them out of ranks.
    Reference: run-to-run variance of stochastic explainers as in Zhou, Booth, Ribeiro & Shah 2022,
    "Do Feature Attribution Methods Correctly Attribute Features?" and Visani et al. 2022,
    "Statistical stability indices for LIME" (Journal of the ORS).
    Range: [-1, 1]. Direction: higher is better (the random explainer scores ≈ 0). NaN when scores
    are constant or the text has fewer than 2 units.
    """

    name = "seed_stability"
    order = 42
    family = "stability"
    reexplains = True
    higher_is_better = True
    profile_params = {"smoke": {"n_seeds": 2}}

    @classmethod
    def not_applicable_to(cls, explainer) -> str | None:
        reason = super().not_applicable_to(explainer)
        return reason or (DETERMINISTIC if getattr(explainer, "deterministic", True) else None)

    def __init__(self, n_seeds: int = 3, seed: int = 0) -> None:
        self.n_seeds = _check_int("n_seeds", n_seeds, 2)
        self.seed = seed

    def run_seeds(self, base_seed: int) -> list[int]:
        seeds = [int(base_seed)]
        for j in range(1, self.n_seeds):
            s = stable_hash("seed_stability", self.seed, base_seed, j) % 2**31
            while s in seeds:
                s += 1
            seeds.append(s)
        return seeds

    def evaluate(self, model, attributions) -> MetricResult:
        attributions = list(attributions)
        rows: list = [None] * len(attributions)
        groups: dict[str, list[int]] = {}
        for i, a in enumerate(attributions):
            groups.setdefault(explainer_key(a.explainer), []).append(i)
        for members in groups.values():
            spec = attributions[members[0]].explainer
            try:
                deterministic = bool(rebuild_explainer(spec).deterministic)
            except ValueError as exc:
                for i in members:
                    rows[i] = (float("nan"), str(exc), {})
                continue
            if deterministic:
                for i in members:
                    rows[i] = (float("nan"), DETERMINISTIC, {"deterministic": True})
                continue
            if "seed" not in spec:
                for i in members:
                    rows[i] = (float("nan"), f"explainer {spec.get('name')!r} records no seed to vary", {})
                continue
            seeds = self.run_seeds(spec["seed"])
            group = [attributions[i] for i in members]
            # One batched explain call per extra seed, over all texts of the group.
            runs = [explain_many(model, group, [[a.text] for a in group], seed=s) for s in seeds[1:]]
            for pos, i in enumerate(members):
                versions = [np.asarray(attributions[i].scores)] + [np.asarray(r[pos][0].scores) for r in runs]
                pairwise = [spearman(x, y) for x, y in itertools.combinations(versions, 2)]
                value = mean_finite(pairwise)
                note = None if np.isfinite(value) else "constant scores or fewer than 2 units: ρ is undefined"
                rows[i] = (value, note, {"deterministic": False, "seeds": seeds, "pairwise": pairwise})
        return build_result(self, rows)
