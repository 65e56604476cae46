"""The engine's representation pass: a classifier's last-layer hidden state of every unit.

What a generator conditioned on the classifier reads (``xaibench.modeling.generator``): per text, a
``[n_units, hidden]`` array, each unit's row the mean of its sub-tokens' last-layer states (units
the model never saw, beyond ``max_length``, get zeros). Length-bucketed batches under
``torch.inference_mode`` through ``engine.run_batches``, the full last layer (the first-token
shortcut of ``last_layer`` would leave the other positions' states uncomputed).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from xaibench.modeling.engine import run_batches


def unit_states(model, texts: Sequence[str], progress: bool = False) -> list[np.ndarray]:
    """Per text, the mean last-layer hidden state of each of ``model.units(text)`` (float32,
    ``[n_units, hidden]``). Adds ``len(texts)`` to ``model.n_forward``."""
    texts = list(texts)
    if not texts:
        return []
    token_ids, token_units = model.encode(texts)
    n_units = [len(model.units(t)) for t in texts]
    out: list[np.ndarray | None] = [None] * len(texts)

    def step(idx: np.ndarray, batch: dict[str, torch.Tensor]) -> None:
        hidden = model.hf_model(**batch, output_hidden_states=True).hidden_states[-1].float().cpu().numpy()
        model.n_forward += len(idx)
        for row, i in enumerate(idx):
            owner = np.asarray(token_units[i])
            states = np.zeros((n_units[i], hidden.shape[-1]), dtype=np.float32)
            counts = np.zeros(n_units[i], dtype=np.float32)
            seen = owner >= 0
            np.add.at(states, owner[seen], hidden[row, :len(owner)][seen])
            np.add.at(counts, owner[seen], 1.0)
            out[i] = states / np.maximum(counts, 1.0)[:, None]

    with torch.inference_mode():
        run_batches(model, token_ids, step, progress=progress, desc="representations")
    return [o if o is not None else np.zeros((0, 0), dtype=np.float32) for o in out]


def layer_means(model, texts: Sequence[str], progress: bool = False) -> np.ndarray:
    """``[n, layers + 1, hidden]``: per text, the mean over its tokens (padding excluded) of the
    hidden states of the embedding output and of every layer; one batched pass (the full last layer).
    Adds ``len(texts)`` to ``model.n_forward``. What the consistency metrics compare activations by."""
    texts = list(texts)
    token_ids = model.token_ids(texts)
    out: list[np.ndarray | None] = [None] * len(texts)

    def step(idx: np.ndarray, batch: dict[str, torch.Tensor]) -> None:
        states = model.hf_model(**batch, output_hidden_states=True).hidden_states
        model.n_forward += len(idx)
        mask = batch["attention_mask"].unsqueeze(-1).float()
        stacked = torch.stack([(h.float() * mask).sum(1) / mask.sum(1) for h in states], dim=1)
        for row, i in enumerate(idx):
            out[i] = stacked[row].cpu().numpy()

    with torch.inference_mode():
        run_batches(model, token_ids, step, progress=progress, desc="layer means")
    return np.stack(out) if out else np.zeros((0, 0, 0), dtype=np.float32)
