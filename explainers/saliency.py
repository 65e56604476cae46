"""Saliency (Simonyan et al., 2014): how sensitive the explained output is to each token's embedding."""
from __future__ import annotations

import numpy as np

from xaibench.core import registry
from xaibench.explainers._gradients import check_sign, gradient_attributions, units_from_tokens
from xaibench.explainers.base import ExplainBatch, Explainer


@registry.explainers.register
class Saliency(Explainer):
    """L2 norm of the gradient of the explained output with respect to each token's input embedding.

    Simonyan, Vedaldi & Zisserman (2014), "Deep Inside Convolutional Networks", applied to the
    word-embedding output of a transformer. The explained output is the target-class probability
    by default (``output="prob"``; ``"logit"`` is the option).

    Score: ``sum over the unit's sub-tokens of ||d f(x) / d e_t||_2`` (units of f per unit of
    embedding norm). Always >= 0: saliency says how *sensitive* f is to a unit, not in which
    direction the unit pushes it. One forward and one backward per text, batched.

    Parameters: ``sign``: ``"abs"`` only (a gradient norm has no sign; the parameter is there
    because every gradient explainer has it), ``seed`` (unused, the method is deterministic),
    ``output`` (see ``Explainer``).
    """

    name = "saliency"
    order = 20
    family = "gradient"
    gradient_based = True

    def __init__(self, *, sign: str = "abs", seed: int = 0, output: str | None = None) -> None:
        super().__init__(seed=seed, output=output)
        self.sign = sign

    def check_params(self) -> None:
        check_sign(self.sign, ("abs",), why=" (saliency is a gradient norm: it has no sign)")

    def _attribute(self, model, batch: ExplainBatch) -> list[np.ndarray]:
        token_scores = gradient_attributions(
            model, batch.token_ids, batch.targets, batch.output,
            lambda embeddings, grads: grads.norm(dim=-1), progress=batch.progress,
        )
        return [units_from_tokens(s, m, len(u)) for s, m, u in zip(token_scores, batch.token_units, batch.units)]
