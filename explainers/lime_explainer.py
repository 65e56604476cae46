"""LIME for text (Ribeiro, Singh & Guestrin, 2016) through ``lime.lime_text.LimeTextExplainer``."""
from __future__ import annotations

import numpy as np

from xaibench.core import registry
from xaibench.core.units import keep_units, normalize_space, split_units
from xaibench.explainers._convergence import StableTopK, weighted_ridge
from xaibench.explainers._lockstep import output_answers, run_lockstep
from xaibench.explainers.base import ExplainBatch, Explainer


@registry.explainers.register
class Lime(Explainer):
    """LIME: the coefficients of a weighted linear model fitted to the explained output on random
    deletions of units around the text.

    ``LimeTextExplainer`` runs with our units as its features: ``split_expression`` returns
    ``model.units(text)`` and ``bow=False``, so a repeated word is one feature per occurrence;
    ``mask_string=""`` plus whitespace normalisation makes every perturbed text exactly the
    ``delete`` removal rule (docs/api.md, "Removing units"). Each sample removes a uniformly drawn number of
    units; samples are weighted by LIME's exponential kernel on cosine distance
    (``kernel_width``); the model is LIME's default ``Ridge(alpha=1)`` on all units
    (``feature_selection="none"``, which is what LIME's "auto" ends with when every unit is
    requested).

    The regression target is the explained output: the target-class probability by default
    (``output="prob"``), or the logit with ``output="logit"``. LIME's ``classifier_fn`` is meant
    to return probabilities, but its linear model fits whichever column it is given, so a logit
    column is fitted the same way. Score: the unit's coefficient, in units of f per unit present;
    > 0 supports the target. ``metadata``: ``lime_r2`` (weighted R² of the local model) and
    ``lime_intercept``.

    Parameters
    ----------
    n_samples: int, default 1000. Perturbed texts per example (the first is the text itself);
        identical perturbations are evaluated once, so ``n_forward`` can be lower.
    kernel_width: float, default 25 (LIME's default).
    seed: int, default 0 (per-example seed from (seed, "lime", text)). output: see ``Explainer``.
    converge_top_k: int or None, default None (off). Opt-in convergence mode: samples are drawn
        in rounds of ``converge_step`` and LIME's linear model refitted after each; sampling stops
        once the ``converge_top_k`` top-scored units have been the same set for
        ``converge_patience`` consecutive rounds, or at ``n_samples`` (then the cap). The samples
        follow LIME's scheme (a uniform number of units removed, which ones uniformly; the same
        kernel and ``Ridge(alpha=1)`` fit, through ``lime.lime_base.LimeBase``) but are drawn round by
        round, so the result differs from the fixed-budget one by sampling noise, not by method.
        ``metadata``: ``lime_samples`` (perturbations used), ``lime_converged`` (False: stopped
        at the cap) and ``lime_stderr`` (each coefficient's HC0 sandwich standard error, same units
        as the score; ``_convergence.weighted_ridge``).
    converge_step: int, default 100. converge_patience: int, default 2.

    All perturbed texts of all examples go through the batched engine in one call (in convergence
    mode: one call per round, every example still sampling in it).
    """

    name = "lime"
    removal = "delete"
    order = 30
    cheap_params = {"n_samples": 200}
    deterministic = False

    def __init__(self, *, n_samples: int = 1000, kernel_width: float = 25.0, seed: int = 0,
                 output: str | None = None, converge_top_k: int | None = None, converge_step: int = 100,
                 converge_patience: int = 2) -> None:
        super().__init__(seed=seed, output=output)
        self.n_samples = n_samples
        self.kernel_width = kernel_width
        self.converge_top_k = converge_top_k
        self.converge_step = converge_step
        self.converge_patience = converge_patience

    def check_params(self) -> None:
        if isinstance(self.n_samples, bool) or not isinstance(self.n_samples, int) or self.n_samples < 2:
            raise ValueError(f"n_samples must be an int >= 2, got {self.n_samples!r}")
        if isinstance(self.kernel_width, bool) or not isinstance(self.kernel_width, (int, float)) \
                or not self.kernel_width > 0:
            raise ValueError(f"kernel_width must be a number > 0, got {self.kernel_width!r}")
        if self.converge_top_k is not None:
            StableTopK(self.converge_top_k, self.converge_patience)  # raises on a bad k or patience
            if isinstance(self.converge_step, bool) or not isinstance(self.converge_step, int) \
                    or self.converge_step < 1:
                raise ValueError(f"converge_step must be an int >= 1, got {self.converge_step!r}")

    def _attribute(self, model, batch: ExplainBatch) -> list[np.ndarray]:
        jobs = [self._job(model, batch, i) for i in range(len(batch))]
        return run_lockstep(jobs, output_answers(model, batch.output), batch.seeds,
                            progress=batch.progress, desc="lime")

    def _job(self, model, batch: ExplainBatch, i: int):
        if self.converge_top_k is not None:
            return self._converging_job(model, batch, i)
        from lime.lime_text import LimeTextExplainer

        text, units, target, seed = batch.texts[i], batch.units[i], int(batch.targets[i]), batch.seeds[i]
        edits = model.edits(text)

        def run(ask) -> np.ndarray:
            explainer = LimeTextExplainer(
                kernel_width=self.kernel_width, split_expression=lambda s: [u.text for u in model.units(s)],
                bow=False, mask_string="", feature_selection="none", random_state=seed,
            )

            def classifier_fn(perturbed: list[str]) -> np.ndarray:
                # LIME's first sample is the text itself; the others get the removal rule's
                # whitespace normalisation (LIME only blanked the removed units), as token-id edits
                # where exact (xaibench.modeling.edits).
                inputs = [perturbed[0], *(as_edit(edits, units, normalize_space(s)) for s in perturbed[1:])]
                return np.asarray(ask((inputs, target)), dtype=np.float64)[:, None]

            explanation = explainer.explain_instance(
                text, classifier_fn, labels=(0,), num_features=len(units), num_samples=self.n_samples,
            )
            indexed = explanation.domain_mapper.indexed_string
            unit_at = {u.start: j for j, u in enumerate(units)}
            scores = np.zeros(len(units))
            for feature, weight in explanation.local_exp[0]:
                start = int(indexed.string_position(feature)[0])
                if start not in unit_at:
                    raise RuntimeError(f"LIME feature {indexed.word(feature)!r} at {start} is not a unit of {text!r}")
                scores[unit_at[start]] = weight
            batch.metadata[i]["lime_r2"] = float(explanation.score)
            batch.metadata[i]["lime_intercept"] = float(explanation.intercept[0])
            return scores

        return run

    def _converging_job(self, model, batch: ExplainBatch, i: int):
        from lime.lime_base import LimeBase
        from sklearn.metrics.pairwise import pairwise_distances

        text, units, target, seed = batch.texts[i], batch.units[i], int(batch.targets[i]), batch.seeds[i]
        edits = model.edits(text)
        d = len(units)
        width = float(self.kernel_width)

        def kernel(distances):  # LimeTextExplainer's kernel on its cosine distance x 100
            return np.sqrt(np.exp(-(distances ** 2) / width ** 2))

        def run(ask) -> np.ndarray:
            rng = np.random.RandomState(seed)
            rows, ys, seen = [np.ones(d)], [], {}
            ys.extend(np.asarray(ask(([text], target)), dtype=np.float64).tolist())
            stable = StableTopK(self.converge_top_k, self.converge_patience)
            converged = False
            while len(rows) < self.n_samples:
                new_rows = []
                for _ in range(min(self.converge_step, self.n_samples - len(rows))):
                    row = np.ones(d)
                    row[rng.choice(d, rng.randint(1, d + 1), replace=False)] = 0
                    new_rows.append(row)
                # Identical perturbations are asked once (short texts repeat many).
                kept = [tuple(np.flatnonzero(r)) for r in new_rows]
                fresh = [k for k in dict.fromkeys(kept) if k not in seen]
                if fresh:
                    answers = np.asarray(ask(([edits.only(k) for k in fresh], target)), dtype=np.float64)
                    seen.update(zip(fresh, answers.tolist()))
                rows.extend(new_rows)
                ys.extend(seen[k] for k in kept)
                scores, r2, intercept, weights = self._fit(LimeBase, pairwise_distances, kernel, rows, ys, seed)
                if stable.update(scores):
                    converged = True
                    break
            _, _, stderr = weighted_ridge(np.asarray(rows), np.asarray(ys), weights)
            meta = batch.metadata[i]
            meta.update(lime_r2=r2, lime_intercept=intercept, lime_samples=len(rows),
                        lime_converged=converged, lime_stderr=[float(x) for x in stderr])
            return scores

        return run

    @staticmethod
    def _fit(LimeBase, pairwise_distances, kernel, rows, ys, seed):
        """LIME's own fit (``LimeBase.explain_instance_with_data``) on the samples so far:
        (scores by unit, weighted R², intercept, the samples' kernel weights)."""
        X = np.asarray(rows)
        distances = pairwise_distances(X, X[:1], metric="cosine").ravel() * 100
        intercept, local_exp, r2, _ = LimeBase(kernel, random_state=seed).explain_instance_with_data(
            X, np.asarray(ys)[:, None], distances, 0, X.shape[1], feature_selection="none")
        scores = np.zeros(X.shape[1])
        for feature, weight in local_exp:
            scores[feature] = weight
        return scores, float(r2), float(intercept), kernel(distances)


def as_edit(edits, units, perturbed: str):
    """LIME's perturbed text as the edit keeping the units it still holds: its units matched in
    order against the text's (a subsequence: LIME only blanks removed units), checked to rebuild
    exactly the perturbed text; the text itself when they do not."""
    kept, j = [], 0
    for u in split_units(perturbed):
        while j < len(units) and units[j].text != u.text:
            j += 1
        if j == len(units):
            return perturbed
        kept.append(j)
        j += 1
    if keep_units(edits.text, units, kept) != perturbed:
        return perturbed
    return edits.only(kept)
