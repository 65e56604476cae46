"""GradientSHAP (Lundberg & Lee, 2017; Erion et al. 2021's expected gradients) through
``captum.attr.GradientShap``."""
from __future__ import annotations

import numpy as np
import torch

from xaibench.core import registry
from xaibench.explainers._embedding_methods import check_noise_stdev, embedding_output_function, per_example_captum
from xaibench.explainers._gradients import apply_sign, check_sign
from xaibench.explainers.base import ExplainBatch, Explainer


@registry.explainers.register
class GradientShap(Explainer):
    """SHAP values approximated by expected gradients on the word embeddings: the mean over
    ``n_samples`` draws of gradient × (input − baseline), each at a random point between a random
    baseline and the input (plus Gaussian noise when ``noise_stdev`` > 0); ``captum.attr.GradientShap``.

    Baselines: the pad baseline of Integrated Gradients (every word token replaced by the pad token)
    and the all-zero word embedding, drawn with equal chance (a two-point stand-in for "absent
    words"; SHAP values are relative to the baseline distribution). Score: summed over the hidden
    dimension and over the unit's sub-tokens, in units of f; signed (> 0 supports the target); in
    expectation the scores sum to f(x) − E[f(baseline)].

    Parameters: ``n_samples`` (default 20; cheap settings 8), ``noise_stdev`` (default 0.0:
    standard deviation of the noise added to each sample, relative to the spread of the text's
    embeddings), ``sign``, ``seed`` (the draws of each example come from its own seed; see
    ``explainers/_embedding_methods.py``), ``output``.
    Cost: ``n_samples`` forwards and backwards per text (one captum call per text).
    """

    name = "gradient_shap"
    order = 25
    family = "gradient"
    gradient_based = True
    profiles = ("quick", "full")
    deterministic = False
    cheap_params = {"n_samples": 8}

    def __init__(self, *, n_samples: int = 20, noise_stdev: float = 0.0, sign: str = "signed", seed: int = 0,
                 output: str | None = None) -> None:
        super().__init__(seed=seed, output=output)
        self.n_samples = n_samples
        self.noise_stdev = noise_stdev
        self.sign = sign

    def check_params(self) -> None:
        if isinstance(self.n_samples, bool) or not isinstance(self.n_samples, int) or self.n_samples < 1:
            raise ValueError(f"n_samples must be a positive int, got {self.n_samples!r}")
        check_noise_stdev(self.noise_stdev)
        check_sign(self.sign)

    def _attribute(self, model, batch: ExplainBatch) -> list[np.ndarray]:
        from captum.attr import GradientShap as CaptumGradientShap

        method = CaptumGradientShap(embedding_output_function(model, batch.output), multiply_by_inputs=True)

        def call(emb_x, emb_b, args):
            baselines = torch.cat([emb_b, torch.zeros_like(emb_b)])
            return method.attribute(emb_x, baselines=baselines, n_samples=self.n_samples,
                                    stdevs=float(self.noise_stdev) * float(emb_x.std()), additional_forward_args=args)

        return apply_sign(per_example_captum(model, batch, call, reduce=lambda a: a.sum(-1)), self.sign)
