"""The batched evaluation engine: every forward pass over texts goes through here.

``forward_logits`` de-duplicates the texts, sorts them by token length, packs them into batches
under a token budget (batch size x padded length), pads each batch only to its own longest text,
runs under ``torch.inference_mode`` and restores the caller's order. Sorting by length keeps padding
(wasted compute) near zero; the token budget keeps memory flat whatever the lengths.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterator, Sequence

import numpy as np
import torch

if TYPE_CHECKING:
    from .model import Classifier


def plan_batches(lengths: Sequence[int], token_budget: int, max_batch: int) -> list[np.ndarray]:
    """Group indices into batches, longest first, each with ``len(batch) * max_len <= token_budget``.

    Returns index arrays into ``lengths``; every index appears in exactly one batch.
    """
    lengths = np.asarray(lengths, dtype=int)
    order = np.argsort(-lengths, kind="stable")
    batches, current, current_max = [], [], 0
    for i in order:
        longest = max(current_max, int(lengths[i]))
        if current and (longest * (len(current) + 1) > token_budget or len(current) >= max_batch):
            batches.append(np.asarray(current))
            current, longest = [], int(lengths[i])
        current.append(int(i))
        current_max = longest
    if current:
        batches.append(np.asarray(current))
    return batches


def pad_batch(id_lists: Sequence[Sequence[int]], pad_id: int, device) -> dict[str, torch.Tensor]:
    """Right-pad token id lists into ``input_ids`` and ``attention_mask`` tensors."""
    width = max(len(ids) for ids in id_lists)
    input_ids = torch.full((len(id_lists), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(id_lists), width), dtype=torch.long)
    for row, ids in enumerate(id_lists):
        input_ids[row, : len(ids)] = torch.as_tensor(ids, dtype=torch.long)
        attention_mask[row, : len(ids)] = 1
    return {"input_ids": input_ids.to(device), "attention_mask": attention_mask.to(device)}


def iter_batches(model: "Classifier", id_lists: Sequence[Sequence[int]]) -> Iterator[tuple[np.ndarray, dict]]:
    """Yield ``(indices, padded tensors)`` for length-sorted batches of ``id_lists``."""
    lengths = [len(ids) for ids in id_lists]
    for idx in plan_batches(lengths, model.token_budget, model.max_batch):
        yield idx, pad_batch([id_lists[i] for i in idx], model.pad_token_id, model.device)


def forward_logits(model: "Classifier", texts: Sequence[str], progress: bool = False) -> np.ndarray:
    """Logits ``[len(texts), n_outputs]`` for ``texts`` (float64), one batched inference pass.

    Identical texts are evaluated once; ``model.n_forward`` grows by the number of distinct texts.
    """
    texts = list(texts)
    if not texts:
        return np.zeros((0, model.n_outputs))
    unique, inverse = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
    id_lists = model.token_ids(list(unique))
    out = np.empty((len(unique), model.n_outputs), dtype=np.float64)
    batches = list(iter_batches(model, id_lists))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(unique), desc="forward", unit="text", leave=False)
    with torch.inference_mode():
        for idx, batch in batches:
            logits = model.hf_model(**batch).logits
            out[idx] = logits.detach().to("cpu", torch.float64).numpy()
            if bar is not None:
                bar.update(len(idx))
    if bar is not None:
        bar.close()
    model.n_forward += len(unique)
    return out[inverse.reshape(-1)]
