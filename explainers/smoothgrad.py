"""SmoothGrad (Smilkov et al., 2017): saliency averaged over noisy copies of the input, through
``captum.attr.NoiseTunnel`` over ``captum.attr.Saliency``."""
from __future__ import annotations

import numpy as np

from xaibench.core import registry
from xaibench.explainers._embedding_methods import (
    check_noise_stdev,
    embedding_output_function,
    noise_tunnel_attributions,
)
from xaibench.explainers._gradients import check_sign
from xaibench.explainers.base import ExplainBatch, Explainer


@registry.explainers.register
class SmoothGrad(Explainer):
    """The absolute gradient of the explained output with respect to the word embeddings,
    averaged over ``n_samples`` copies of the embeddings with Gaussian noise (standard deviation
    ``noise_stdev`` × the standard deviation of the text's embeddings), then reduced to one number
    per token by the L2 norm over the hidden dimension (as ``saliency``) and summed over the unit's
    sub-tokens (Smilkov et al. 2017, "SmoothGrad: removing noise by adding noise").
    ``captum.attr.NoiseTunnel(Saliency)``. Always >= 0 (how sensitive f is, not in which direction).

    Parameters: ``n_samples`` (default 20; cheap settings 8), ``noise_stdev`` (default 0.15,
    Smilkov et al.'s 10-20% of the input range), ``sign`` (``"abs"`` only), ``seed`` (each
    example's noise comes from its own seed), ``output``.
    Cost: ``n_samples`` forwards and backwards per text (one captum call per text).
    """

    name = "smoothgrad"
    order = 23
    family = "gradient"
    gradient_based = True
    profiles = ("quick", "full")
    deterministic = False
    cheap_params = {"n_samples": 8}

    def __init__(self, *, n_samples: int = 20, noise_stdev: float = 0.15, sign: str = "abs", seed: int = 0,
                 output: str | None = None) -> None:
        super().__init__(seed=seed, output=output)
        self.n_samples = n_samples
        self.noise_stdev = noise_stdev
        self.sign = sign

    def check_params(self) -> None:
        if isinstance(self.n_samples, bool) or not isinstance(self.n_samples, int) or self.n_samples < 1:
            raise ValueError(f"n_samples must be a positive int, got {self.n_samples!r}")
        check_noise_stdev(self.noise_stdev)
        check_sign(self.sign, ("abs",), why=" (SmoothGrad averages gradient magnitudes: it has no sign)")

    def _attribute(self, model, batch: ExplainBatch) -> list[np.ndarray]:
        from captum.attr import Saliency

        saliency = Saliency(embedding_output_function(model, batch.output))
        return noise_tunnel_attributions(model, batch, saliency, self.n_samples, self.noise_stdev,
                                         {"abs": True}, with_baseline=False, reduce=lambda a: a.norm(dim=-1))
