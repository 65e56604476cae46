"""Shared machinery of the gradient explainers: per-token scores from the engine's input gradients,
and the sub-token -> unit sum.

Gradients are taken with respect to the output of the model's word-embedding layer, never the
integer ids (``xaibench.modeling.gradients``).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

from xaibench.modeling.gradients import input_gradients

#: ``sign`` of the gradient explainers: keep the direction of each unit's score (``"signed"``: > 0
#: supports the explained output, < 0 opposes it) or report its magnitude only (``"abs"``: |score|,
#: how much the unit matters whichever way it pushes).
SIGNS = ("signed", "abs")


def check_sign(sign, allowed: tuple[str, ...] = SIGNS, why: str = "") -> None:
    """Raise ``ValueError`` unless ``sign`` is one of ``allowed``."""
    if sign not in allowed:
        raise ValueError(f"sign must be one of {allowed}{why}, got {sign!r}")


def apply_sign(scores: list[np.ndarray], sign: str) -> list[np.ndarray]:
    """Unit scores as ``sign`` asks: unchanged (``"signed"``) or their absolute values (``"abs"``;
    taken per unit, after the sub-token sum)."""
    return [np.abs(s) for s in scores] if sign == "abs" else scores


def units_from_tokens(token_scores: np.ndarray, token_units: np.ndarray, n_units: int) -> np.ndarray:
    """Sum token scores into their units (special tokens, index -1, and padding are dropped).

    ``token_scores`` may be longer than ``token_units`` (padding); extra positions are ignored.
    """
    out = np.zeros(n_units, dtype=np.float64)
    keep = token_units >= 0
    np.add.at(out, token_units[keep], np.asarray(token_scores, dtype=np.float64)[: len(token_units)][keep])
    return out


def gradient_attributions(
    model,
    token_ids: Sequence[Sequence[int]],
    targets: np.ndarray,
    output: str,
    token_score: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    progress: bool = False,
) -> list[np.ndarray]:
    """Per-token scores ``token_score(embeddings, gradients) -> [B, L]`` for every text, from
    ``xaibench.modeling.gradients.input_gradients`` (one forward and one backward per text, batched,
    counted in ``model.n_forward``/``n_backward``; shared across explainers inside ``model.sharing()``).
    """
    results: list[np.ndarray] = [np.zeros(0)] * len(token_ids)
    for idx, embeddings, grads in input_gradients(model, token_ids, targets, output, progress):
        scores = token_score(embeddings, grads).to("cpu", torch.float64).numpy()
        for row, i in enumerate(idx):
            results[i] = scores[row, : len(token_ids[i])]
    return results
