"""DeepLIFT (Shrikumar et al., 2017) on the word embeddings, through ``captum.attr.DeepLift``."""
from __future__ import annotations

import numpy as np
import torch

from xaibench.core import registry
from xaibench.explainers._embedding_methods import EmbeddingForward, word_baseline
from xaibench.explainers._gradients import apply_sign, check_sign, units_from_tokens
from xaibench.explainers.base import ExplainBatch, Explainer
from xaibench.modeling.engine import run_batches


@registry.explainers.register
class DeepLift(Explainer):
    """DeepLIFT's Rescale rule on the word-embedding layer's output (Shrikumar, Greenside & Kundaje
    2017, "Learning Important Features Through Propagating Activation Differences", ICML), computed
    by ``captum.attr.DeepLift`` against the pad baseline of Integrated Gradients (every word token
    replaced by the pad token; special tokens kept).

    Score: the multipliers times (embedding − baseline embedding), summed over the hidden dimension
    and over the unit's sub-tokens, in units of f; signed (> 0 supports the target); the scores sum
    to f(x) − f(baseline) where the Rescale rule holds exactly. Caveat of transformers: captum has
    DeepLIFT rules for ``nn.ReLU``/``nn.Tanh``/``nn.Sigmoid``/``nn.Softmax`` modules (BERT's pooler
    tanh), but GELU, LayerNorm and the functional softmax of attention have none, and there the
    gradient passes through unchanged: DeepLIFT then moves towards gradient × (input − baseline).
    ``metadata["convergence_delta"]`` is captum's ``sum(scores) − (f(x) − f(baseline))``.

    Parameters: ``sign`` (``"signed"`` or ``"abs"``), ``seed`` (unused, deterministic), ``output``.
    Cost: one forward and one backward of 2 rows (input and baseline) per text, batched by length.
    """

    name = "deeplift"
    order = 24
    family = "gradient"
    gradient_based = True
    profiles = ("quick", "full")

    def __init__(self, *, sign: str = "signed", seed: int = 0, output: str | None = None) -> None:
        super().__init__(seed=seed, output=output)
        self.sign = sign

    def check_params(self) -> None:
        check_sign(self.sign)

    def _attribute(self, model, batch: ExplainBatch) -> list[np.ndarray]:
        from captum.attr import DeepLift as CaptumDeepLift

        deeplift = CaptumDeepLift(EmbeddingForward(model, batch.output), multiply_by_inputs=True)
        embedding = model.hf_model.get_input_embeddings()
        results: list[np.ndarray] = [np.zeros(0)] * len(batch)

        def step(idx: np.ndarray, padded: dict[str, torch.Tensor]):
            ids, mask = padded["input_ids"], padded["attention_mask"]
            targets = torch.as_tensor(batch.targets[idx], device=model.device)
            with torch.no_grad():
                emb_x, emb_b = embedding(ids), embedding(word_baseline(model, ids))
            with torch.enable_grad():
                scores, delta = deeplift.attribute(emb_x, baselines=emb_b, additional_forward_args=(ids, mask, targets),
                                                   return_convergence_delta=True)
            return scores.detach().sum(-1).to("cpu", torch.float64).numpy(), delta.detach().to("cpu", torch.float64).numpy()

        # Two rows (input and baseline) per text in each batch, buckets of similar length.
        for idx, (token_scores, delta) in run_batches(model, batch.token_ids, step, rows_per_item=2,
                                                      progress=batch.progress, desc="deeplift"):
            for row, i in enumerate(idx):
                results[i] = units_from_tokens(token_scores[row], batch.token_units[i], len(batch.units[i]))
                batch.metadata[i]["convergence_delta"] = float(delta[row])
        return apply_sign(results, self.sign)
