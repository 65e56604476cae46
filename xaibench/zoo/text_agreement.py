"""How close a generated explanation sentence is to a reference sentence (its teacher's).

For the model card of a learned generator (``xaibench.zoo.generator_training``), per held-out text:

- ``cited_set_match``: 1 if both sentences cite exactly the same units of the text
  (``xaibench.core.citations``), else 0;
- ``cited_f1``: F1 of the two sets of cited units (1 when both cite nothing);
- ``chrf``: sentence-level chrF (Popović 2015, "chrF: character n-gram F-score for automatic MT
  evaluation", WMT): the F-beta score (beta = 2, recall weighted more) of character n-grams,
  n = 1..6, averaged over n, whitespace removed; 0-100;
- ``label_match``: 1 if both state the same class (``xaibench.core.class_names.stated_class``).

The card reports the mean of each over the held-out texts.
"""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np

from xaibench.core.citations import cite, cited_units
from xaibench.core.class_names import stated_class

CHRF_ORDER = 6
CHRF_BETA = 2.0


def chrf(hypothesis: str, reference: str, order: int = CHRF_ORDER, beta: float = CHRF_BETA) -> float:
    """Sentence chrF in [0, 100] (module docstring); n-gram orders a sentence is too short for are
    skipped, and 0 when no order has n-grams on both sides."""
    hyp, ref = "".join(hypothesis.split()), "".join(reference.split())
    precisions, recalls = [], []
    for n in range(1, order + 1):
        h = Counter(hyp[i:i + n] for i in range(len(hyp) - n + 1))
        r = Counter(ref[i:i + n] for i in range(len(ref) - n + 1))
        if not h or not r:
            continue
        overlap = sum((h & r).values())
        precisions.append(overlap / sum(h.values()))
        recalls.append(overlap / sum(r.values()))
    if not precisions:
        return 0.0
    p, r = float(np.mean(precisions)), float(np.mean(recalls))
    if p + r == 0:
        return 0.0
    return 100.0 * (1 + beta**2) * p * r / (beta**2 * p + r)


def set_f1(a: set, b: set) -> float:
    if not a and not b:
        return 1.0
    overlap = len(a & b)
    return 0.0 if overlap == 0 else 2 * overlap / (len(a) + len(b))


def agreement(texts: Sequence[str], generated: Sequence[str], reference: Sequence[str],
              labels: Sequence[str], units_of=None) -> dict:
    """Mean agreement of ``generated`` with ``reference`` sentences over ``texts`` (module docstring).
    ``units_of(text)``: the explained model's units (default ``split_units``); ``labels``: the
    model's class names, for ``label_match``."""
    rows = []
    for text, g, r in zip(texts, generated, reference):
        units = units_of(text) if units_of else None
        cg, cr = set(cited_units(cite(g, text, units))), set(cited_units(cite(r, text, units)))
        rows.append({"cited_set_match": float(cg == cr), "cited_f1": set_f1(cg, cr), "chrf": chrf(g, r),
                     "label_match": float(stated_class(g, labels) == stated_class(r, labels))})
    return {k: round(float(np.mean([row[k] for row in rows])), 4) for k in rows[0]} if rows else {}
