"""The verbalizer: any attribution explainer's top units turned into a sentence (English or Chinese)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from xaibench.core import registry
from xaibench.core.class_names import class_phrase, language_of
from xaibench.core.records import Unit
from xaibench.explainers._sentence import SentenceExplainer
from xaibench.explainers.base import ExplainBatch

LANGUAGES = ("auto", "en", "zh")


@registry.explainers.register
class TemplateVerbalizer(SentenceExplainer):
    """A sentence from a template over the top-k units of another explainer (``source``).

    The source explains the text (same target, seed and ``output``); its k highest-scoring units
    with a score > 0 (units that support the explained output) are quoted, adjacent ones as one
    piece ("not good"), pieces in the order of their best rank:

    - English: ``Predicted negative, mainly because of “died” and “awful”.``
    - Chinese: ``模型判断为差评，主要因为“差”和“失望”。`` (class names as review phrases:
      差评 / 好评 / 中评; ``xaibench.core.class_names``)
    - no unit supports the output: ``Predicted negative; no single word stands out.`` /
      ``模型判断为差评，没有特别突出的字词。``
    - regression models state the prediction: ``Predicted rating 2.31, mainly because of …``.

    The scores of the attribution are then read back from the sentence like any other sentence
    explanation (``xaibench.core.citations``): so they are the quoted units, every occurrence of
    each, ranked by mention, not the source's scores.

    Parameters: ``source`` (default ``"occlusion"``: a faithful, deterministic teacher; any
    registered explainer that is not itself a sentence explainer), ``k`` (units quoted at most,
    default 3), ``source_params`` (the source's parameters; default its constructor defaults),
    ``language`` (``"auto"``: Chinese for a text with a Han character, else English), ``seed``,
    ``output`` (passed to the source). Cost: the source's, plus nothing (templates are free).
    """

    name = "nl_template"
    order = 40
    profiles = ("quick", "full")

    def __init__(self, *, source: str = "occlusion", k: int = 3, source_params: dict | None = None,
                 language: str = "auto", seed: int = 0, output: str | None = None) -> None:
        super().__init__(seed=seed, output=output)
        self.source = source
        self.k = k
        self.source_params = source_params
        self.language = language
        # As deterministic as its source (the class fact is the default source's, occlusion's).
        try:
            self.deterministic = bool(getattr(registry.explainers.spec(source), "deterministic", True))
        except (KeyError, ValueError, TypeError):  # an unknown source: check_params names it
            pass

    def check_params(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, (int, np.integer)) or self.k < 1:
            raise ValueError(f"k must be a positive integer (units quoted at most), got {self.k!r}")
        if self.language not in LANGUAGES:
            raise ValueError(f"language must be one of {LANGUAGES}, got {self.language!r}")
        if self.source_params is not None and not isinstance(self.source_params, dict):
            raise ValueError(f"source_params must be a dict of the source's parameters, got {self.source_params!r}")
        spec = registry.explainers.spec(self.source)  # an unknown name raises with the closest one
        if getattr(spec, "family", None) == "natural_language":
            raise ValueError(f"source must be an attribution explainer, not the sentence explainer {self.source!r}")
        self.source_explainer().check_params()

    def source_explainer(self):
        """The source explainer, built with this one's seed and output."""
        return registry.explainers.create(self.source, seed=self.seed, output=self.output,
                                          **(self.source_params or {}))

    def shared_inputs(self, model, text: str) -> tuple:
        return self.source_explainer().shared_inputs(model, text)

    def sentences(self, model, batch: ExplainBatch, labels: list[str]) -> list[str]:
        attributions = self.source_explainer().explain(model, batch.texts, targets=batch.targets)
        out = []
        for a, units, label in zip(attributions, batch.units, labels):
            language = language_of(a.text) if self.language == "auto" else self.language
            out.append(verbalize(a.text, units, a.scores, label, int(self.k), language))
        return out


def top_pieces(text: str, units: Sequence[Unit], scores, k: int) -> list[str]:
    """The quoted pieces of ``verbalize``: the top-k units with a positive score (score descending,
    ties by position), adjacent units joined as the text's span between them, pieces in the order
    of their best-ranked unit."""
    scores = np.asarray(scores, dtype=float)
    ranking = np.lexsort((np.arange(len(scores)), -scores))
    chosen = [int(i) for i in ranking[:k] if np.isfinite(scores[i]) and scores[i] > 0]
    rank_of = {i: r for r, i in enumerate(chosen)}
    runs: list[list[int]] = []
    for i in sorted(chosen):
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    runs.sort(key=lambda run: min(rank_of[i] for i in run))
    return [text[units[run[0]].start:units[run[-1]].end] for run in runs]


def verbalize(text: str, units: Sequence[Unit], scores, label: str, k: int, language: str) -> str:
    """The template sentence for one explanation (see ``TemplateVerbalizer``)."""
    pieces = top_pieces(text, units, scores, k)
    if language == "zh":
        head = f"模型判断为{class_phrase(label, 'zh')}"
        if not pieces:
            return f"{head}，没有特别突出的字词。"
        quoted = [f"“{p}”" for p in pieces]
        listed = quoted[0] if len(quoted) == 1 else "、".join(quoted[:-1]) + "和" + quoted[-1]
        return f"{head}，主要因为{listed}。"
    head = f"Predicted {class_phrase(label, 'en')}"
    if not pieces:
        return f"{head}; no single word stands out."
    quoted = [f"“{p}”" for p in pieces]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
    return f"{head}, mainly because of {listed}."
