"""Integrated Gradients (Sundararajan et al., 2017) through captum's ``LayerIntegratedGradients``."""
from __future__ import annotations

import numpy as np
import torch

from xaibench import engine, registry

from ._gradients import progress_bar, units_from_tokens
from .base import ExplainBatch, Explainer


@registry.explainers.register("integrated_gradients")
class IntegratedGradients(Explainer):
    """Integrated Gradients on the word-embedding layer, computed by
    ``captum.attr.LayerIntegratedGradients`` (Gauss-Legendre steps, captum's default).

    The explained output is the target-class probability by default (``output="prob"``;
    ``"logit"`` is the option). The baseline is the same token sequence with every non-special
    token replaced by the pad token (``[CLS]``/``[SEP]`` and position embeddings kept), so the
    path moves only the words. Score: the path integral summed over the hidden dimension and over
    the unit's sub-tokens, in units of f; signed (> 0 supports the target). Completeness: the
    scores of a text sum to f(x) - f(baseline) up to captum's convergence delta,
    ``sum(attributions) - (f(x) - f(baseline))``, stored per example in
    ``metadata["convergence_delta"]`` (it shrinks as ``n_steps`` grows).

    Parameters
    ----------
    n_steps: int, default 50. Integration steps.
    internal_batch_size: int or None, default None. Most (text, step) rows per forward/backward;
        None sizes chunks from ``model.token_budget``. Several texts share every captum call.
    seed: unused (deterministic). output: see ``Explainer``.

    Cost: ``n_steps`` forwards and backwards per text, plus 4 forwards (captum evaluates the
    embedding layer on inputs and baselines, and f at both ends for the delta).
    """

    name = "integrated_gradients"

    def __init__(self, *, n_steps: int = 50, internal_batch_size: int | None = None, seed: int = 0,
                 output: str | None = None) -> None:
        super().__init__(seed=seed, output=output)
        self.n_steps = n_steps
        self.internal_batch_size = internal_batch_size

    def check_params(self) -> None:
        if isinstance(self.n_steps, bool) or not isinstance(self.n_steps, int) or self.n_steps < 1:
            raise ValueError(f"n_steps must be a positive int, got {self.n_steps!r}")
        if self.internal_batch_size is not None and (
                isinstance(self.internal_batch_size, bool) or not isinstance(self.internal_batch_size, int)
                or self.internal_batch_size < 1):
            raise ValueError(f"internal_batch_size must be a positive int or None, got {self.internal_batch_size!r}")

    def _attribute(self, model, batch: ExplainBatch) -> list[np.ndarray]:
        from captum.attr import LayerIntegratedGradients

        def forward(input_ids, attention_mask, targets):
            # captum calls this for the path steps and for both endpoints; count every row.
            model.n_forward += int(input_ids.shape[0])
            logits = model.hf_model(input_ids=input_ids, attention_mask=attention_mask).logits
            return model.output_from_logits(logits, targets, batch.output)

        lig = LayerIntegratedGradients(forward, model.hf_model.get_input_embeddings())
        # [UNK] stands for real words (emoji, unseen scripts): it moves with the words.
        kept = set(model.tokenizer.all_special_ids) - {model.tokenizer.unk_token_id}
        special = torch.as_tensor(sorted(kept), dtype=torch.long, device=model.device)
        budget, max_batch = model.token_budget, model.max_batch
        if self.internal_batch_size is not None:
            max_batch = min(max_batch, self.internal_batch_size)
        lengths = [len(ids) for ids in batch.token_ids]
        results: list[np.ndarray] = [np.zeros(0)] * len(batch)
        bar = progress_bar(batch.progress, len(batch), "integrated gradients")
        for idx in engine.plan_batches(lengths, budget, max_batch):
            padded = engine.pad_batch([batch.token_ids[i] for i in idx], model.pad_token_id, model.device)
            ids, mask = padded["input_ids"], padded["attention_mask"]
            # Pad every word; keep special tokens (and padding, already pad) so only words move.
            baseline = torch.where(torch.isin(ids, special), ids, torch.full_like(ids, model.pad_token_id))
            targets = torch.as_tensor(batch.targets[idx], device=model.device)
            rows = self.internal_batch_size or len(idx) * max(1, budget // (len(idx) * ids.shape[1]))
            with torch.enable_grad():
                attributions, delta = lig.attribute(
                    ids, baselines=baseline, additional_forward_args=(mask, targets), n_steps=self.n_steps,
                    internal_batch_size=rows, return_convergence_delta=True,
                )
            model.n_backward += self.n_steps * len(idx)
            token_scores = attributions.sum(dim=-1).detach().to("cpu", torch.float64).numpy()
            delta = delta.detach().to("cpu", torch.float64).numpy().reshape(-1)
            for row, i in enumerate(idx):
                results[i] = units_from_tokens(token_scores[row], batch.token_units[i], len(batch.units[i]))
                batch.metadata[i]["convergence_delta"] = float(delta[row])
            if bar is not None:
                bar.update(len(idx))
        if bar is not None:
            bar.close()
        return results
