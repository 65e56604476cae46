"""Shared machinery of the gradient explainers: batched forward/backward through the word embeddings,
and the sub-token -> unit sum.

Gradients are taken with respect to the output of the model's word-embedding layer
(``hf_model.get_input_embeddings()``), never the integer ids: a forward hook swaps that output for
a leaf tensor that requires grad. Position and token-type embeddings are added after it, as in the
model's own forward pass.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from xaibench.modeling import engine
from xaibench.modeling import last_layer
from xaibench.modeling.sharing import gradient_call, ids_key


def units_from_tokens(token_scores: np.ndarray, token_units: np.ndarray, n_units: int) -> np.ndarray:
    """Sum token scores into their units (special tokens, index -1, and padding are dropped).

    ``token_scores`` may be longer than ``token_units`` (padding); extra positions are ignored.
    """
    out = np.zeros(n_units, dtype=np.float64)
    keep = token_units >= 0
    np.add.at(out, token_units[keep], np.asarray(token_scores, dtype=np.float64)[: len(token_units)][keep])
    return out


@contextmanager
def embedding_leaf(hf_model) -> Iterator[dict]:
    """While active, every forward pass stores its word embeddings in ``store["embeddings"]`` as a
    leaf tensor with ``requires_grad`` (detached from the embedding matrix: no parameter grads)."""
    store: dict = {}

    def hook(module, inputs, output):
        leaf = output.detach().requires_grad_(True)
        store["embeddings"] = leaf
        return leaf

    handle = hf_model.get_input_embeddings().register_forward_hook(hook)
    try:
        yield store
    finally:
        handle.remove()


def gradient_attributions(
    model,
    token_ids: Sequence[Sequence[int]],
    targets: np.ndarray,
    output: str,
    token_score: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    progress: bool = False,
) -> list[np.ndarray]:
    """Per-token scores ``token_score(embeddings, gradients) -> [B, L]`` for every text, from
    ``input_gradients`` (one forward and one backward per text, shared across explainers inside
    ``model.sharing()``). Adds the batch sizes to ``model.n_forward``/``n_backward``.
    """
    results: list[np.ndarray] = [np.zeros(0)] * len(token_ids)
    for idx, embeddings, grads in input_gradients(model, token_ids, targets, output, progress):
        scores = token_score(embeddings, grads).to("cpu", torch.float64).numpy()
        for row, i in enumerate(idx):
            results[i] = scores[row, : len(token_ids[i])]
    return results


def input_gradients(model, token_ids: Sequence[Sequence[int]], targets: np.ndarray, output: str,
                    progress: bool = False) -> list[tuple[np.ndarray, torch.Tensor, torch.Tensor]]:
    """``(indices, word embeddings [B, L, H], d f / d embeddings [B, L, H])`` per length-bucketed
    padded batch (``engine.plan_batches`` under ``model.token_budget``), one forward and one backward
    per batch, f = ``model.output_from_logits(logits, targets, output)``.

    Each example's output depends only on its own row (padding is masked), so the gradient of the
    batch sum is every example's own gradient. Inside ``model.sharing()`` the same call (same token
    ids, targets and output: saliency then gradient×input on one chunk) is computed once.
    """
    targets = np.asarray(targets, dtype=int)

    def compute():
        start = time.perf_counter()
        out = []
        bar = progress_bar(progress, len(token_ids), "gradients")
        # The last layer's first-token shortcut leaves d f / d embeddings unchanged (xaibench.modeling.last_layer).
        with torch.enable_grad(), embedding_leaf(model.hf_model) as store, last_layer.active(model):
            # batched: one forward+backward per length-bucketed batch
            for idx, batch in engine.iter_batches(model, token_ids):
                logits = model.hf_model(**batch).logits
                values = model.output_from_logits(logits, torch.as_tensor(targets[idx]), output)
                embeddings = store["embeddings"]
                (grads,) = torch.autograd.grad(values.sum(), embeddings)
                out.append((idx, embeddings.detach(), grads.detach()))
                model.n_forward += len(idx)
                model.n_backward += len(idx)
                if bar is not None:
                    bar.update(len(idx))
        if bar is not None:
            bar.close()
        n = len(token_ids)
        return out, {"n_forward": n, "n_backward": n, "seconds": time.perf_counter() - start}

    key = ("input_gradients", ids_key(token_ids), tuple(int(t) for t in targets), output)
    return gradient_call(model, key, compute)


def progress_bar(progress: bool, total: int, desc: str):
    """A tqdm bar when ``progress`` is true, else None."""
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="text", leave=False)
