"""Attention rollout (Abnar & Zuidema, 2020): attention composed through all layers."""
from __future__ import annotations

import numpy as np
import torch

from xaibench.core import registry
from xaibench.explainers._gradients import units_from_tokens
from xaibench.explainers.attention import HEAD_REDUCTIONS, reduce_heads
from xaibench.explainers.base import ExplainBatch, Explainer
from xaibench.modeling.attention import attention_weights


def rollout(attentions, head_reduction: str = "mean") -> torch.Tensor:
    """``[batch, L, L]`` rollout of a tuple of per-layer ``[batch, heads, L, L]`` attentions.

    Abnar & Zuidema (2020), eq. 1: each layer's head-reduced attention A gets the residual
    connection as identity, Â = 0.5·A + 0.5·I (rows renormalised), and layers compose by matrix
    product, R = Â_L · … · Â_1. Padding columns stay 0: no real token attends to them.
    """
    rolled = None
    for attention in attentions:
        a = reduce_heads(attention.to(torch.float64), head_reduction)
        a = 0.5 * a + 0.5 * torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)
        a = a / a.sum(dim=-1, keepdim=True)
        rolled = a if rolled is None else a @ rolled
    return rolled


@registry.explainers.register
class AttentionRollout(Explainer):
    """Attention rollout from the token the classification head reads ([CLS] of an encoder, the last
    real token of a decoder: ``Classifier.pooling``): how much of its final representation flows
    from each input token through attention and residual connections, heads averaged (Abnar &
    Zuidema, 2020, "Quantifying Attention Flow in Transformers").

    Score: ``sum over the unit's sub-tokens of R[pooled -> token]`` (see ``rollout``): a share in
    [0, 1], always >= 0, no sign. Shares of special tokens ([CLS]/[SEP], a decoder's BOS) are
    dropped (often most of the mass). Does not
    depend on the target or on ``output`` (the target-class probability by default); they are
    recorded only. One forward pass per text, batched, ``inference_mode``.

    Parameters: ``head_reduction`` "mean" (default, as in the paper) or "max"; ``seed`` (unused);
    ``output`` (see ``Explainer``).
    """

    name = "attention_rollout"
    order = 11
    family = "attention"

    def __init__(self, *, head_reduction: str = "mean", seed: int = 0, output: str | None = None) -> None:
        super().__init__(seed=seed, output=output)
        self.head_reduction = head_reduction

    def check_params(self) -> None:
        if self.head_reduction not in HEAD_REDUCTIONS:
            raise ValueError(f"head_reduction must be one of {HEAD_REDUCTIONS}, got {self.head_reduction!r}")

    def _attribute(self, model, batch: ExplainBatch) -> list[np.ndarray]:
        def first_rows(attentions, pooled) -> np.ndarray:
            return rollout(attentions, self.head_reduction)[torch.arange(len(pooled)), pooled, :].cpu().numpy()

        results: list[np.ndarray] = [np.zeros(0)] * len(batch)
        for idx, from_first in attention_weights(model, batch.token_ids, first_rows, batch.progress):
            for row, i in enumerate(idx):
                results[i] = units_from_tokens(from_first[row], batch.token_units[i], len(batch.units[i]))
        return results
