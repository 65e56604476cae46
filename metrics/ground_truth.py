"""Ground-truth metrics: does the explanation point at the known cause of the prediction?

They apply to examples with a planted cause (``Example.cause_spans``: the ``planted-en`` /
``planted-zh`` tasks, whose built-in models are verified to use it; see ``xaibench.zoo.counterfactual``), carried
on the attribution by ``xaibench.core.references.with_references``. Elsewhere the value is NaN with a
note. Cause units are the units whose character span overlaps a cause span; the ranking is by
score descending, ties by position (earlier first), as for every metric.

The idea of planting a known cause to obtain ground truth for feature attributions: Adebayo et al.
2022, "Post hoc Explanations May Be Ineffective for Detecting Unknown Spurious Correlation", ICLR;
Zhou et al. 2022, "Do Feature Attribution Methods Correctly Attribute Features?", AAAI.
"""
from __future__ import annotations

import numpy as np

from xaibench.core import registry
from xaibench.metrics.base import ExampleScore
from xaibench.metrics.evidence import EvidenceMetric

NO_CAUSE = "no ground truth: the example has no known cause (only planted-* tasks have one)"


@registry.metrics.register
class GroundTruthTop1(EvidenceMetric):
    """Share of examples whose top-ranked unit is (part of) the cause.

    Definition: per example 1 if the first unit of the ranking (score descending, ties by position)
    is a cause unit, else 0; the summary mean is the share. Range [0, 1]. Direction: higher is
    better. Random reference: m / n (m cause units among n). Undefined (NaN, with a note) for
    examples without a known cause.
    """

    name = "ground_truth_top1"
    proportion = True  # a hit (1) or a miss (0) per example
    order = 20
    higher_is_better = True
    reference_kind = "cause"
    missing_note = NO_CAUSE

    def value(self, scores, ranking, mask) -> ExampleScore:
        top = int(ranking[0])
        return ExampleScore(float(mask[top]), float(mask.mean()),
                            details={"top_unit": top, "cause_units": np.flatnonzero(mask).tolist()})


@registry.metrics.register
class GroundTruthRank(EvidenceMetric):
    """Normalised rank of the cause among the units: 0 = the cause is ranked first, 1 = last.

    Definition: r / (n − m), where r is the number of non-cause units ranked above the
    highest-ranked cause unit (ranking by score descending, ties by position), n the number of
    units and m the number of cause units. For a one-unit cause this is the cause's 0-based rank
    divided by n − 1. Range [0, 1]. Direction: lower is better. Random reference: 1 / (m + 1)
    (expected value under a uniformly random ranking; 0.5 for a one-unit cause). Undefined (NaN,
    with a note) for examples without a known cause, and when every unit is a cause unit.
    """

    name = "ground_truth_rank"
    order = 21
    higher_is_better = False
    reference_kind = "cause"
    missing_note = NO_CAUSE

    def value(self, scores, ranking, mask) -> ExampleScore:
        n, m = len(mask), int(mask.sum())
        if n == m:
            return ExampleScore.undefined("every unit is part of the cause: no rank to compare")
        first_cause = int(np.flatnonzero(mask[ranking])[0])  # position in the ranking
        return ExampleScore(first_cause / (n - m), 1.0 / (m + 1), details={"cause_position": first_cause})
