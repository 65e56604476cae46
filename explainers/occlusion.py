"""Occlusion / leave-one-out: how much the output drops when one unit is cut out of the text."""
from __future__ import annotations

import numpy as np

from xaibench.core import registry
from xaibench.modeling.engine import forward_logits
from xaibench.explainers.base import ExplainBatch, Explainer


@registry.explainers.register
class Occlusion(Explainer):
    """Leave-one-unit-out occlusion (Zeiler & Fergus, 2014; Li, Monroe & Jurafsky, 2016 for text).

    Score of unit i: ``f(x) - f(x without unit i)``, where removing follows the default ``delete``
    rule of docs/api.md (``xaibench.core.units.remove_units``: cut the unit's characters, collapse
    whitespace) and f is the target-class probability by default (``output="prob"``; ``"logit"``
    is the option). In units of f; > 0 means the unit supports the target. These are exactly the
    perturbations the ``loo_correlation`` and deletion metrics use.

    Cost: n + 1 forwards per text of n units (fewer when removals give identical texts), all texts
    of all examples in ONE batched engine call.
    Parameters: ``seed`` (unused, deterministic), ``output`` (see ``Explainer``).
    """

    name = "occlusion"
    order = 32
    removal = "delete"
    # Its scores are the leave-one-out drops loo_correlation correlates against: that pair is circular.
    computes = "leave_one_out"

    def __init__(self, *, seed: int = 0, output: str | None = None) -> None:
        super().__init__(seed=seed, output=output)

    def shared_inputs(self, model, text: str) -> tuple:
        """x and every leave-one-unit-out edit (the same inputs ``loo_correlation`` needs)."""
        edits = model.edits(text)
        return (text, *(edits.without([i]) for i in range(len(edits.units))))

    def _attribute(self, model, batch: ExplainBatch) -> list[np.ndarray]:
        inputs, targets, bounds = [], [], [0]
        for text, units, target in zip(batch.texts, batch.units, batch.targets):
            # Token-id edits where exact (xaibench.modeling.edits): no edited text to build and tokenize.
            edits = model.edits(text)
            inputs.append(text)
            inputs.extend(edits.without([i]) for i in range(len(units)))
            targets.extend([target] * (len(units) + 1))
            bounds.append(len(inputs))
        values = model.output_from_logits(forward_logits(model, inputs), np.asarray(targets), batch.output)
        return [values[a] - values[a + 1:b] for a, b in zip(bounds[:-1], bounds[1:])]
