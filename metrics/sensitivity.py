"""Max-sensitivity (Yeh et al. 2019) of gradient explainers under small noise on the input embeddings.

The noise is added by a forward hook on the model's word-embedding layer
(``hf_model.get_input_embeddings()``), installed by ``embedding_noise`` for the duration of one
``explain`` call, so the explainers run unchanged: the gradient explainers take their gradients at
(and IG integrates up to) the hooked output, which is the noisy embedding. The hook is registered
before the hooks of the engine's gradient passes (``xaibench.modeling.gradients``), and PyTorch runs
forward hooks in registration order, so those passes see the noisy tensor.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence

import numpy as np
import torch

from xaibench.core import registry
from xaibench.core.seeding import stable_hash
from xaibench.metrics.base import Metric, MetricResult
from xaibench.metrics.reexplain import build_result, explain_many

#: The table cell of max_sensitivity for an explainer that does not declare ``gradient_based``.
NOT_GRADIENT_BASED = "not gradient-based"


def gradient_explainers() -> list[str]:
    """Registered explainers that declare ``gradient_based`` (scores are functions of
    input-embedding gradients, where an embedding-space radius is meaningful)."""
    return [n for n in registry.explainers.names() if getattr(registry.explainers.spec(n), "gradient_based", False)]


@contextmanager
def embedding_noise(model, texts: Sequence[str], radius: float, seed: int, sample: int) -> Iterator[set]:
    """While active, each forward pass adds noise to the word embeddings of every row whose token ids
    are exactly those of one of ``texts`` (rows of other inputs, such as IG's all-pad baseline, stay
    clean). Token t of such a row moves by δ_t drawn uniformly from the L2 ball of radius
    ``radius · ‖e_t‖`` (its own embedding norm); δ is a fixed function of (seed, sample, token ids), so
    a text embedded several times in one call gets the same noise each time. Yields the set of
    indices of ``texts`` that were noised at least once."""
    pad = model.pad_token_id
    wanted = {tuple(ids): i for i, ids in enumerate(model.token_ids(list(texts)))}
    noise_cache: dict[tuple, torch.Tensor] = {}
    noised: set[int] = set()

    def noise_for(key: tuple, clean: torch.Tensor) -> torch.Tensor:
        if key not in noise_cache:
            n, dim = clean.shape
            rng = np.random.default_rng(stable_hash("max_sensitivity", seed, sample, key))
            direction = rng.standard_normal((n, dim))
            direction /= np.linalg.norm(direction, axis=1, keepdims=True)
            # Uniform in the ball: radius · U^(1/d) (≈ the sphere for embedding widths in the hundreds).
            length = rng.random((n, 1)) ** (1.0 / dim)
            scale = radius * clean.detach().norm(dim=-1, keepdim=True).to("cpu", torch.float64).numpy()
            noise_cache[key] = torch.as_tensor(direction * length * scale, dtype=clean.dtype, device=clean.device)
        return noise_cache[key]

    def hook(module, args, output):
        ids = args[0] if args else None
        if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or output.dim() != 3:
            return None
        rows = []
        for row, r in enumerate(ids.detach().cpu().tolist()):
            n = len(r)
            while n and r[n - 1] == pad:  # right padding; real rows end with a special token
                n -= 1
            i = wanted.get(tuple(r[:n]))
            if i is not None:
                rows.append((row, n, tuple(r[:n])))
                noised.add(i)
        if not rows:
            return None
        out = output.clone()
        for row, n, key in rows:
            out[row, :n] = output[row, :n] + noise_for(key, output[row, :n])
        return out

    handle = model.hf_model.get_input_embeddings().register_forward_hook(hook)
    try:
        # A shared table (the benchmark session's) would answer the noisy call with the clean
        # gradients stored for the same token ids, and the model would never see the noise.
        with model.not_sharing():
            yield noised
    finally:
        handle.remove()


@registry.metrics.register
class MaxSensitivity(Metric):
    """Worst relative change of a gradient explanation under small noise on the input embeddings.

    Definition: SENS_max = max over j = 1..``n_samples`` of ‖Φ(x + δ_j) − Φ(x)‖₂ / ‖Φ(x)‖₂, where Φ is
    the unit-score vector, x the word embeddings of the text and δ_j a draw of ``embedding_noise``:
    each token's embedding moves by at most ``radius`` (default 0.02) times its own L2 norm, i.e.
    r = 0.02 × the embedding-norm scale, per token. The Monte-Carlo max over ``n_samples`` (default
    8) draws estimates the sup over the ball from below. Each draw is one ``explain`` call batched
    over all examples; the explainer is rebuilt with the attribution's settings and target.
    Reference: Yeh, Hsieh, Suggala, Inouye & Ravikumar 2019, "On the (In)fidelity and Sensitivity of
    Explanations", NeurIPS (captum's ``sensitivity_max`` uses the same relative form, radius 0.02).
    Range: [0, ∞). Direction: lower is better. Defined for explainers that declare ``gradient_based``
    (saliency, grad_x_input, integrated_gradients); NaN with a note for others, for all-zero attributions,
    and when the explainer did not pass the text through the word-embedding layer.
    """

    name = "max_sensitivity"
    order = 43
    family = "stability"
    reexplains = True
    higher_is_better = False
    profile_params = {"smoke": {"n_samples": 2}, "quick": {"n_samples": 4}}

    @classmethod
    def not_applicable_to(cls, explainer) -> str | None:
        reason = super().not_applicable_to(explainer)
        return reason or (None if getattr(explainer, "gradient_based", False) else NOT_GRADIENT_BASED)

    def __init__(self, radius: float = 0.02, n_samples: int = 8, seed: int = 0) -> None:
        if not isinstance(radius, (int, float)) or not radius > 0:
            raise ValueError(f"radius must be a positive float, got {radius!r}")
        if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
            raise ValueError(f"n_samples must be an int >= 1, got {n_samples!r}")
        self.radius, self.n_samples, self.seed = float(radius), n_samples, seed

    def evaluate(self, model, attributions) -> MetricResult:
        attributions = list(attributions)
        rows: list = [None] * len(attributions)
        active = []
        gradient_based = gradient_explainers()
        for i, a in enumerate(attributions):
            name = a.explainer.get("name")
            if name not in gradient_based:
                rows[i] = (float("nan"), f"max_sensitivity applies to gradient explainers "
                           f"({', '.join(gradient_based)}), not {name!r}", {})
            elif not np.any(np.asarray(a.scores, dtype=float)):
                rows[i] = (float("nan"), "all attribution scores are 0: relative change is undefined", {})
            else:
                active.append(i)
        group = [attributions[i] for i in active]
        changes = np.full((len(group), self.n_samples), np.nan)
        reasons: dict[int, str] = {}
        for j in range(self.n_samples if group else 0):
            with embedding_noise(model, [a.text for a in group], self.radius, self.seed, j) as noised:
                results = explain_many(model, group, [[a.text] for a in group])
            for pos, (a, res) in enumerate(zip(group, results)):
                if isinstance(res, str):
                    reasons[pos] = res
                elif pos not in noised:
                    reasons[pos] = "the explainer never passed this text through the word-embedding layer"
                else:
                    base = np.asarray(a.scores, dtype=float)
                    changes[pos, j] = np.linalg.norm(res[0].scores - base) / np.linalg.norm(base)
        for pos, i in enumerate(active):
            if pos in reasons:
                rows[i] = (float("nan"), reasons[pos], {})
            else:
                rows[i] = (float(changes[pos].max()), None,
                           {"radius": self.radius, "per_sample": changes[pos].tolist()})
        return build_result(self, rows)
