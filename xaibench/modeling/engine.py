"""The batched evaluation engine: every forward pass over model inputs goes through here.

``forward_logits`` takes texts and/or token-id tuples, evaluates each distinct input once, skips
inputs that the model's active shared table already holds (``xaibench.modeling.sharing``), and runs the rest
through ``batched_logits``: sorted by token length, cut into length buckets and batches by a cost
model (``plan_batches``: a batch costs a fixed overhead plus its padded tokens), each batch padded
only to its own longest input, under a token budget (batch size x padded length) and
``torch.inference_mode``; the caller's order is restored. A batch that runs out of GPU memory is
retried with half the token budget.
"""
from __future__ import annotations

import time
import warnings
from typing import TYPE_CHECKING, Iterator, Sequence

import numpy as np
import torch

from xaibench.modeling import last_layer

if TYPE_CHECKING:
    from xaibench.modeling.classifier import Classifier


#: Fixed cost of one forward call in padded-token equivalents: what the planner weighs a new batch
#: against padding. Measured on 2 CPU cores (``python scripts/engine_calibration.py``): MiniLM-L6
#: takes ~20 ms per call on top of ~0.22 ms per token (its 42 MB of weights stream from memory on
#: every call), char-BERT ~4 ms on top of ~0.035 ms per token; both are ~100 tokens' worth.
BATCH_OVERHEAD_TOKENS = 96
#: Buckets never span more than this many distinct lengths (bounds the planner's work).
_MAX_SPAN = 64


