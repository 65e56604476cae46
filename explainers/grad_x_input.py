"""Gradient x input: the first-order Taylor contribution of each token's embedding to the output."""
from __future__ import annotations

import numpy as np

from xaibench.core import registry
from xaibench.explainers._gradients import apply_sign, check_sign, gradient_attributions, units_from_tokens
from xaibench.explainers.base import ExplainBatch, Explainer


@registry.explainers.register
class GradientXInput(Explainer):
    """Gradient of the explained output with respect to each input embedding, times that embedding,
    summed over the hidden dimension (Shrikumar et al., 2016; Denil et al., 2014 for text).

    The explained output is the target-class probability by default (``output="prob"``;
    ``"logit"`` is the option). Score: ``sum over the unit's sub-tokens of <d f(x)/d e_t, e_t>``, in
    units of f. Signed: > 0 supports the target, < 0 opposes it (a linear estimate of f's change
    when the embedding is scaled to zero). One forward and one backward per text, batched.

    Parameters: ``sign`` (``"signed"``, the default, or ``"abs"``: |score| per unit, see
    ``explainers/_gradients.py``), ``seed`` (unused, the method is deterministic), ``output`` (see
    ``Explainer``). The signed scores are what the tables report by default, whatever they show
    (on reviews-en they are barely above the random control on faithfulness; see README).
    """

    name = "grad_x_input"
    order = 21
    family = "gradient"
    gradient_based = True

    def __init__(self, *, sign: str = "signed", seed: int = 0, output: str | None = None) -> None:
        super().__init__(seed=seed, output=output)
        self.sign = sign

    def check_params(self) -> None:
        check_sign(self.sign)

    def _attribute(self, model, batch: ExplainBatch) -> list[np.ndarray]:
        token_scores = gradient_attributions(
            model, batch.token_ids, batch.targets, batch.output,
            lambda embeddings, grads: (embeddings * grads).sum(dim=-1), progress=batch.progress,
        )
        return apply_sign([units_from_tokens(s, m, len(u))
                           for s, m, u in zip(token_scores, batch.token_units, batch.units)], self.sign)
