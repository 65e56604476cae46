"""The fine-tuning loop behind the built-in models: seeded, length-bucketed, AdamW with linear
warm-up and decay.

Everything that decides the result is an argument (the recipe), so the same recipe, seed and thread
count give the same weights. Length bucketing ("sortish" batching) is what makes CPU training fit
its time budget: review sentences are short on average, and padding every batch to the recipe's
``max_length`` would spend most of the compute on padding.
"""
from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from xaibench.modeling.engine import pad_batch

# A bucket holds this many batches' worth of examples: large enough that batches inside it are
# nearly uniform in length, small enough that each epoch still mixes long and short reviews.
BATCHES_PER_BUCKET = 50


@dataclass(frozen=True)
class TrainStats:
    """What one ``train_classifier`` call did.

    steps: optimizer steps taken; examples: examples seen (summed over epochs); seconds: wall
    time of the loop; final_loss: mean training loss over the last 50 steps (or all, if fewer);
    tokens: non-padding tokens seen; padded_tokens: tokens computed including padding.
    """

    steps: int
    examples: int
    seconds: float
    final_loss: float
    tokens: int
    padded_tokens: int


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (model initialisation and dropout draw from torch)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def bucketed_batches(lengths: Sequence[int], batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """One epoch's batches of example indices, grouped by similar length.

    Indices are shuffled (seeded by ``seed`` and ``epoch``), cut into buckets of
    ``BATCHES_PER_BUCKET * batch_size``, each bucket is sorted by length and cut into batches, and
    the order of all batches is shuffled again. Every index appears in exactly one batch.
    """
    rng = np.random.default_rng([seed, epoch])
    lengths = np.asarray(lengths)
    order = rng.permutation(len(lengths))
    bucket_size = BATCHES_PER_BUCKET * batch_size
    batches = []
    for start in range(0, len(order), bucket_size):
        bucket = order[start:start + bucket_size]
        bucket = bucket[np.argsort(lengths[bucket], kind="stable")]
        batches.extend(bucket[i:i + batch_size] for i in range(0, len(bucket), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def linear_warmup_decay(warmup_steps: int, total_steps: int) -> Callable[[int], float]:
    """Learning-rate multiplier: 0 -> 1 linearly over ``warmup_steps``, then 1 -> 0 linearly at
    ``total_steps`` (the schedule of BERT fine-tuning, Devlin et al. 2019)."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / max(1, warmup_steps)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return factor


def adamw(model: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW without weight decay on biases and LayerNorm weights (the usual BERT convention:
    decaying a norm's scale towards 0 only fights the normalisation)."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.ndim < 2 or "LayerNorm" in name else decay).append(param)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr)


def mask_tokens(batch: dict[str, torch.Tensor], mask_prob: float, mask_token_id: int) -> torch.Tensor:
    """``input_ids`` with each inner token (not the first, not the last, not padding) replaced by
    ``mask_token_id`` with probability ``mask_prob``; draws come from torch's seeded global RNG."""
    ids, attention = batch["input_ids"], batch["attention_mask"].bool()
    inner = attention.clone()
    inner[:, 0] = False
    inner[torch.arange(len(ids)), attention.sum(1) - 1] = False
    chosen = (torch.rand(ids.shape, device=ids.device) < mask_prob) & inner
    return ids.masked_fill(chosen, mask_token_id)


def train_classifier(
    model: torch.nn.Module,
    token_ids: Sequence[Sequence[int]],
    labels: Sequence[int] | Sequence[float],
    *,
    pad_token_id: int,
    batch_size: int,
    lr: float,
    epochs: float,
    seed: int,
    warmup_ratio: float = 0.1,
    weight_decay: float = 0.01,
    max_grad_norm: float = 1.0,
    mask_prob: float = 0.0,
    mask_token_id: int | None = None,
    progress: bool = False,
    desc: str = "train",
    on_epoch_end: Callable[[int], None] | None = None,
) -> TrainStats:
    """Fine-tune ``model`` (a Hugging Face sequence classifier or regressor) in place on CPU or its
    device.

    token_ids: per example, the token ids with special tokens, already truncated, unpadded.
    labels: class index per example (classification: the model's own cross-entropy loss), or a
        float target per example when the model is a regressor (``config.problem_type ==
        "regression"`` or ``num_labels == 1``): mean squared error of its single output. Callers
        standardise regression targets themselves (see ``zoo.fit_and_save``).
    epochs: passes over the data; a fractional last pass stops after that share of its batches.
    warmup_ratio: share of all steps spent warming the learning rate up from 0.
    mask_prob: chance that each non-padding token of a training batch is replaced by
        ``mask_token_id`` (fresh draws every step; first and last token are kept). A regulariser for
        models trained from scratch on little data: no single character can carry a review.
    on_epoch_end: called with the 0-based epoch index after each full or partial pass (the model
        is in train mode again afterwards).
    """
    if len(token_ids) != len(labels):
        raise ValueError(f"got {len(token_ids)} token lists for {len(labels)} labels")
    if mask_prob > 0 and mask_token_id is None:
        raise ValueError("mask_prob > 0 needs a mask_token_id")
    if epochs <= 0 or batch_size <= 0:
        raise ValueError(f"epochs and batch_size must be positive, got {epochs} and {batch_size}")
    device = next(model.parameters()).device
    lengths = [len(ids) for ids in token_ids]
    n_epochs = math.ceil(epochs)
    plans = [bucketed_batches(lengths, batch_size, seed, e) for e in range(n_epochs)]
    if epochs < n_epochs:
        plans[-1] = plans[-1][: max(1, round((epochs - (n_epochs - 1)) * len(plans[-1])))]
    total_steps = sum(len(p) for p in plans)
    optimizer = adamw(model, lr, weight_decay)
    schedule = linear_warmup_decay(round(warmup_ratio * total_steps), total_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    regression = is_regressor(model)
    label_tensor = _label_tensor(labels, regression)

    bar = None
    if progress:
        from xaibench.core.progress import progress_bar

        bar = progress_bar(total_steps, desc, unit="step", leave=True)
    losses: list[float] = []
    examples = tokens = padded_tokens = 0
    start = time.perf_counter()
    model.train()
    for epoch, plan in enumerate(plans):
        for idx in plan:
            batch = pad_batch([token_ids[i] for i in idx], pad_token_id, device)
            if mask_prob > 0:
                batch["input_ids"] = mask_tokens(batch, mask_prob, mask_token_id)
            loss = _batch_loss(model, batch, label_tensor[idx].to(device), regression)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
            examples += len(idx)
            tokens += int(batch["attention_mask"].sum())
            padded_tokens += batch["attention_mask"].numel()
            if bar is not None:
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{np.mean(losses[-50:]):.3f}")
        if on_epoch_end is not None:
            on_epoch_end(epoch)
            model.train()
    model.eval()
    if bar is not None:
        bar.close()
    return TrainStats(
        steps=total_steps, examples=examples, seconds=time.perf_counter() - start,
        final_loss=float(np.mean(losses[-50:])), tokens=tokens, padded_tokens=padded_tokens,
    )


def is_regressor(model: torch.nn.Module) -> bool:
    """True for a Hugging Face model with one output or ``problem_type == "regression"``."""
    config = model.config
    return getattr(config, "problem_type", None) == "regression" or int(config.num_labels) == 1


def _label_tensor(labels, regression: bool) -> torch.Tensor:
    if not regression:
        return torch.as_tensor(list(labels), dtype=torch.long)
    targets = torch.as_tensor([float(y) for y in labels], dtype=torch.float32)
    if not bool(torch.isfinite(targets).all()):
        raise ValueError("regression targets must all be finite numbers")
    return targets


def _batch_loss(model, batch: dict, labels: torch.Tensor, regression: bool) -> torch.Tensor:
    if not regression:
        # The model's own loss (cross-entropy for single-label classification), as always.
        return model(**batch, labels=labels).loss
    # MSE on the single output, computed here rather than by the model so that a head whose
    # config lacks problem_type="regression" still gets a regression loss, never cross-entropy.
    prediction = model(**batch).logits[:, 0].float()
    return torch.nn.functional.mse_loss(prediction, labels)
