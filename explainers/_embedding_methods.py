"""What the captum methods on word embeddings share (Integrated Gradients, DeepLIFT, GradientSHAP,
SmoothGrad): the explained output as a function of the word embeddings, the pad baseline, and
per-example captum calls with the example's own random draws.

- **f of the embeddings** (``embedding_output_function``, and ``EmbeddingForward`` where captum
  needs an ``nn.Module``, as DeepLIFT does to hook the model's non-linearities): the engine's
  ``embedding_forward`` puts given word embeddings in place of the embedding layer's output inside
  the model's own forward pass (positions and token types are added after it), then
  ``model.output_from_logits``. Every row is counted as a forward pass, and as a backward pass when
  a gradient reaches it.
- **Baseline** (``word_baseline``): the same token sequence with every word token replaced by the pad
  token; special tokens ([CLS], [SEP], a decoder's BOS) stay, and [UNK] moves with the words.
- **Random methods** (GradientSHAP, SmoothGrad, IG's noise tunnel) draw from torch's and numpy's
  global generators, which captum uses without a seed argument. ``per_example_captum`` runs one
  captum call per example with both seeded from the example's seed (``seeded``): the draws of a text
  depend on (seed, explainer, text) only, never on the other texts of the batch (the project's
  seeding rule), and the caller's generator is left as it was. Each call still evaluates all of
  the example's samples in batched rows.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable

import numpy as np
import torch

from xaibench.explainers._gradients import units_from_tokens
from xaibench.modeling.gradients import embedding_forward


def check_noise_stdev(noise_stdev) -> None:
    if isinstance(noise_stdev, bool) or not isinstance(noise_stdev, (int, float)) or not noise_stdev >= 0:
        raise ValueError(f"noise_stdev must be a number >= 0 (relative to the embeddings' spread), got {noise_stdev!r}")


def embedding_output_function(model, output: str) -> Callable:
    """``forward(embeddings, input_ids, attention_mask, targets) -> f [B]`` for captum."""

    def forward(embeddings, input_ids, attention_mask, targets):
        logits = embedding_forward(model, embeddings, input_ids, attention_mask)
        return model.output_from_logits(logits, targets, output)

    return forward


class EmbeddingForward(torch.nn.Module):
    """``embedding_output_function`` as an ``nn.Module`` holding the model, for captum methods that
    hook the model's modules (DeepLIFT)."""

    def __init__(self, model, output: str) -> None:
        super().__init__()
        self.hf_model = model.hf_model
        self._forward = embedding_output_function(model, output)

    def forward(self, embeddings, input_ids, attention_mask, targets):
        return self._forward(embeddings, input_ids, attention_mask, targets)


def word_baseline(model, ids: torch.Tensor) -> torch.Tensor:
    """``ids`` with every word token replaced by the pad token (special tokens kept, [UNK] moved)."""
    kept = set(model.tokenizer.all_special_ids) - {model.tokenizer.unk_token_id}
    special = torch.as_tensor(sorted(kept), dtype=torch.long, device=ids.device)
    return torch.where(torch.isin(ids, special), ids, torch.full_like(ids, model.pad_token_id))


@contextmanager
def seeded(seed: int, devices=()):
    """Torch's and numpy's global generators seeded with ``seed`` inside the block (captum draws
    from both: GradientShap's interpolation points from numpy, its baselines and noise from torch),
    and both restored afterwards."""
    state = np.random.get_state()
    try:
        with torch.random.fork_rng(devices=list(devices)):
            torch.manual_seed(seed)
            np.random.seed(seed % 2**32)
            yield
    finally:
        np.random.set_state(state)


def per_example_captum(model, batch, call: Callable, reduce: Callable[[torch.Tensor], torch.Tensor]) -> list[np.ndarray]:
    """Unit scores of every text of ``batch``: ``call(emb_x, emb_baseline, (ids, mask, targets))``
    returns the captum attribution ``[1, L, H]`` of one example, computed under torch's generator
    seeded with the example's seed; ``reduce`` maps it to token scores ``[1, L]``, summed into units."""
    embedding = model.hf_model.get_input_embeddings()
    devices = [model.device] if model.device.type == "cuda" else []
    out = []
    # batched: one captum call per example, so its random draws come from its own seed; each call
    # evaluates all of the example's samples (and path steps) in batched rows
    for i, token_ids in enumerate(batch.token_ids):
        ids = torch.as_tensor([token_ids], dtype=torch.long, device=model.device)
        mask = torch.ones_like(ids)
        targets = torch.as_tensor([int(batch.targets[i])], device=model.device)
        with torch.no_grad():
            emb_x, emb_b = embedding(ids), embedding(word_baseline(model, ids))
        with seeded(int(batch.seeds[i]), devices), torch.enable_grad():
            attribution = call(emb_x, emb_b, (ids, mask, targets))
        token_scores = reduce(attribution.detach()).to("cpu", torch.float64).numpy()[0]
        out.append(units_from_tokens(token_scores, batch.token_units[i], len(batch.units[i])))
    return out


def noise_tunnel_attributions(model, batch, method, nt_samples: int, noise_stdev: float, kwargs: dict,
                              with_baseline: bool,
                              reduce: Callable[[torch.Tensor], torch.Tensor] = lambda a: a.sum(-1)) -> list[np.ndarray]:
    """SmoothGrad (Smilkov et al. 2017) over a captum ``method`` through ``captum.attr.NoiseTunnel``:
    the mean attribution over ``nt_samples`` copies of the word embeddings with Gaussian noise of
    standard deviation ``noise_stdev`` × the standard deviation of the text's embeddings."""
    from captum.attr import NoiseTunnel

    tunnel = NoiseTunnel(method)

    def call(emb_x, emb_b, args):
        extra = {"baselines": emb_b} if with_baseline else {}
        return tunnel.attribute(emb_x, nt_type="smoothgrad", nt_samples=nt_samples,
                                stdevs=float(noise_stdev) * float(emb_x.std()), additional_forward_args=args,
                                **extra, **kwargs)

    return per_example_captum(model, batch, call, reduce)
