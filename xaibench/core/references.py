"""Reference evidence for an explanation: a known cause (planted ground truth) or a human rationale.

Metrics see attributions, not dataset rows, so the evidence of an example travels on its
attribution: ``with_references(attributions, examples)`` returns copies whose
``metadata["reference"]`` is ``{"cause": [[start, end], ...], "rationale": [[start, end], ...]}``
(character spans; a kind is absent when the example has none). The benchmark session does this for
every chunk; users scoring their own attributions call it themselves::

    attrs = xb.with_references(explainer.explain(model, ds.texts[:8]), ds.examples[:8])
    xb.get_metric("ground_truth_top1").score(model, attrs)

A rationale (``Example.rationale``, substrings of the text) becomes the spans of *every* occurrence
of each piece. A unit is part of the reference when its character span overlaps a reference span.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from xaibench.core.records import Attribution, Example

REFERENCE_KEY = "reference"
KINDS = ("cause", "rationale")


def rationale_spans(text: str, pieces: Sequence[str]) -> list[tuple[int, int]]:
    """Character spans of every non-overlapping occurrence of each piece in ``text``, sorted."""
    spans = set()
    for piece in pieces:
        if not piece:
            continue
        start = text.find(piece)
        while start >= 0:
            spans.add((start, start + len(piece)))
            start = text.find(piece, start + len(piece))
    return sorted(spans)


def reference_of(example: Example) -> dict:
    """``{"cause": spans, "rationale": spans}`` of one example (kinds it lacks are left out)."""
    out = {}
    if example.cause_spans:
        out["cause"] = [[int(s), int(e)] for s, e in example.cause_spans]
    spans = rationale_spans(example.text, example.rationale)
    if spans:
        out["rationale"] = [[s, e] for s, e in spans]
    return out


def with_references(attributions: Sequence[Attribution | None], examples: Sequence[Example]) -> list:
    """Copies of ``attributions`` carrying their example's reference in ``metadata["reference"]``.

    ``attributions[i]`` must explain ``examples[i].text``; ``None`` entries (failed explanations)
    stay ``None``. Examples without any reference leave their attribution unchanged.
    """
    if len(attributions) != len(examples):
        raise ValueError(f"got {len(attributions)} attributions for {len(examples)} examples")
    out = []
    for a, e in zip(attributions, examples):
        if a is None:
            out.append(None)
            continue
        if a.text != e.text:
            raise ValueError(f"attribution of {a.text!r} does not explain example {e.id!r} ({e.text!r})")
        reference = reference_of(e)
        if not reference:
            out.append(a)
            continue
        out.append(dataclasses.replace(a, metadata={**a.metadata, REFERENCE_KEY: reference}))
    return out


def reference_spans(attribution: Attribution, kind: str) -> list[tuple[int, int]]:
    """The attribution's reference spans of ``kind`` (``"cause"`` or ``"rationale"``); [] if none."""
    if kind not in KINDS:
        raise ValueError(f"reference kind must be one of {KINDS}, got {kind!r}")
    reference = (attribution.metadata or {}).get(REFERENCE_KEY) or {}
    return [(int(s), int(e)) for s, e in reference.get(kind, [])]


def unit_mask(units, spans: Sequence[tuple[int, int]]) -> np.ndarray:
    """Boolean mask over ``units`` (objects with ``start``/``end``): True where a unit's span
    overlaps any of ``spans``."""
    mask = np.zeros(len(units), dtype=bool)
    for i, u in enumerate(units):
        mask[i] = any(u.start < e and s < u.end for s, e in spans)
    return mask


def reference_key(examples: Sequence[Example]) -> list:
    """What the reference-based metric values of a chunk depend on beyond its ids and texts (for
    cache keys): every example's reference."""
    return [reference_of(e) for e in examples]
