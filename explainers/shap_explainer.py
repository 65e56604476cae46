"""SHAP Partition explainer (Lundberg & Lee, 2017) over our units, through ``shap.Explainer``."""
from __future__ import annotations

import numpy as np

from xaibench.core import registry
from xaibench.explainers._convergence import StableTopK
from xaibench.explainers._lockstep import output_answers, run_lockstep
from xaibench.explainers.base import ExplainBatch, Explainer


class UnitTokenizer:
    """The tokenizer callable ``shap.maskers.Text`` uses: one "token" per unit of ``model.units``.

    ``input_ids`` are unit positions 0..n-1 and ``offset_mapping`` their character spans, so shap's
    features are exactly our units. ``mask_token_id = -1`` marks a removed unit in the
    ``token_ids`` output; ``mask_token = ""`` (shap reads both attributes from the tokenizer).
    """

    mask_token = ""
    mask_token_id = -1

    def __init__(self, model) -> None:
        self.model = model

    def __call__(self, text: str, return_offsets_mapping: bool = True, **_) -> dict:
        units = self.model.units(text)
        out = {"input_ids": list(range(len(units)))}
        if return_offsets_mapping:
            out["offset_mapping"] = [(u.start, u.end) for u in units]
        return out


@registry.explainers.register
class Shap(Explainer):
    """SHAP values of the explained output, estimated by shap's Partition explainer (Owen values
    over shap's hierarchical clustering of the text; ``shap.Explainer(..., algorithm="partition")``
    with a ``shap.maskers.Text`` masker whose tokens are our units).

    Masking: shap's Text masker hands over, for each coalition, which units are kept
    (``output_type="token_ids"``, removed units marked -1), and the text the model sees is built
    with the ``delete`` removal rule of docs/api.md (``remove_units``). That is exact, where
    shap's own string output would put a space in place of each removed run ("good,bad" ->
    "good bad"). The background (all units removed) is the empty text.

    The explained output is the target-class probability by default (``output="prob"``;
    ``"logit"`` is the option). Score: the unit's SHAP value in units of f; > 0 supports the target;
    scores sum to f(x) - f("") (efficiency; exact once ``max_evals`` covers the whole tree).
    ``metadata["shap_base_value"]`` is f("").

    Parameters
    ----------
    max_evals: int, default 500 (shap's default for partition): model evaluations per example.
    batch_size: int or "auto" (shap's default, 5 tree nodes = 10 coalitions per step). shap asks
        for that many at a time; the requests of all examples are merged into one engine call.
    seed: int, default 0. Partition breaks priority ties with numpy's global generator, seeded per
        example from (seed, "shap", text) and restored afterwards. output: see ``Explainer``.

    A text of one unit has no tree to partition: its score is f(x) - f("") (its exact Shapley value).

    converge_top_k: int or None, default None (off). Opt-in convergence mode: Partition runs with
        ``converge_start`` evaluations, then doubles them up to ``max_evals``, and stops once the
        ``converge_top_k`` top-scored units have been the same set for ``converge_patience``
        consecutive rounds. Every coalition already evaluated for the text is answered from the
        text's table, never by the model again, so a round costs only the coalitions it adds
        (Partition with a larger budget refines the same tree: most of its coalitions are the
        smaller run's). Partition is deterministic: its error is the truncation of the tree, not
        sampling, so there is no standard error; ``metadata["shap_last_change"]`` is the largest
        change of any unit's value in the last round (units of f) as the estimate of what further
        evaluations would move. Also ``shap_evals`` (distinct coalitions evaluated) and
        ``shap_converged`` (False: stopped at ``max_evals``).
    converge_start: int, default 64. converge_patience: int, default 1.
    """

    name = "shap"
    removal = "delete"
    order = 31
    cheap_params = {"max_evals": 100}
    deterministic = False

    def __init__(self, *, max_evals: int = 500, batch_size: int | str = "auto", seed: int = 0,
                 output: str | None = None, converge_top_k: int | None = None, converge_start: int = 64,
                 converge_patience: int = 1) -> None:
        super().__init__(seed=seed, output=output)
        self.max_evals = max_evals
        self.batch_size = batch_size
        self.converge_top_k = converge_top_k
        self.converge_start = converge_start
        self.converge_patience = converge_patience

    def check_params(self) -> None:
        if isinstance(self.max_evals, bool) or not isinstance(self.max_evals, int) or self.max_evals < 3:
            raise ValueError(f"max_evals must be an int >= 3, got {self.max_evals!r}")
        if self.converge_top_k is not None:
            StableTopK(self.converge_top_k, self.converge_patience)  # raises on a bad k or patience
            if isinstance(self.converge_start, bool) or not isinstance(self.converge_start, int) \
                    or self.converge_start < 3:
                raise ValueError(f"converge_start must be an int >= 3, got {self.converge_start!r}")

    def _attribute(self, model, batch: ExplainBatch) -> list[np.ndarray]:
        jobs = [self._job(model, batch, i) for i in range(len(batch))]
        return run_lockstep(jobs, output_answers(model, batch.output), batch.seeds,
                            progress=batch.progress, desc="shap")

    def _job(self, model, batch: ExplainBatch, i: int):
        import shap

        text, units, target, seed = batch.texts[i], batch.units[i], int(batch.targets[i]), batch.seeds[i]
        edits = model.edits(text)  # token-id edits where exact (xaibench.modeling.edits)

        converging = self.converge_top_k is not None
        answered: dict[tuple, float] = {}  # coalition (removed units) -> f, for this text's rounds

        def run(ask) -> np.ndarray:
            def f(kept_ids) -> np.ndarray:
                # One row per coalition: unit positions, -1 where shap removed the unit.
                rows = np.asarray(kept_ids).reshape(-1, len(units))
                if not converging:
                    inputs = [edits.without(np.flatnonzero(row < 0)) for row in rows]
                    return np.asarray(ask((inputs, target)), dtype=np.float64)
                keys = [tuple(np.flatnonzero(row < 0)) for row in rows]
                fresh = [k for k in dict.fromkeys(keys) if k not in answered]
                if fresh:
                    values = np.asarray(ask(([edits.without(k) for k in fresh], target)), dtype=np.float64)
                    answered.update(zip(fresh, values.tolist()))
                return np.array([answered[k] for k in keys])

            if len(units) == 1:
                full, empty = f(np.array([[0], [-1]]))
                batch.metadata[i]["shap_base_value"] = float(empty)
                return np.array([full - empty])
            masker = shap.maskers.Text(UnitTokenizer(model), collapse_mask_token=False, output_type="token_ids")
            explainer = shap.Explainer(f, masker, algorithm="partition", seed=seed)

            def partition(max_evals: int):
                if converging:  # Partition breaks priority ties with np.random: the same draws every round
                    np.random.seed(seed % 2**32)
                explanation = explainer([text], max_evals=max_evals, batch_size=self.batch_size, silent=True)
                return (np.asarray(explanation.values[0], dtype=np.float64).reshape(-1),
                        float(np.asarray(explanation.base_values).reshape(-1)[0]))

            if not converging:
                values, base = partition(self.max_evals)
            else:
                stable = StableTopK(self.converge_top_k, self.converge_patience)
                budget, previous, converged = min(self.converge_start, self.max_evals), None, False
                while True:
                    values, base = partition(budget)
                    change = None if previous is None else float(np.max(np.abs(values - previous)))
                    if stable.update(values):
                        converged = True
                        break
                    if budget >= self.max_evals:
                        break
                    previous, budget = values, min(2 * budget, self.max_evals)
                batch.metadata[i].update(shap_evals=len(answered), shap_converged=converged,
                                         shap_last_change=change)
            batch.metadata[i]["shap_base_value"] = base
            return values

        return run
