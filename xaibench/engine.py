"""The batched evaluation engine: every forward pass over texts goes through here.

``forward_logits`` de-duplicates the texts, sorts them by token length, packs them into batches
under a token budget (batch size x padded length), pads each batch only to its own longest text,
runs under ``torch.inference_mode`` and restores the caller's order. Sorting by length keeps padding
(wasted compute) near zero; the token budget keeps memory flat whatever the lengths. A batch that
runs out of GPU memory is retried with half the token budget (``batched_logits``).
"""
from __future__ import annotations

import warnings
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
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(unique), desc="forward", unit="text", leave=False)
    out = batched_logits(model, id_lists, on_batch=None if bar is None else bar.update)
    if bar is not None:
        bar.close()
    model.n_forward += len(unique)
    return out[inverse.reshape(-1)]


def batched_logits(model: "Classifier", id_lists: Sequence[Sequence[int]], on_batch=None) -> np.ndarray:
    """Logits ``[len(id_lists), n_outputs]`` (float64) of token id lists, in length-sorted batches
    under ``model.token_budget`` and ``torch.inference_mode``; does not touch ``model.n_forward``.

    A batch that runs out of GPU memory is not fatal: the token budget is halved (and stays halved
    for the model's later calls) and the texts not yet done are re-batched, until a single text
    does not fit, which re-raises. ``on_batch(n)`` is called after each finished batch.
    """
    out = np.empty((len(id_lists), model.n_outputs), dtype=np.float64)
    lengths = np.asarray([len(ids) for ids in id_lists], dtype=int)
    todo = np.arange(len(id_lists))
    while todo.size:
        done, failed = _run_batches(model, id_lists, lengths, todo, out, on_batch)
        todo = np.setdiff1d(todo, done, assume_unique=True)
        if failed is not None:
            _shrink_after_oom(model, failed, int(lengths[failed].max()))
    return out


def _run_batches(model, id_lists, lengths, todo, out, on_batch) -> tuple[np.ndarray, np.ndarray | None]:
    """Run the batches of ``todo``; return (indices done, the batch that ran out of memory or None)."""
    done: list[np.ndarray] = []
    with torch.inference_mode():
        for local in plan_batches(lengths[todo], model.token_budget, model.max_batch):
            idx = todo[local]
            try:
                batch = pad_batch([id_lists[i] for i in idx], model.pad_token_id, model.device)
                logits = model.hf_model(**batch).logits
            except torch.cuda.OutOfMemoryError:
                # Leave the except block before freeing: the traceback holds the batch's tensors.
                failed = idx
                break
            out[idx] = logits.detach().to("cpu", torch.float64).numpy()
            done.append(idx)
            if on_batch is not None:
                on_batch(len(idx))
        else:
            failed = None
    return (np.concatenate(done) if done else np.zeros(0, dtype=int)), failed


def _shrink_after_oom(model, failed: np.ndarray, longest: int) -> None:
    if len(failed) <= 1 or model.token_budget <= longest:
        raise torch.cuda.OutOfMemoryError(
            f"model {model.name!r}: out of memory on {model.device} with a single text of {longest} tokens; "
            "lower max_length or use a device with more memory")
    old = model.token_budget
    # Halve what the failed batch actually used (max_batch may have capped it below the budget),
    # never below its longest text, so every text still fits a batch of its own.
    model.token_budget = max(longest, min(old, len(failed) * longest) // 2)
    model.n_oom_retries = getattr(model, "n_oom_retries", 0) + 1
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    warnings.warn(f"model {model.name!r}: out of memory on {model.device} with a token budget of {old}; "
                  f"retrying with {model.token_budget}", RuntimeWarning, stacklevel=3)