def plan_batches(lengths: Sequence[int], token_budget: int, max_batch: int,
                 overhead_tokens: float = BATCH_OVERHEAD_TOKENS, rows_per_item: int = 1) -> list[np.ndarray]:
    """Group indices into length buckets, then batches, minimising the estimated cost.

    Cost model: a batch of B items padded to length L costs ``overhead_tokens + B * rows_per_item * L``
    token-equivalents (``rows_per_item``: model rows per item, e.g. Integrated Gradients' steps).
    Items are sorted longest first; a dynamic programme over the distinct lengths chooses where
    buckets start, so a few short texts are not padded to a long one when a batch of their own is
    cheaper, and a handful of lengths is not split into many tiny batches when padding is cheaper
    (plain longest-first packing is kept instead on the rare call where it costs less). Each bucket is cut into batches with ``B * rows_per_item * L <= token_budget`` (at least one
    item) and ``B <= max_batch``; every batch pads only to its own longest item.

    Returns index arrays into ``lengths``, longest batch first; every index appears exactly once.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.size == 0:
        return []
    order = np.argsort(-lengths, kind="stable")
    values, counts = np.unique(-lengths[order], return_counts=True)
    values = -values                                  # distinct lengths, longest first
    starts = np.concatenate([[0], np.cumsum(counts)])  # sorted position of each distinct length
    rows = max(1, int(rows_per_item))

    def capacity(length: np.ndarray) -> np.ndarray:
        """Items per batch at padded length ``length``."""
        return np.maximum(1, np.minimum(int(max_batch), int(token_budget) // (np.maximum(1, length) * rows)))

    n_groups = len(values)
    best = np.zeros(n_groups + 1)
    choice = np.zeros(n_groups + 1, dtype=np.int64)
    for j in range(1, n_groups + 1):
        i = np.arange(max(0, j - _MAX_SPAN), j)      # bucket = distinct lengths i..j-1, padded to values[i]
        n_items = starts[j] - starts[i]
        cost = best[i] + overhead_tokens * np.ceil(n_items / capacity(values[i])) + n_items * rows * values[i]
        k = int(np.argmin(cost))
        best[j], choice[j] = cost[k], i[k]
    bounds, j = [], n_groups
    while j > 0:
        bounds.append((int(choice[j]), j))
        j = int(choice[j])
    batches = []
    for i, j in reversed(bounds):
        bucket = order[starts[i]:starts[j]]
        step = int(capacity(values[i:i + 1])[0])
        batches.extend(bucket[s:s + step] for s in range(0, len(bucket), step))
    # Buckets start only where the length changes; plain longest-first packing can straddle that
    # boundary and, on large calls, occasionally come out cheaper: keep whichever plan costs less.
    packed = _pack_longest_first(lengths, order, token_budget, max_batch, rows)

    def cost(plan) -> float:
        return sum(overhead_tokens + len(b) * rows * int(lengths[b].max()) for b in plan)

    return packed if cost(packed) < cost(batches) else batches


def _pack_longest_first(lengths: np.ndarray, order: np.ndarray, token_budget: int, max_batch: int,
                        rows: int) -> list[np.ndarray]:
    """Fill each batch with the next-longest items until the budget or ``max_batch`` is reached."""
    batches, current, longest = [], [], 0
    for i in order:
        length = int(lengths[i])
        if current and (max(longest, length) * rows * (len(current) + 1) > token_budget or len(current) >= max_batch):
            batches.append(np.asarray(current))
            current, longest = [], 0
        current.append(int(i))
        longest = max(longest, length)
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


def forward_logits(model: "Classifier", inputs: Sequence, progress: bool = False) -> np.ndarray:
    """Logits ``[len(inputs), n_outputs]`` (float64) of texts and/or token-id tuples (special
    tokens included), in one batched inference pass.

    Identical inputs are evaluated once (texts by string, then everything by token ids), and inputs
    found in the model's active shared table (``model.sharing``, ``xaibench.modeling.sharing``) are not
    evaluated at all: ``model.n_forward`` grows by the number of inputs actually run,
    ``model.n_forward_reused`` / ``model.seconds_reused`` by those served from the table.
    """
    inputs = list(inputs)
    if not inputs:
        return np.zeros((0, model.n_outputs))
    slots: dict = {}
    inverse = np.fromiter((slots.setdefault(x, len(slots)) for x in inputs), dtype=np.int64, count=len(inputs))
    distinct = list(slots)
    out = np.empty((len(distinct), model.n_outputs), dtype=np.float64)
    shared = getattr(model, "shared", None)
    todo = list(range(len(distinct)))
    if shared is not None:
        todo = []
        for j, x in enumerate(distinct):
            hit = shared.get(x)
            if hit is None:
                todo.append(j)
            else:
                out[j] = hit[0]
                model.n_forward_reused += 1
                model.seconds_reused += hit[1]
    if todo:
        missing = [distinct[j] for j in todo]
        logits, seconds_each = compute_logits(model, missing, progress=progress)
        out[todo] = logits
        if shared is not None and shared.grow:
            shared.put(missing, logits, seconds_each)
    return out[inverse]


def compute_logits(model: "Classifier", inputs: Sequence, progress: bool = False) -> tuple[np.ndarray, float]:
    """Run distinct ``inputs`` (texts and/or token-id tuples) through the model, de-duplicated by
    token ids; returns (logits float64, wall seconds per distinct token sequence). Adds the number of
    sequences run to ``model.n_forward``. No shared table is consulted (``forward_logits`` does)."""
    inputs = list(inputs)
    text_pos = [i for i, x in enumerate(inputs) if isinstance(x, str)]
    id_lists: list = [None] * len(inputs)
    for i, x in enumerate(inputs):
        if not isinstance(x, str):
            id_lists[i] = tuple(int(t) for t in x)
    if text_pos:
        for i, ids in zip(text_pos, model.token_ids([inputs[i] for i in text_pos])):
            id_lists[i] = tuple(ids)
    slots: dict = {}
    inverse = np.fromiter((slots.setdefault(ids, len(slots)) for ids in id_lists), dtype=np.int64,
                          count=len(id_lists))
    unique = list(slots)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(unique), desc="forward", unit="text", leave=False)
    start = time.perf_counter()
    logits = batched_logits(model, unique, on_batch=None if bar is None else bar.update)
    seconds = time.perf_counter() - start
    if bar is not None:
        bar.close()
    model.n_forward += len(unique)
    return logits[inverse], seconds / max(1, len(unique))


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
    # The first-token shortcut of the last layer (xaibench.modeling.last_layer) where the model supports it.
    with torch.inference_mode(), last_layer.active(model):
        # batched: one forward per length-bucketed batch
        for local in plan_batches(lengths[todo], model.token_budget, model.max_batch):
            idx = todo[local]
            try:
                batch = pad_batch([id_lists[i] for i in idx], model.pad_token_id, model.device)
                logits = model.forward_module(**batch).logits
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
