"""The batched evaluation engine: batching, the out-of-memory retry, and the inference pass.

Every pass of a model over its inputs runs through ``run_batches``: token-id lists are sorted by
length and cut into length buckets and batches by a cost model (``plan_batches``: a batch costs a
fixed overhead plus its padded tokens) under a token budget (batch size x padded length); each
batch is padded only to its own longest input (``pad_batch``) and handed to a step function. A
batch that runs out of GPU memory is retried with a smaller token budget.

The passes built on it, and the only code that adds to ``model.n_forward``/``n_backward``:

- inference logits, here: ``forward_logits`` takes texts and/or token-id tuples, evaluates each
  distinct input once, skips inputs that the model's active shared table already holds
  (``xaibench.modeling.sharing``), and runs the rest through ``batched_logits`` under
  ``torch.inference_mode``; the caller's order is restored;
- gradients with respect to the word embeddings, and the forward pass with given word embeddings
  that path methods differentiate: ``xaibench.modeling.gradients``;
- attention weights: ``xaibench.modeling.attention``.
"""
from __future__ import annotations

import time
import warnings
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import torch

from xaibench.modeling import last_layer

if TYPE_CHECKING:
    from xaibench.modeling.classifier import Classifier


#: Fixed cost of one forward call in padded-token equivalents: what the planner weighs a new batch
#: against padding. Measured on 2 CPU cores by timing batches of growing size and length: MiniLM-L6
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
    (plain longest-first packing is kept instead on the rare call where it costs less). Each bucket
    is cut into batches with ``B * rows_per_item * L <= token_budget`` (at least one item) and
    ``B <= max_batch``; every batch pads only to its own longest item.

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


def run_batches(model: "Classifier", id_lists: Sequence[Sequence[int]],
                step: Callable[[np.ndarray, dict[str, torch.Tensor]], Any], *, rows_per_item: int = 1,
                progress: bool = False, desc: str = "batches") -> list[tuple[np.ndarray, Any]]:
    """``[(indices, step(indices, batch))]`` for every batch ``plan_batches`` makes of ``id_lists``
    under ``model.token_budget`` and ``model.max_batch``, in the order they ran; every index of
    ``id_lists`` is in exactly one of them. ``batch``: the lists of ``indices`` padded by
    ``pad_batch`` (``input_ids``, ``attention_mask`` [B, L] on ``model.device``).
    ``rows_per_item``: model rows per list in the planner's cost (e.g. Integrated Gradients' steps).

    A step that raises ``torch.cuda.OutOfMemoryError`` is not fatal: the token budget shrinks
    (``_shrink_after_oom``; it stays smaller for the model's later calls) and the lists not yet done
    are planned again, until a single row does not fit, which re-raises. The failed batch's lists
    run again in new batches, so a step must not keep anything of a batch it did not return; the
    passes it counted before failing are taken back (``model.n_forward``/``n_backward`` return to
    their values before the step), so every list is counted once, by the batch that finished it.
    ``progress``: a tqdm bar named ``desc`` that counts lists.
    """
    lengths = np.asarray([len(ids) for ids in id_lists], dtype=int)
    finished = np.zeros(len(id_lists), dtype=bool)
    todo = np.arange(len(id_lists))
    results: list[tuple[np.ndarray, Any]] = []
    bar = progress_bar(progress, len(id_lists), desc)
    while todo.size:
        failed = None
        # batched: one step per length-bucketed batch
        for local in plan_batches(lengths[todo], model.token_budget, model.max_batch, rows_per_item=rows_per_item):
            idx = todo[local]
            counted = model.n_forward, model.n_backward
            try:
                result = step(idx, pad_batch([id_lists[i] for i in idx], model.pad_token_id, model.device))
            except torch.cuda.OutOfMemoryError:
                # Leave the except block before freeing: the traceback holds the batch's tensors.
                failed = idx
                model.n_forward, model.n_backward = counted
                break
            results.append((idx, result))
            finished[idx] = True
            if bar is not None:
                bar.update(len(idx))
        todo = np.flatnonzero(~finished)
        if failed is not None:
            _shrink_after_oom(model, failed, int(lengths[failed].max()), rows_per_item)
    if bar is not None:
        bar.close()
    return results


def _shrink_after_oom(model, failed: np.ndarray, longest: int, rows_per_item: int) -> None:
    """Lower ``model.token_budget`` after batch ``failed`` (longest list ``longest`` tokens) ran out
    of memory, or re-raise when it was a single row that no budget can split."""
    rows = len(failed) * max(1, int(rows_per_item))
    if rows <= 1 or model.token_budget <= longest:
        raise torch.cuda.OutOfMemoryError(
            f"model {model.name!r}: out of memory on {model.device} with a single text of {longest} tokens; "
            "lower max_length or use a device with more memory")
    old = model.token_budget
    # Halve what the failed batch actually used (max_batch may have capped it below the budget),
    # never below its longest text, so every text still fits a batch of its own. A step may split
    # its rows (Integrated Gradients' path steps) by the budget, so one text of many rows shrinks too.
    model.token_budget = max(longest, min(old, rows * longest) // 2)
    model.n_oom_retries = getattr(model, "n_oom_retries", 0) + 1
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    warnings.warn(f"model {model.name!r}: out of memory on {model.device} with a token budget of {old}; "
                  f"retrying with {model.token_budget}", RuntimeWarning, stacklevel=3)


def progress_bar(progress: bool, total: int, desc: str):
    """A bar counting texts when ``progress`` is true, else None (``xaibench.core.progress``: tqdm
    outside pytest, the terminal despite output capture under it)."""
    if not progress:
        return None
    from xaibench.core.progress import progress_bar as make_bar

    return make_bar(total, desc, unit="text")


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
    start = time.perf_counter()
    logits = batched_logits(model, unique, progress=progress)
    seconds = time.perf_counter() - start
    model.n_forward += len(unique)
    return logits[inverse], seconds / max(1, len(unique))


def batched_logits(model: "Classifier", id_lists: Sequence[Sequence[int]], progress: bool = False) -> np.ndarray:
    """Logits ``[len(id_lists), n_outputs]`` (float64) of token id lists, in ``run_batches``'s
    length-sorted batches (out-of-memory retry included) under ``torch.inference_mode``, through
    ``model.forward_module`` (the compiled module when ``compile=True``); does not touch
    ``model.n_forward``."""
    out = np.empty((len(id_lists), model.n_outputs), dtype=np.float64)

    def step(idx: np.ndarray, batch: dict[str, torch.Tensor]) -> np.ndarray:
        return model.forward_module(**batch).logits.detach().to("cpu", torch.float64).numpy()

    # The first-token shortcut of the last layer (xaibench.modeling.last_layer) where the model supports it.
    with torch.inference_mode(), last_layer.active(model):
        for idx, logits in run_batches(model, id_lists, step, progress=progress, desc="forward"):
            out[idx] = logits
    return out
