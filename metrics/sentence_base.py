"""What the ``natural_language`` metrics share: the sentence of an attribution, and the shuffled
control.

These metrics score *sentence* explanations (``explainers/_sentence.py``: ``nl_template``,
``nl_generator``, ``nl_callable``, ``nl_endpoint``): they read the sentence from
``metadata["explanation"]`` and which units it cites with ``xaibench.core.citations.cite``, never
the attribution's own bookkeeping, so an explainer cannot flatter itself.

**Shuffled-explanation control** (the reference of every metric here, the row "(shuffled
explanation)" of the tables, as "(random ordering)" is for the removal metrics): within the chunk
of attributions scored together (one explainer's, 16 texts in a benchmark run), each text is given
another text's sentence by a seeded derangement (no text keeps its own), and the metric is computed
for that sentence on this text; the reference is the mean over ``n_shuffled`` derangements. A
sentence that says something specific about its own text beats it; one that fits any text (or
cites nothing) scores at its level.
"""
from __future__ import annotations

from typing import Callable, ClassVar, Sequence

import numpy as np

from xaibench.core.seeding import stable_hash
from xaibench.metrics.base import ExampleScore, Metric, MetricResult

NOT_A_SENTENCE = "not a sentence explanation (no metadata['explanation'])"
NO_PARTNER = "no other text in the chunk to shuffle with"


def sentence_of(attribution) -> str | None:
    """The explanation sentence of a sentence attribution, else None."""
    sentence = (attribution.metadata or {}).get("explanation")
    return sentence if isinstance(sentence, str) else None


def shuffled_partners(texts: Sequence[str], n_shuffled: int, seed: int) -> list[np.ndarray]:
    """``n_shuffled`` derangements of ``range(len(texts))`` (``partners[r][i] != i``), seeded by
    (seed, round, the texts); none for fewer than two texts."""
    n = len(texts)
    if n < 2:
        return []
    out = []
    for r in range(n_shuffled):
        rng = np.random.default_rng(stable_hash("shuffled-explanation", seed, r, *texts))
        while True:  # a random permutation is a derangement with probability ~1/e
            perm = rng.permutation(n)
            if not np.any(perm == np.arange(n)):
                break
        out.append(perm)
    return out


class SentenceMetric(Metric):
    """Base of the ``natural_language`` metrics (module docstring).

    Parameters: ``n_shuffled`` derangements averaged for the shuffled control (default 3; 0
    disables it), ``seed`` (default 0).
    """

    family: ClassVar[str] = "natural_language"
    explainer_family: ClassVar[str | None] = "natural_language"
    reference_label: ClassVar[str] = "shuffled explanation"
    reference_param: ClassVar[str | None] = "n_shuffled"

    def __init__(self, n_shuffled: int = 3, seed: int = 0) -> None:
        if isinstance(n_shuffled, bool) or not isinstance(n_shuffled, (int, np.integer)) or n_shuffled < 0:
            raise ValueError(f"n_shuffled must be an integer >= 0, got {n_shuffled!r}")
        self.n_shuffled = int(n_shuffled)
        self.seed = seed

    def partners(self, attributions: Sequence) -> list[np.ndarray]:
        """The derangements of this chunk, over the attributions that have a sentence."""
        return shuffled_partners([a.text for a in attributions], self.n_shuffled, self.seed)

    def partner_sentences(self, attributions: Sequence, partners: list[np.ndarray], i: int) -> list[str]:
        """The sentences attribution ``i`` is given by the shuffled control (sentence-less
        partners skipped)."""
        out = []
        for perm in partners:
            s = sentence_of(attributions[int(perm[i])])
            if s is not None:
                out.append(s)
        return out

    def per_sentence(self, attributions: Sequence, value: Callable[[int, str], float],
                     note: Callable[[int, str, float], str | None] = lambda i, s, v: None,
                     details: Callable[[int, str], dict | None] = lambda i, s: None) -> MetricResult:
        """A result from ``value(i, sentence)`` of each attribution's own sentence, with the
        shuffled control's mean of ``value(i, partner sentence)``; NaN for attributions without a
        sentence. ``note`` / ``details``: per example extras."""
        attributions = list(attributions)
        partners = self.partners(attributions)
        scores = []
        for i, a in enumerate(attributions):
            sentence = sentence_of(a)
            if sentence is None:
                scores.append(ExampleScore.undefined(NOT_A_SENTENCE, with_reference=self.n_shuffled > 0))
                continue
            v = value(i, sentence)
            reference = self.reference_of([value(i, s) for s in self.partner_sentences(attributions, partners, i)])
            scores.append(ExampleScore(v, reference, note=note(i, sentence, v), details=details(i, sentence)))
        return MetricResult.from_scores(self, scores)

    def reference_of(self, values: Sequence[float]) -> float | None:
        """The control's value: mean of the finite ``values`` (NaN if none), None when disabled."""
        if not self.n_shuffled:
            return None
        finite = [v for v in values if np.isfinite(v)]
        return float(np.mean(finite)) if finite else float("nan")
