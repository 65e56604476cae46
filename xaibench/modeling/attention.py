"""The engine's attention pass: every layer's attention weights, batch by batch."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from xaibench.modeling.engine import run_batches


@contextmanager
def eager_attention(hf_model) -> Iterator[None]:
    """Temporarily switch to the "eager" attention implementation: fused kernels (sdpa, flash)
    compute the same outputs but never materialise the attention weights."""
    current = getattr(hf_model.config, "_attn_implementation", None)
    if current in (None, "eager") or not hasattr(hf_model, "set_attn_implementation"):
        yield
        return
    hf_model.set_attn_implementation("eager")
    try:
        yield
    finally:
        hf_model.set_attn_implementation(current)


def attention_weights(model, token_ids: Sequence[Sequence[int]],
                      reduce: Callable[[tuple[torch.Tensor, ...], torch.Tensor], Any],
                      progress: bool = False) -> list[tuple[np.ndarray, Any]]:
    """``[(indices, reduce(attentions, pooled))]`` per length-bucketed padded batch of ``token_ids``
    (``engine.run_batches``, out-of-memory retry included); ``attentions[l]`` is layer l's
    ``[batch, heads, query, key]`` weights, rows in the order of ``indices``, padded to the batch's
    longest text (padding keys get weight 0); ``pooled[b]`` is the index of the token row b's
    classification head reads (``Classifier.pooled_positions``: [CLS] for encoders, the last real
    token for decoders).

    ``reduce`` runs on each batch as soon as it is computed, so only one batch's weights (layers x
    heads x L² per text) are held at a time; keep what it returns small. Runs the eager attention
    implementation under ``torch.inference_mode`` without the last-layer shortcut (which computes
    only the first query of the last layer). Adds ``len(token_ids)`` to ``model.n_forward``.
    Raises ``RuntimeError`` when the model returns no attention weights.
    """
    def step(idx: np.ndarray, batch: dict[str, torch.Tensor]) -> Any:
        attentions = model.hf_model(**batch, output_attentions=True).attentions
        model.n_forward += len(idx)
        if not attentions:
            raise RuntimeError(
                f"model {model.name!r} returned no attention weights; load it with attn_implementation='eager'"
            )
        return reduce(attentions, model.pooled_positions(batch["attention_mask"]))

    with eager_attention(model.hf_model), torch.inference_mode():
        return run_batches(model, token_ids, step, progress=progress, desc="attention")
