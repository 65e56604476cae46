"""How explainer cost grows with text length and model size (issue #8's scaling benchmark).

``texts_of_length`` builds inputs of an exact token count from real reviews (consecutive test
sentences joined until long enough, then cut at a unit boundary). ``measure_scaling`` explains them
with each explainer and records wall seconds, forward and backward passes per example, and the
engine's own per-pass cost at the same length, so a row also says how much of the explainer's time
is the model itself (``overhead`` = seconds / (forwards × forward-pass seconds + backwards ×
backward-pass seconds, both measured the way the engine batches; for explainers with one backward
pass per text, the forward+backward of exactly the explained texts); 1.0 means no cost beyond the
model). ``fit_exponents`` fits
seconds ∝ tokensᵏ per (model, explainer) by least squares on log-log axes.
"""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np
import pandas as pd

from xaibench.core.units import keep_units

#: Explain calls shorter than this (seconds) are timed twice and the faster run kept.
REPEAT_BELOW_SECONDS = 30.0


def texts_of_length(model, pool: Sequence[str], n_tokens: int, n_texts: int) -> list[str]:
    """``n_texts`` texts of ``n_tokens`` tokens (special tokens included; within a unit of it).

    Texts are consecutive sentences of ``pool`` joined with a space (no space between CJK texts),
    started at different offsets so the texts differ, and cut after the last unit that still fits.
    Raises ``ValueError`` if ``n_tokens`` exceeds the model's maximum length.
    """
    if model.max_length is not None and n_tokens > model.max_length:
        raise ValueError(f"{n_tokens} tokens exceed {model.name}'s maximum length {model.max_length}")
    pool = [t for t in pool if t.strip()]
    sep = "" if _mostly_cjk(" ".join(pool[:20])) else " "
    out = []
    for k in range(n_texts):
        start = (k * 37) % len(pool)
        text, i = "", start
        while len(model.token_ids([text])[0]) < n_tokens:
            text = (text + sep + pool[i % len(pool)]) if text else pool[i % len(pool)]
            i += 1
            if i - start > len(pool):
                raise ValueError("the pool is too short for the requested length")
        units = model.units(text)
        lo, hi = 1, len(units)
        while lo < hi:  # the largest unit prefix that fits in n_tokens
            mid = (lo + hi + 1) // 2
            if len(model.token_ids([keep_units(text, units, range(mid))])[0]) <= n_tokens:
                lo = mid
            else:
                hi = mid - 1
        out.append(keep_units(text, units, range(lo)))
    return out


def _mostly_cjk(text: str) -> bool:
    """True when most non-space characters are CJK ideographs (texts are then joined without a space)."""
    chars = [c for c in text if not c.isspace()]
    cjk = sum("\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf" for c in chars)
    return cjk > 0.5 * max(1, len(chars))


