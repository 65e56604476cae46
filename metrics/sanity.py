"""Model-randomization sanity check: does the explanation change when the model is destroyed?"""
from __future__ import annotations

import numpy as np

from xaibench.core import registry
from xaibench.metrics.base import Metric, MetricResult
from xaibench.metrics.randomization import cascade, randomized_copy
from xaibench.metrics.reexplain import build_result, explain_many, spearman


@registry.metrics.register
class RandomizationSanity(Metric):
    """1 − |Spearman ρ| between the attribution on the trained model and the attribution of the same
    text, target and explainer settings on a copy whose weights are all re-initialised.

    Definition: value = 1 − |ρ(scores on the model, scores on the randomized copy)| over the text's
    units. The copy re-draws every weight with the architecture's own initialiser, seeded by
    (``seed``, module name) (``metrics.randomization``), and is cached per model so all explainers
    are checked against the same destroyed model. With ``cascading=True`` the layers are
    re-initialised cumulatively from the top down (head, last layer, ..., first layer, embeddings),
    each stage re-explained; ``curves[i]`` holds ``{"fractions": stage k / n_stages, "values":
    1 − |ρ_k|, "stages": [...]}`` and the value is that of the last (fully randomized) stage, which
    equals the non-cascading value.
    Reference: Adebayo et al. 2018, "Sanity Checks for Saliency Maps", NeurIPS (model parameter
    randomization test, cascading and independent).
    Range: [0, 1]. Direction: higher is better: an explanation that survives destroying the model
    (ρ near ±1) does not depend on what the model learned and fails the check. The random explainer
    scores 0: its scores never look at the model, so they survive any randomization. NaN when the scores
    on either model are constant or the text has fewer than 2 units.
    """

    name = "randomization_sanity"
    order = 50
    family = "sanity"
    reexplains = True
    higher_is_better = True

    def __init__(self, cascading: bool = False, seed: int = 0) -> None:
        if not isinstance(cascading, bool):
            raise ValueError(f"cascading must be a bool, got {cascading!r}")
        self.cascading = cascading
        self.seed = seed

    def evaluate(self, model, attributions) -> MetricResult:
        attributions = list(attributions)
        texts = [[a.text] for a in attributions]
        if self.cascading:
            stages, runs = [], []
            for stage, copy_ in cascade(model, self.seed):
                stages.append(stage)
                runs.append(explain_many(copy_, attributions, texts))
        else:
            stages, runs = ["all"], [explain_many(randomized_copy(model, self.seed), attributions, texts)]
        rows, curves = [], []
        for i, a in enumerate(attributions):
            failed = next((r[i] for r in runs if isinstance(r[i], str)), None)
            if failed is not None:
                rows.append((float("nan"), failed, {}))
                curves.append(None)
                continue
            rhos = [spearman(a.scores, r[i][0].scores) for r in runs]
            values = [1.0 - abs(rho) for rho in rhos]
            note = None if np.isfinite(values[-1]) else "constant scores or fewer than 2 units: ρ is undefined"
            rows.append((values[-1], note, {"rho": rhos[-1], "stages": stages, "stage_rho": rhos}))
            n = len(stages)
            curves.append({"fractions": [(k + 1) / n for k in range(n)], "values": values, "stages": stages}
                          if self.cascading else None)
        return build_result(self, rows, curves if self.cascading else None)
