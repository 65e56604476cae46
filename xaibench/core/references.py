"""Reference evidence for an explanation: a known cause (planted ground truth) or a human rationale.

Metrics see attributions, not dataset rows, so the evidence of an example travels on its
attribution: ``with_references(attributions, examples)`` returns copies whose
``metadata["reference"]`` is ``{"cause": [[start, end], ...], "rationale": [[start, end], ...],
"label": gold}`` (character spans; a kind is absent when the example has none; ``label`` is the
gold class index or regression target, for ``auc_tp``). The benchmark session does this for
every chunk; users scoring their own attributions call it themselves::

    attrs = xb.with_references(explainer.explain(model, ds.texts[:8]), ds.examples[:8])
    xb.get_metric("ground_truth_top1").score(model, attrs)

A rationale becomes character spans (``rationale_spans``): a piece of ``Example.rationale`` (a
substring of the text) gives *every* occurrence of the piece that starts at the start of a unit
and ends at the end of a unit (units of ``xaibench.core.units.split_units``: words, punctuation
marks, CJK characters; whitespace inside a multi-word piece is matched literally), so ``not``
marks the word "not" but never the inside of "nothing"; a span of ``Example.rationale_spans``
(0-based code-point offsets, end exclusive) gives exactly that occurrence and must be aligned with
unit boundaries too. A piece or span that is not a whole sequence of units of the text is a
ValueError naming it. A unit is part of the reference when its character span overlaps a
reference span.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from xaibench.core.records import Attribution, Example
from xaibench.core.units import split_units

REFERENCE_KEY = "reference"
KINDS = ("cause", "rationale")


#: What a unit is, for error messages about rationales.
UNITS_HINT = "units are words and punctuation marks in English, characters in Chinese"


def piece_spans(text: str, piece: str, units=None) -> list[tuple[int, int]]:
    """Character spans of every occurrence of ``piece`` in ``text`` that starts at a unit start and
    ends at a unit end (``units``: ``split_units(text)`` unless given), in text order; occurrences
    may overlap (``"ha ha"`` twice in ``"ha ha ha"``). Whitespace around the piece is ignored; an
    empty piece gives []. ValueError naming the piece when it has no such occurrence: it is not in
    the text, or only inside units (``"noth"`` in ``"nothing"``)."""
    piece = piece.strip()
    if not piece:
        return []
    units = split_units(text) if units is None else units
    starts, ends = {u.start for u in units}, {u.end for u in units}
    found, at = [], text.find(piece)
    while at >= 0:
        if at in starts and at + len(piece) in ends:
            found.append((at, at + len(piece)))
        at = text.find(piece, at + 1)
    if found:
        return found
    if piece not in text:
        raise ValueError(f"rationale piece {piece!r} is not a substring of the text")
    raise ValueError(f"rationale piece {piece!r} is not a whole sequence of units of the text: it occurs "
                     f"only inside {_around(text, units, text.find(piece), len(piece))} ({UNITS_HINT})")


def _around(text: str, units, start: int, length: int) -> str:
    """The units that the characters ``[start, start + length)`` touch, quoted, for messages."""
    touched = [u for u in units if u.start < start + length and start < u.end]
    if not touched:
        return "no unit (whitespace or invisible characters)"
    return repr(text[touched[0].start:touched[-1].end])


def checked_span(text: str, span, units=None) -> tuple[int, int]:
    """``span`` = (start, end) as ints after checking that it is a non-empty range of ``text``
    (0-based code-point offsets, end exclusive) starting at a unit start and ending at a unit end;
    ValueError naming the span otherwise."""
    try:
        start, end = span
    except (TypeError, ValueError):
        raise ValueError(f"rationale span {span!r} is not a pair [start, end]") from None
    if any(isinstance(x, bool) or not isinstance(x, (int, np.integer)) for x in (start, end)):
        raise ValueError(f"rationale span {span!r} is not a pair of integer offsets [start, end]")
    start, end = int(start), int(end)
    if not 0 <= start < end <= len(text):
        raise ValueError(f"rationale span {start}:{end} is not a non-empty range of the text's {len(text)} "
                         "characters (0 <= start < end <= length; end is exclusive)")
    units = split_units(text) if units is None else units
    if start not in {u.start for u in units} or end not in {u.end for u in units}:
        raise ValueError(f"rationale span {start}:{end} ({text[start:end]!r}) is not a whole sequence of units "
                         f"of the text: it cuts into {_around(text, units, start, end - start)} ({UNITS_HINT})")
    return start, end


def rationale_spans(text: str, pieces: Sequence[str], spans: Sequence = ()) -> list[tuple[int, int]]:
    """The rationale's character spans in ``text``, distinct and sorted: every unit-aligned
    occurrence of each piece (``piece_spans``) plus the exact ``spans`` (``checked_span``).
    ValueError naming the first piece or span that is not a whole sequence of units."""
    if not pieces and not spans:
        return []
    units = split_units(text)
    found = set()
    for piece in pieces:
        found.update(piece_spans(text, piece, units))
    for span in spans:
        found.add(checked_span(text, span, units))
    return sorted(found)


def reference_of(example: Example) -> dict:
    """``{"cause": spans, "rationale": spans, "label": gold}`` of one example (kinds it lacks are
    left out; ``label`` is the gold class index, or the gold target of a regression example, when
    the example has a numeric one). ValueError naming the example and the piece when its rationale
    does not fit its text."""
    out = {}
    label = example.label
    if isinstance(label, (int, float, np.integer, np.floating)) and not isinstance(label, bool):
        out["label"] = label.item() if isinstance(label, np.generic) else label
    if example.cause_spans:
        out["cause"] = [[int(s), int(e)] for s, e in example.cause_spans]
    try:
        spans = rationale_spans(example.text, example.rationale, example.rationale_spans)
    except ValueError as exc:
        raise ValueError(f"example {example.id!r}: {exc}") from None
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


def gold_label(attribution: Attribution):
    """The gold label the attribution's example carries (``with_references``), or None."""
    return ((attribution.metadata or {}).get(REFERENCE_KEY) or {}).get("label")


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


def unit_ranges(units, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Each of ``spans`` as the unit-index range ``(first, last + 1)`` of the ``units`` it
    overlaps (spans are contiguous, so are their units); distinct and sorted, spans that overlap
    no unit left out. The reference spans of span-level metrics (``plausibility_iou_f1``)."""
    out = set()
    for s, e in spans:
        hit = [i for i, u in enumerate(units) if u.start < e and s < u.end]
        if hit:
            out.add((hit[0], hit[-1] + 1))
    return sorted(out)


def reference_key(examples: Sequence[Example]) -> list:
    """What the reference-based metric values of a chunk depend on beyond its ids and texts (for
    cache keys): every example's reference."""
    return [reference_of(e) for e in examples]
