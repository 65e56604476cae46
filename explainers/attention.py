"""Raw attention from the token the classifier reads ([CLS], or a decoder's last token), and the head
reduction rollout and plots share."""
from __future__ import annotations

import numpy as np
import torch

from xaibench.core import registry
from xaibench.explainers._gradients import units_from_tokens
from xaibench.explainers.base import ExplainBatch, Explainer
from xaibench.modeling.attention import attention_weights

HEAD_REDUCTIONS = ("mean", "max")


def reduce_heads(attention: torch.Tensor, head_reduction: str) -> torch.Tensor:
    """``[batch, heads, L, L] -> [batch, L, L]`` by mean or max over heads."""
    if head_reduction == "mean":
        return attention.mean(dim=1)
    if head_reduction == "max":
        return attention.max(dim=1).values
    raise ValueError(f"head_reduction must be one of {HEAD_REDUCTIONS}, got {head_reduction!r}")


@registry.explainers.register
class Attention(Explainer):
    """Attention weights from the token the classification head reads (the first token, [CLS], of
    an encoder; the last real token of a decoder classifier: ``Classifier.pooling``) to every token,
    in one layer, reduced over heads (e.g. Jain & Wallace, 2019, who also show why attention need
    not be explanation).

    Score: ``sum over the unit's sub-tokens of A[layer][pooled -> token]`` after the head reduction;
    a share of attention in [0, 1], always >= 0 (attention has no sign). Attention to special
    tokens ([CLS]/[SEP], a decoder's BOS) is dropped, so a text's scores sum to at most 1. Attention does not depend on the target or
    on ``output`` (the target-class probability by default): they are recorded, not used.
    One forward pass per text, batched, ``inference_mode``.

    Parameters
    ----------
    layer: int, default -1 (last layer); Python indexing over layers.
    head_reduction: "mean" (default) or "max" over heads.
    seed: unused (deterministic). output: see ``Explainer``.
    """

    name = "attention"
    order = 10
    family = "attention"

    def __init__(self, *, layer: int = -1, head_reduction: str = "mean", seed: int = 0,
                 output: str | None = None) -> None:
        super().__init__(seed=seed, output=output)
        self.layer = layer
        self.head_reduction = head_reduction

    def check_params(self) -> None:
        if self.head_reduction not in HEAD_REDUCTIONS:
            raise ValueError(f"head_reduction must be one of {HEAD_REDUCTIONS}, got {self.head_reduction!r}")
        if isinstance(self.layer, bool) or not isinstance(self.layer, int):
            raise ValueError(f"layer must be an int (negative counts from the last layer), got {self.layer!r}")

    def _attribute(self, model, batch: ExplainBatch) -> list[np.ndarray]:
        def first_rows(attentions, pooled) -> np.ndarray:
            n_layers = len(attentions)
            if not -n_layers <= self.layer < n_layers:
                raise ValueError(f"layer={self.layer} is out of range for a model with {n_layers} layers")
            reduced = reduce_heads(attentions[self.layer], self.head_reduction)
            return reduced[torch.arange(len(pooled)), pooled, :].to("cpu", torch.float64).numpy()

        results: list[np.ndarray] = [np.zeros(0)] * len(batch)
        for idx, from_first in attention_weights(model, batch.token_ids, first_rows, batch.progress):
            for row, i in enumerate(idx):
                results[i] = units_from_tokens(from_first[row], batch.token_units[i], len(batch.units[i]))
        return results
