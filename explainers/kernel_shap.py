"""KernelSHAP (Lundberg & Lee, 2017) over our units, through ``captum.attr.KernelShap``."""
from __future__ import annotations

import numpy as np
import torch

from xaibench.core import registry
from xaibench.explainers._lockstep import output_answers, run_lockstep
from xaibench.explainers.base import ExplainBatch, Explainer


@registry.explainers.register
class KernelShap(Explainer):
    """Shapley values of the units estimated by KernelSHAP: coalitions of units drawn from the
    Shapley kernel (size k with probability ∝ (M − 1) / (k (M − k)), then k units uniformly), the
    model evaluated on each, and a weighted linear regression of f on the coalitions
    (``captum.attr.KernelShap``; Lundberg & Lee 2017, "A Unified Approach to Interpreting Model
    Predictions", NeurIPS).

    The interpretable input is the presence vector of the text's units: a coalition keeps its units
    and cuts the others out with the ``delete`` removal of docs/api.md (``keep_units``); the
    baseline (no unit) is the empty text. Score: the unit's estimated Shapley value, in units of f;
    > 0 supports the target; they sum to about f(x) − f("") (exact in expectation, and captum's
    regression always includes the full and the empty coalition). A text of one unit gets its exact
    value f(x) − f("").

    Parameters: ``n_samples`` (default 200; cheap settings 64: coalitions per text; fewer than the
    text's units leaves the regression underdetermined, and captum then returns its least-norm
    solution), ``seed`` (each text's coalitions come from its own seed), ``output``.
    Cost: ``n_samples`` forwards per text; the coalitions of every text of a batch go to the engine
    together (``explainers/_lockstep.py``).
    """

    name = "kernel_shap"
    order = 33
    removal = "delete"
    deterministic = False
    cheap_params = {"n_samples": 64}
    # LIME's cost for the same kind of answer as shap's Partition values: full runs only.
    profiles = ("full",)

    def __init__(self, *, n_samples: int = 200, seed: int = 0, output: str | None = None) -> None:
        super().__init__(seed=seed, output=output)
        self.n_samples = n_samples

    def check_params(self) -> None:
        if isinstance(self.n_samples, bool) or not isinstance(self.n_samples, int) or self.n_samples < 2:
            raise ValueError(f"n_samples must be an int >= 2 (coalitions per text), got {self.n_samples!r}")

    def _attribute(self, model, batch: ExplainBatch) -> list[np.ndarray]:
        jobs = [self._job(model, batch, i) for i in range(len(batch))]
        return run_lockstep(jobs, output_answers(model, batch.output), batch.seeds,
                            progress=batch.progress, desc="kernel_shap")

    def _job(self, model, batch: ExplainBatch, i: int):
        from captum.attr import KernelShap as CaptumKernelShap

        text, units, target = batch.texts[i], batch.units[i], int(batch.targets[i])
        edits = model.edits(text)  # token-id edits where exact (xaibench.modeling.edits)

        def run(ask) -> np.ndarray:
            def f(presence: torch.Tensor) -> torch.Tensor:
                rows = presence.detach().cpu().numpy().reshape(-1, len(units))
                inputs = [edits.only(np.flatnonzero(row > 0)) for row in rows]
                return torch.as_tensor(np.asarray(ask((inputs, target)), dtype=np.float64))

            if len(units) == 1:
                full, empty = f(torch.tensor([[1.0], [0.0]])).tolist()
                return np.array([full - empty])
            ones = torch.ones(1, len(units), dtype=torch.float64)
            scores = CaptumKernelShap(f).attribute(ones, baselines=torch.zeros_like(ones), n_samples=self.n_samples,
                                                   perturbations_per_eval=self.n_samples, show_progress=False)
            return scores.detach().cpu().numpy().reshape(-1).astype(np.float64)

        return run
