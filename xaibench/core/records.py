"""Frozen records that flow between the five rooms: data -> model -> explainers -> metrics -> results."""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Unit:
    """One explained unit: a word (space-separated scripts) or a character (CJK).

    ``start``/``end`` are character offsets into the text, ``text[start:end] == unit.text``.
    """

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Example:
    """One dataset row. ``id`` is stable across runs and splits.

    The human rationale (empty when the dataset has none) comes in two forms, which add up:
    ``rationale`` lists evidence *pieces*, substrings of ``text`` that mark every occurrence of
    the piece that starts and ends at unit boundaries (``"not"`` marks the word "not", never the
    inside of "nothing"); ``rationale_spans`` lists exact character spans ``[start, end)``
    (0-based code-point offsets, end exclusive, aligned with unit boundaries) when one occurrence
    is meant. ``xaibench.core.references.reference_of`` resolves both, and raises ValueError for a
    piece or span that is not a whole sequence of units. ``cause_spans`` are the character spans
    ``[start, end)`` of a known cause of the label (the planted token of the ``planted-*`` tasks:
    ground truth the model is verified to use); empty when unknown."""

    id: str
    text: str
    label: Any
    rationale: tuple[str, ...] = ()
    cause_spans: tuple[tuple[int, int], ...] = ()
    rationale_spans: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, eq=False)
class Attribution:
    """One explanation of one text.

    ``scores[i]`` is the importance of ``units[i]``; a positive score supports the explained output
    (the target-class probability by default), a negative score opposes it. Sub-token scores are
    summed into their unit.

    ``cost`` holds ``n_forward`` and ``n_backward`` (examples passed through the model),
    ``seconds`` (wall time) and ``peak_mem_bytes``. ``explainer`` is ``{"name": ..., **params}`` so
    metrics that re-explain (stability, sanity) can rebuild the same explainer.
    ``metadata`` carries method-specific extras (e.g. IG's convergence delta).
    """

    text: str
    units: list[str]
    scores: np.ndarray
    target: int
    cost: dict
    explainer: dict
    spans: tuple[tuple[int, int], ...] = ()
    output: str = "prob"
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.units) != len(self.scores):
            raise ValueError(
                f"attribution has {len(self.scores)} scores for {len(self.units)} units of {self.text!r}"
            )

    def to_dict(self) -> dict:
        """Plain JSON-ready data (lists, floats, str keys): what caches and result files store."""
        return {"text": self.text, "units": list(self.units), "scores": [float(s) for s in self.scores],
                "target": int(self.target), "cost": dict(self.cost), "explainer": dict(self.explainer),
                "spans": [list(s) for s in self.spans], "output": self.output, "metadata": _plain(self.metadata)}

    @classmethod
    def from_dict(cls, d: dict) -> "Attribution":
        """The inverse of ``to_dict`` (``spans``, ``output`` and ``metadata`` optional)."""
        return cls(text=d["text"], units=list(d["units"]), scores=np.asarray(d["scores"], dtype=float),
                   target=int(d["target"]), cost=dict(d["cost"]), explainer=dict(d["explainer"]),
                   spans=tuple(tuple(s) for s in d.get("spans", [])), output=d.get("output", "prob"),
                   metadata=dict(d.get("metadata", {})))

    def ranking(self) -> np.ndarray:
        """Unit indices ordered by score descending, ties broken by position (earlier first)."""
        # np.lexsort sorts by the last key first: -score, then position.
        return np.lexsort((np.arange(len(self.scores)), -np.asarray(self.scores, dtype=float)))

    def _repr_html_(self) -> str:
        """Jupyter: the text highlighted by score, with a legend (``xaibench.report.highlight``)."""
        return _highlight().attribution_html(self, legend=True)


class Attributions(list):
    """A plain ``list`` of ``Attribution`` (what ``Explainer.explain`` returns) that Jupyter shows
    as highlighted texts on ONE colour scale (the largest ``|score|`` of all), with a legend."""

    def _repr_html_(self) -> str:
        return _highlight().attributions_html([a for a in self if isinstance(a, Attribution)])


def _highlight():
    """The display module, found by name at call time (as the registries find components): core
    stays free of report imports, and importing core never loads the report layer."""
    return importlib.import_module("xaibench.report.highlight")


def _plain(obj):
    """``obj`` with numpy arrays and scalars, tuples and non-str keys turned into JSON types."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj
