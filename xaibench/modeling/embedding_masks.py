"""The engine's pass with random element-wise masks on the input embeddings (soft erasure).

``masked_embedding_logits`` runs token-id lists through the model with some elements of their
embedding vectors set to 0: element d of token t of row i is zeroed when ``U_i[t, d] < p_i[t]``,
where ``p_i`` gives each token a drop probability and ``U_i`` is a ``[len_i, H]`` array of
uniform draws from a CPU ``torch.Generator`` seeded with the row's key. A token with p = 0 is
untouched, one with p = 1 is zeroed entirely, one in between loses a random share p of its
elements: the dropout-like mask of Zhao & Aletras 2023 ("soft" erasure). Rows that share a key
share their draws, so two probability vectors of one text (an attribution and its random
reference, soft comprehensiveness and soft sufficiency) are compared under the same randomness;
the draws are made on the CPU so they are the same on every device.

Where the mask applies (``layer``):

- ``"embeddings"`` (what SoftFaith, the paper's code, does): the output of the model's embedding
  module, i.e. word + position (+ token-type) embeddings after their LayerNorm: the encoder's
  input. A fully dropped token then enters the encoder as a zero vector, position included. The
  module is the one that owns the word-embedding layer (``BertEmbeddings``, ``RobertaEmbeddings``,
  DistilBERT's ``Embeddings``...); a model without such a module (decoder-only models) raises.
- ``"word"``: the output of the word-embedding layer (``hf_model.get_input_embeddings()``), before
  position embeddings and LayerNorm are added, where ``gradients.embedding_forward`` and the
  max-sensitivity noise act. A fully dropped token keeps its position embedding.

The pass runs the eager ``hf_model`` (hooks on a compiled module are fragile) under
``torch.inference_mode`` with the last layer's first-token shortcut, in ``engine.run_batches``'s
length-sorted batches (out-of-memory retry included). Identical rows are run once, and a row whose
probabilities are all 0 or 1 needs no draws (its mask is fixed), so its key is ignored and its
repeats are run once too. ``model.n_forward`` grows by the number of distinct rows run; no shared
table is consulted or filled (the same token ids give another output here).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from xaibench.modeling import last_layer
from xaibench.modeling.engine import run_batches

LAYERS = ("embeddings", "word")


def check_layer(layer: str) -> str:
    if layer not in LAYERS:
        raise ValueError(f"layer must be one of {LAYERS}, got {layer!r}")
    return layer


def embedding_module(hf_model, layer: str = "embeddings") -> torch.nn.Module:
    """The module whose output ``masked_embedding_logits`` masks (see the module docstring)."""
    word = hf_model.get_input_embeddings()
    if check_layer(layer) == "word":
        return word
    for module in hf_model.modules():
        if module is not word and any(child is word for child in module.children()):
            if type(module).__name__.endswith("Embeddings"):
                return module
            break
    raise ValueError(f"{type(hf_model).__name__} has no embedding module that owns its word embeddings (a "
                     "BERT-style *Embeddings module); use layer='word' to mask the word embeddings instead")


def uniform_draws(key: int, length: int, width: int) -> torch.Tensor:
    """``[length, width]`` float32 uniform draws in [0, 1) of a CPU ``torch.Generator`` seeded with ``key``."""
    return torch.rand((int(length), int(width)), generator=torch.Generator().manual_seed(int(key)),
                      dtype=torch.float32)


def keep_mask(drop_probs: np.ndarray, key: int | None, width: int, draws: torch.Tensor | None = None) -> torch.Tensor:
    """``[len(drop_probs), width]`` float32 0/1 mask on the CPU: 0 where ``U[t, d] < p[t]`` for the
    uniform draws ``U = uniform_draws(key, len(p), width)`` (or ``draws`` when given). ``key`` None:
    the probabilities must all be 0 or 1, and the mask needs no draws."""
    p = torch.as_tensor(np.asarray(drop_probs, dtype=np.float32)).reshape(-1, 1)
    if key is None:
        if not bool(((p == 0) | (p == 1)).all()):
            raise ValueError("a key is needed for drop probabilities strictly between 0 and 1")
        return (p < 1).to(torch.float32).expand(-1, int(width)).contiguous()
    u = uniform_draws(key, p.shape[0], width) if draws is None else draws
    return (u >= p).to(torch.float32)


def masked_embedding_logits(model, token_ids: Sequence[Sequence[int]], drop_probs: Sequence[np.ndarray],
                            keys: Sequence[int], layer: str = "embeddings", progress: bool = False) -> np.ndarray:
    """Logits ``[len(token_ids), n_outputs]`` (float64) of token-id lists (special tokens included)
    whose embedding vectors are masked element-wise at ``layer`` (see the module docstring).

    ``drop_probs[i]``: one probability in [0, 1] per token of ``token_ids[i]`` (give special tokens
    0 to leave them untouched); ``keys[i]``: the seed of row i's uniform draws (an int < 2**64).
    Adds the number of distinct rows run to ``model.n_forward``.
    """
    module = embedding_module(model.hf_model, layer)
    n = len(token_ids)
    if not (len(drop_probs) == len(keys) == n):
        raise ValueError(f"got {n} token-id lists, {len(drop_probs)} probability vectors and {len(keys)} keys")
    rows: dict[tuple, int] = {}
    inverse = np.empty(n, dtype=np.int64)
    distinct: list[tuple[tuple[int, ...], np.ndarray, int | None]] = []
    for i, (ids, probs, key) in enumerate(zip(token_ids, drop_probs, keys)):
        ids = tuple(int(t) for t in ids)
        probs = np.asarray(probs, dtype=np.float32).reshape(-1)
        if probs.shape[0] != len(ids):
            raise ValueError(f"row {i}: {probs.shape[0]} drop probabilities for {len(ids)} tokens")
        if not np.all((probs >= 0) & (probs <= 1)):
            raise ValueError(f"row {i}: drop probabilities must lie in [0, 1]")
        fixed = bool(np.all((probs == 0) | (probs == 1)))
        row_key = None if fixed else int(key)
        slot = rows.setdefault((ids, probs.tobytes(), row_key), len(distinct))
        if slot == len(distinct):
            distinct.append((ids, probs, row_key))
        inverse[i] = slot
    if not distinct:
        return np.zeros((0, model.n_outputs))
    out = np.empty((len(distinct), model.n_outputs), dtype=np.float64)
    current: dict = {}

    def hook(mod, args, output):
        if not isinstance(output, torch.Tensor) or output.dim() != 3:
            raise TypeError(f"{type(mod).__name__} returned {type(output).__name__}, not a [batch, length, width] "
                            "tensor: it cannot be masked per token")
        batch, length, width = output.shape
        mask = torch.ones((batch, length, width), dtype=torch.float32)
        draws: dict = {}  # rows of one batch with the same key (one text) share their draws
        for b, i in enumerate(current["idx"]):
            ids, probs, key = distinct[i]
            u = None
            if key is not None:
                u = draws.get((key, len(ids)))
                if u is None:
                    u = draws[(key, len(ids))] = uniform_draws(key, len(ids), width)
            mask[b, :len(ids)] = keep_mask(probs, key, width, u)
        return output * mask.to(device=output.device, dtype=output.dtype)

    def step(idx: np.ndarray, batch: dict[str, torch.Tensor]) -> np.ndarray:
        current["idx"] = idx
        logits = model.hf_model(**batch).logits
        model.n_forward += len(idx)
        return logits.detach().to("cpu", torch.float64).numpy()

    handle = module.register_forward_hook(hook)
    try:
        with torch.inference_mode(), last_layer.active(model):
            for idx, logits in run_batches(model, [ids for ids, _, _ in distinct], step, progress=progress,
                                           desc="masked forward"):
                out[idx] = logits
    finally:
        handle.remove()
    return out[inverse]
