"""The engine's passes differentiated with respect to the word embeddings.

- ``input_gradients``: d f / d embeddings of token-id lists, one forward and one backward per
  length-bucketed batch of ``engine.run_batches`` (out-of-memory retry included);
- ``embedding_forward``: the model's forward pass with given word embeddings in place of its
  embedding layer's output, for path methods (Integrated Gradients) that differentiate it themselves.

Both work on the output of the model's word-embedding layer (``hf_model.get_input_embeddings()``),
never the integer ids: position and token-type embeddings are added after it, as in the model's own
forward pass. Both run the eager ``hf_model`` (hooks and autograd through a compiled module are
fragile) with the last layer's first-token shortcut, which leaves d f / d embeddings unchanged
(``xaibench.modeling.last_layer``). Both count their passes in ``model.n_forward``/``n_backward``.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator, Sequence

import numpy as np
import torch

from xaibench.modeling import last_layer
from xaibench.modeling.engine import run_batches
from xaibench.modeling.sharing import gradient_call, ids_key


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


def input_gradients(model, token_ids: Sequence[Sequence[int]], targets: np.ndarray, output: str,
                    progress: bool = False) -> list[tuple[np.ndarray, torch.Tensor, torch.Tensor]]:
    """``(indices, word embeddings [B, L, H], d f / d embeddings [B, L, H])`` per length-bucketed
    padded batch of ``token_ids`` (``engine.run_batches`` under ``model.token_budget``), one forward
    and one backward per batch, f = ``model.output_from_logits(logits, targets, output)``.

    Each example's output depends only on its own row (padding is masked), so the gradient of the
    batch sum is every example's own gradient. Adds ``len(token_ids)`` to ``model.n_forward`` and to
    ``model.n_backward``. Inside ``model.sharing()`` the same call (same token ids, targets and
    output: saliency then gradient×input on one chunk) is computed once and the second one is
    counted as reused (``xaibench.modeling.sharing.gradient_call``).
    """
    targets = np.asarray(targets, dtype=int)

    def compute():
        start = time.perf_counter()
        with torch.enable_grad(), embedding_leaf(model.hf_model) as store, last_layer.active(model):
            def step(idx: np.ndarray, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
                logits = model.hf_model(**batch).logits
                values = model.output_from_logits(logits, torch.as_tensor(targets[idx]), output)
                embeddings = store["embeddings"]
                (grads,) = torch.autograd.grad(values.sum(), embeddings)
                model.n_forward += len(idx)
                model.n_backward += len(idx)
                return embeddings.detach(), grads.detach()

            parts = run_batches(model, token_ids, step, progress=progress, desc="gradients")
        n = len(token_ids)
        return ([(idx, embeddings, grads) for idx, (embeddings, grads) in parts],
                {"n_forward": n, "n_backward": n, "seconds": time.perf_counter() - start})

    key = ("input_gradients", ids_key(token_ids), tuple(int(t) for t in targets), output)
    return gradient_call(model, key, compute)


def embedding_forward(model, embeddings: torch.Tensor, input_ids: torch.Tensor,
                      attention_mask: torch.Tensor) -> torch.Tensor:
    """Logits ``[B, n_outputs]`` of the model on ``input_ids``/``attention_mask`` ``[B, L]`` with its
    word-embedding layer's output replaced by ``embeddings`` ``[B, L, H]`` (differentiable in
    ``embeddings`` when autograd records). One call of the model, not batched here: the caller
    sizes ``B`` (captum's ``internal_batch_size``).

    Adds B to ``model.n_forward``; when autograd records the logits, also B to ``model.n_backward``
    every time a backward pass reaches them (a hook on the logits counts what actually runs).
    """
    rows = int(input_ids.shape[0])
    model.n_forward += rows
    layer = model.hf_model.get_input_embeddings()
    # captum's samplers (GradientShap's random points) promote bfloat16 embeddings to float32.
    embeddings = embeddings.to(layer.weight.dtype)
    handle = layer.register_forward_hook(lambda module, inputs, output: embeddings)
    try:
        with last_layer.active(model):
            logits = model.hf_model(input_ids=input_ids, attention_mask=attention_mask).logits
    finally:
        handle.remove()
    if logits.requires_grad:
        logits.register_hook(lambda grad: _count_backward(model, rows))
    return logits


def _count_backward(model, rows: int) -> None:
    model.n_backward += rows