def pass_seconds(model, texts: Sequence[str], n_inputs: int = 32, repeats: int = 3) -> tuple[float, float]:
    """Seconds per input of one forward pass and of one forward+backward pass (the gradient
    explainers' own pass, ``gradient_pass_seconds``), both through the engine as explainers use it.

    Inputs are ``n_inputs`` distinct leave-one-unit-out variants of ``texts`` (so the engine cannot
    de-duplicate them and their lengths match what an explainer sends); best of ``repeats``.
    """
    from xaibench.core.units import remove_units

    variants = []
    for text in texts:
        units = model.units(text)
        variants += [remove_units(text, units, [i]) for i in range(min(len(units), -(-n_inputs // len(texts))))]
    variants = list(dict.fromkeys(variants))[:n_inputs]
    ids = model.token_ids(variants)
    best_fwd = float("inf")
    # batched: timing repeats; each round times one whole batched call
    for r in range(repeats + 1):  # the first round is a warm-up
        t0 = time.perf_counter()
        model.logits(variants)
        if r:
            best_fwd = min(best_fwd, (time.perf_counter() - t0) / len(variants))
    return best_fwd, gradient_pass_seconds(model, ids, repeats)


def gradient_pass_seconds(model, id_lists: Sequence[Sequence[int]], repeats: int = 3) -> float:
    """Seconds per sequence of the gradient explainers' pass over ``id_lists``: the engine's
    ``input_gradients`` (forward+backward in its length-bucketed batches, d f / d input embeddings
    of the model's default explained output, target 0); best of ``repeats``. Time it outside
    ``model.sharing()``, where repeats would be served from the shared table."""
    from xaibench.modeling.gradients import input_gradients

    targets = np.zeros(len(id_lists), dtype=int)
    best = float("inf")
    # batched: timing repeats; each round times one whole batched call
    for r in range(repeats + 1):  # the first round is a warm-up
        t0 = time.perf_counter()
        input_gradients(model, id_lists, targets, model.default_output)
        if r:
            best = min(best, (time.perf_counter() - t0) / len(id_lists))
    return best


def measure_scaling(model, pool: Sequence[str], lengths: Sequence[int], explainers: dict,
                    n_texts: int = 2, progress: bool = True) -> pd.DataFrame:
    """One row per (length, explainer): seconds, forwards, backwards per example and ``overhead``.

    explainers: name -> Explainer instance (settings as the caller wants them).
    Lengths above the model's maximum are skipped.
    """
    rows = []
    usable = [n for n in lengths if model.max_length is None or n <= model.max_length]
    bar = None
    if progress:
        from xaibench.core.progress import progress_bar

        bar = progress_bar(len(usable) * len(explainers), f"scaling {model.name}", unit="cell")
    # batched: one length per round; every model call inside is batched over the texts
    for n_tokens in usable:
        texts = texts_of_length(model, pool, n_tokens, n_texts)
        fwd_s, bwd_s = pass_seconds(model, texts)
        # One forward+backward over exactly these texts: what a single-gradient explainer's call
        # costs the model, fixed per-call cost included (it does not amortise over 2 texts).
        own_bwd_s = gradient_pass_seconds(model, model.token_ids(texts))
        targets = [int(t) for t in model.predicted_targets(texts)]
        # batched: one batched explain call per explainer
        for name, explainer in explainers.items():
            explainer.explain(model, texts[:1], targets=targets[:1])  # warm-up (imports, kernels)
            model.reset_counters()
            t0 = time.perf_counter()
            explainer.explain(model, texts, targets=targets)
            seconds = (time.perf_counter() - t0) / len(texts)
            n_fwd, n_bwd = model.n_forward / len(texts), model.n_backward / len(texts)
            if seconds * len(texts) < REPEAT_BELOW_SECONDS:
                # Short calls are noisy (first use of a batch shape, the allocator): best of two, as
                # the per-pass times are best of several.
                t0 = time.perf_counter()
                explainer.explain(model, texts, targets=targets)
                seconds = min(seconds, (time.perf_counter() - t0) / len(texts))
            # A counted backward pass comes with its own forward (fwd+bwd is timed together), and
            # the explainers count that forward in n_forward too: subtract it once.
            model_seconds = max(0.0, n_fwd - n_bwd) * fwd_s + n_bwd * (own_bwd_s if n_bwd == 1 else bwd_s)
            rows.append({
                "model": model.name, "tokens": n_tokens, "explainer": name,
                "seconds": seconds, "forwards": n_fwd, "backwards": n_bwd,
                "forward_pass_ms": 1000 * fwd_s, "backward_pass_ms": 1000 * bwd_s,
                "own_backward_pass_ms": 1000 * own_bwd_s,
                "overhead": seconds / model_seconds if model_seconds > 0 else float("nan"),
            })
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return pd.DataFrame(rows)


def fit_exponents(table: pd.DataFrame) -> pd.DataFrame:
    """Per (model, explainer): k in seconds ≈ c · tokensᵏ (least squares on log-log), with the
    number of lengths it was fitted on. k ≈ 1: linear in length; k ≈ 2: quadratic."""
    rows = []
    for (model, name), group in table.groupby(["model", "explainer"], sort=False):
        group = group[group["seconds"] > 0]
        k = float("nan")
        if group["tokens"].nunique() >= 2:
            k = float(np.polyfit(np.log(group["tokens"]), np.log(group["seconds"]), 1)[0])
        rows.append({"model": model, "explainer": name, "exponent": k, "lengths": int(group["tokens"].nunique())})
    return pd.DataFrame(rows)
