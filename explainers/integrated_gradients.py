"""Integrated Gradients (Sundararajan et al., 2017) through captum's ``IntegratedGradients``."""
from __future__ import annotations

import time

import numpy as np
import torch

from xaibench.core import registry
from xaibench.explainers._gradients import apply_sign, check_sign, units_from_tokens
from xaibench.explainers._embedding_methods import (
    check_noise_stdev,
    embedding_output_function,
    noise_tunnel_attributions,
    word_baseline,
)
from xaibench.explainers.base import ExplainBatch, Explainer
from xaibench.modeling.engine import run_batches
from xaibench.modeling.sharing import gradient_call, ids_key


@registry.explainers.register
class IntegratedGradients(Explainer):
    """Integrated Gradients on the word-embedding layer's output, with the path integral computed by
    ``captum.attr.IntegratedGradients`` (Gauss-Legendre steps, captum's default); the same
    attribution ``captum.attr.LayerIntegratedGradients`` gives on that layer.

    The explained output is the target-class probability by default (``output="prob"``;
    ``"logit"`` is the option). The baseline is the same token sequence with every non-special
    token replaced by the pad token (``[CLS]``/``[SEP]`` and position embeddings kept), so the
    path moves only the words.

    Score (``multiply_by_inputs=True``, the default, Sundararajan et al.'s IG): the path-averaged
    gradient times (embedding − baseline embedding), summed over the hidden dimension and over the
    unit's sub-tokens, in units of f; signed (> 0 supports the target). Completeness: the scores of a
    text sum to f(x) − f(baseline) up to the convergence delta
    ``sum(attributions) − (f(x) − f(baseline))``, stored per example in
    ``metadata["convergence_delta"]`` (it shrinks as ``n_steps`` grows).
    ``multiply_by_inputs=False`` gives the path-averaged gradient alone, summed over the hidden
    dimension (captum's option of that name; ferret's "Integrated Gradient" without "x Input"); no
    completeness holds then and no delta is stored.

    Both variants come from the same path gradients: captum integrates with
    ``multiply_by_inputs=False`` and the product with (embedding − baseline) is taken here, exactly
    as captum does internally. Inside ``model.sharing()`` the second variant on the same texts reuses
    the first one's integral instead of recomputing it.

    **Noise tunnel** (``noise_tunnel=k``, Smilkov et al. 2017's SmoothGrad over IG, through
    ``captum.attr.NoiseTunnel``): the attribution is the mean of IG at k copies of the embeddings
    with Gaussian noise of standard deviation ``noise_stdev`` × the standard deviation of the
    text's word embeddings (the baseline stays clean). The noise is drawn per example from its own
    seed (torch's generator seeded from (seed, name, text) for that example's captum call), so it
    does not depend on the other texts; each example is then one captum call of k × ``n_steps``
    rows, and no convergence delta is stored.

    Parameters
    ----------
    n_steps: int, default 50. Integration steps.
    multiply_by_inputs: bool, default True (see above).
    internal_batch_size: int or None, default None. Most (text, step) rows per forward/backward;
        None sizes chunks from ``model.token_budget``. Texts of similar length share captum calls.
    noise_tunnel: int, default 0 (off). Noisy copies averaged (SmoothGrad over IG).
    noise_stdev: float, default 0.1. Noise standard deviation, relative to the embeddings' spread.
    sign: ``"signed"`` (default) or ``"abs"`` (|score| per unit; ``explainers/_gradients.py``).
    seed: seeds the noise tunnel (deterministic without it). output: see ``Explainer``.

    Cost: ``n_steps`` forwards and backwards per text, plus 2 forwards (f at both ends, for the
    delta); with the noise tunnel ``noise_tunnel`` × ``n_steps`` forwards and backwards.
    """

    name = "integrated_gradients"
    order = 22
    cheap_params = {"n_steps": 16}
    family = "gradient"
    gradient_based = True

    def __init__(self, *, n_steps: int = 50, multiply_by_inputs: bool = True, internal_batch_size: int | None = None,
                 noise_tunnel: int = 0, noise_stdev: float = 0.1, sign: str = "signed", seed: int = 0,
                 output: str | None = None) -> None:
        super().__init__(seed=seed, output=output)
        self.n_steps = n_steps
        self.multiply_by_inputs = multiply_by_inputs
        self.internal_batch_size = internal_batch_size
        self.noise_tunnel = noise_tunnel
        self.noise_stdev = noise_stdev
        self.sign = sign
        # Random only with the noise tunnel (the class fact is the default's).
        self.deterministic = not noise_tunnel

    def check_params(self) -> None:
        if isinstance(self.n_steps, bool) or not isinstance(self.n_steps, int) or self.n_steps < 1:
            raise ValueError(f"n_steps must be a positive int, got {self.n_steps!r}")
        if not isinstance(self.multiply_by_inputs, bool):
            raise ValueError(f"multiply_by_inputs must be true or false, got {self.multiply_by_inputs!r}")
        if self.internal_batch_size is not None and (
                isinstance(self.internal_batch_size, bool) or not isinstance(self.internal_batch_size, int)
                or self.internal_batch_size < 1):
            raise ValueError(f"internal_batch_size must be a positive int or None, got {self.internal_batch_size!r}")
        if isinstance(self.noise_tunnel, bool) or not isinstance(self.noise_tunnel, int) or self.noise_tunnel < 0:
            raise ValueError(f"noise_tunnel must be an int >= 0 (noisy copies; 0 = off), got {self.noise_tunnel!r}")
        check_noise_stdev(self.noise_stdev)
        check_sign(self.sign)

    def _attribute(self, model, batch: ExplainBatch) -> list[np.ndarray]:
        if self.noise_tunnel:
            return apply_sign(self._noise_tunnel(model, batch), self.sign)
        return apply_sign(self._plain(model, batch), self.sign)

    def _noise_tunnel(self, model, batch: ExplainBatch) -> list[np.ndarray]:
        from captum.attr import IntegratedGradients as CaptumIntegratedGradients

        ig = CaptumIntegratedGradients(embedding_output_function(model, batch.output),
                                       multiply_by_inputs=self.multiply_by_inputs)
        return noise_tunnel_attributions(model, batch, ig, self.noise_tunnel, self.noise_stdev,
                                         {"n_steps": self.n_steps,
                                          "internal_batch_size": self.internal_batch_size or
                                          max(1, model.token_budget // max(1, max(map(len, batch.token_ids))))},
                                         with_baseline=True)

    def _plain(self, model, batch: ExplainBatch) -> list[np.ndarray]:
        key = ("path_gradients", ids_key(batch.token_ids), tuple(int(t) for t in batch.targets), batch.output,
               self.n_steps, self.internal_batch_size)
        parts = gradient_call(model, key, lambda: self._path_gradients(model, batch))
        results: list[np.ndarray] = [np.zeros(0)] * len(batch)
        for idx, total_grads, emb_diff, f_x, f_b in parts:
            if self.multiply_by_inputs:
                token_scores = (total_grads * emb_diff).sum(dim=-1)
                delta = token_scores.sum(dim=-1) - (f_x - f_b)
            else:
                token_scores = total_grads.sum(dim=-1)
                delta = None
            token_scores = token_scores.to("cpu", torch.float64).numpy()
            for row, i in enumerate(idx):
                results[i] = units_from_tokens(token_scores[row], batch.token_units[i], len(batch.units[i]))
                if delta is not None:
                    batch.metadata[i]["convergence_delta"] = float(delta[row])
        return results

    def _path_gradients(self, model, batch: ExplainBatch):
        """Per length bucket: (indices, path-averaged gradient [B, L, H], embedding − baseline
        embedding [B, L, H], f(x) [B], f(baseline) [B]); and the cost of computing them.

        Buckets come from the engine (``run_batches`` with ``n_steps`` rows per text, out-of-memory
        retry included). captum's ``IntegratedGradients`` integrates over the word-embedding layer's
        output: the embeddings of the text and of the baseline are looked up directly, and the
        engine's ``embedding_forward`` puts each interpolated embedding in place of that layer's
        output inside the model's own forward pass (what ``LayerIntegratedGradients`` does, without
        its two extra forward passes to capture the layer). One captum call for the path, one model
        call for both endpoints.
        """
        from captum.attr import IntegratedGradients as CaptumIntegratedGradients

        start, n_forward0, n_backward0 = time.perf_counter(), model.n_forward, model.n_backward
        embedding = model.hf_model.get_input_embeddings()

        # f at given embeddings, for captum's path steps and for both endpoints; the engine counts
        # every row as a forward pass, and as a backward pass when captum differentiates it.
        forward = embedding_output_function(model, batch.output)

        ig = CaptumIntegratedGradients(forward, multiply_by_inputs=False)

        def step(idx: np.ndarray, padded: dict[str, torch.Tensor]):
            ids, mask = padded["input_ids"], padded["attention_mask"]
            # Pad every word; keep special tokens (and padding, already pad) so only words move.
            baseline = word_baseline(model, ids)
            targets = torch.as_tensor(batch.targets[idx], device=model.device)
            rows = self.internal_batch_size or max(len(idx), model.token_budget // ids.shape[1])
            with torch.no_grad():
                emb_x, emb_b = embedding(ids), embedding(baseline)
            with torch.enable_grad():
                total_grads = ig.attribute(emb_x, baselines=emb_b, additional_forward_args=(ids, mask, targets),
                                           n_steps=self.n_steps, internal_batch_size=rows)
            with torch.inference_mode():
                ends = forward(torch.cat([emb_x, emb_b]), torch.cat([ids, baseline]), torch.cat([mask, mask]),
                               torch.cat([targets, targets]))
            return total_grads.detach(), emb_x - emb_b, ends[:len(idx)], ends[len(idx):]

        # Buckets of similar length, each text counting n_steps rows: one captum call per batch.
        parts = run_batches(model, batch.token_ids, step, rows_per_item=self.n_steps, progress=batch.progress,
                            desc="integrated gradients")
        cost = {"n_forward": model.n_forward - n_forward0, "n_backward": model.n_backward - n_backward0,
                "seconds": time.perf_counter() - start}
        return [(idx, *result) for idx, result in parts], cost
