"""``SentenceExplainer``: the base of explainers whose explanation is a sentence.

A sentence explainer writes one sentence per text ("Predicted negative, mainly because of “died”
and “awful”.") and returns the usual ``Attribution``: the scores are the units the sentence cites,
ranked by order of mention (``xaibench.core.citations.cite``; uncited units score 0), so every
attribution metric applies to it, and the sentence-specific metrics (family ``natural_language``)
read the sentence itself from ``metadata["explanation"]``. ``metadata`` also keeps
``cited_pieces`` (what the sentence quotes or names, in order) and ``cited_units`` (the indices of
the units they match).

Subclasses implement ``sentences(model, batch, labels)``: one sentence per text of the batch, where
``labels[i]`` names the explained output (the target class's label, e.g. "negative"; for a
regression model the predicted value, e.g. "rating 2.31").
"""
from __future__ import annotations

import abc

import numpy as np

from xaibench.core.citations import citation_scores, cite, cited_units
from xaibench.explainers.base import ExplainBatch, Explainer


class SentenceExplainer(Explainer, abc.ABC):
    """Base of the ``natural_language`` explainers (see the module docstring)."""

    family = "natural_language"

    @abc.abstractmethod
    def sentences(self, model, batch: ExplainBatch, labels: list[str]) -> list[str]:
        """One explanation sentence per text of ``batch`` (model calls batched across texts)."""

    def _attribute(self, model, batch: ExplainBatch) -> list[np.ndarray]:
        labels = explained_labels(model, batch)
        sentences = self.sentences(model, batch, labels)
        if len(sentences) != len(batch):
            raise RuntimeError(f"explainer {self.name!r} returned {len(sentences)} sentences for {len(batch)} texts")
        out = []
        for i, (text, units, sentence) in enumerate(zip(batch.texts, batch.units, sentences)):
            if not isinstance(sentence, str):
                raise TypeError(f"explainer {self.name!r}: the sentence for text {i} ({text[:40]!r}) is a "
                                f"{type(sentence).__name__}, not a str")
            citations = cite(sentence, text, units)
            batch.metadata[i].update(explanation=sentence, cited_pieces=[c.piece for c in citations],
                                     cited_units=cited_units(citations))
            out.append(citation_scores(citations, len(units)))
        return out


def explained_labels(model, batch: ExplainBatch) -> list[str]:
    """What each text's explanation is about: the label of its target class (``model.labels``), or
    for a regression model "<quantity> <predicted value>" (e.g. "rating 2.31"; one batched forward,
    served from the shared table inside a benchmark run)."""
    labels = list(getattr(model, "labels", []) or [])
    if model.task_type == "regression":
        values = np.asarray(model.logits(batch.texts), dtype=float)[:, 0]
        name = labels[0] if labels else "value"
        return [f"{name} {v:.2f}" for v in values]
    return [labels[t] if 0 <= t < len(labels) else str(t) for t in (int(t) for t in batch.targets)]
