"""Scores computed elsewhere (another library, a notebook, an API), read from a JSONL file."""
from __future__ import annotations

import os
import threading
from typing import Sequence

import numpy as np

from xaibench.core import registry
from xaibench.datasets.attribution_file import AttributionLine, file_fingerprint, read_attribution_file
from xaibench.explainers.base import ExplainBatch, Explainer

#: Files read in this process: (path, fingerprint) -> parsed file.
_READ: dict = {}
_LOCK = threading.Lock()


def lines_of(path: str) -> dict[str, dict[str, AttributionLine]]:
    key = (os.path.abspath(path), file_fingerprint(path))
    with _LOCK:
        if key not in _READ:
            _READ[key] = read_attribution_file(path)
        return _READ[key]


@registry.explainers.register
class AttributionsFile(Explainer):
    """The explanations of one explainer name in an attributions file (``--xb-attributions FILE``;
    format in ``datasets/attribution_file.py``): each text's scores as given, for the class the line
    names (default: the model's prediction). A text the file does not explain is an error for that
    example ("no attribution in FILE"), recorded like any failed example.

    Scores from a file cost nothing here (cost metrics say "computed elsewhere") and cannot be
    recomputed on other texts or models, so the metrics that re-explain (stability, sanity,
    contrast) say "not re-explainable"; every other metric scores them like built-in explanations.
    Not in default runs: ``--xb-attributions`` adds one such explainer per name in the file.

    Parameters: ``path`` (the file), ``explainer`` (the name within it), ``seed``, ``output``.
    """

    name = "attributions_file"
    order = 900
    family = "external"
    in_default_runs = False
    reexplainable = False
    external = True

    def __init__(self, *, path: str | None = None, explainer: str = "external", seed: int = 0,
                 output: str | None = None) -> None:
        super().__init__(seed=seed, output=output)
        self.path = path
        self.explainer = explainer

    def check_params(self) -> None:
        if not self.path:
            raise ValueError("attributions_file needs path= (a JSONL file of explanations)")
        if self.explainer not in lines_of(self.path):
            raise ValueError(f"{self.path} has no explainer {self.explainer!r} (it has: "
                             f"{', '.join(sorted(lines_of(self.path)))})")

    def cache_identity(self, model) -> dict:
        return {"file": file_fingerprint(self.path)} if self.path and os.path.isfile(self.path) else {}

    def explain(self, model, texts: Sequence[str], targets=None, progress: bool = False):
        """As ``Explainer.explain``; without ``targets`` each text's class is the file's ``target``
        (an index or class name) where it gives one, else the model's prediction."""
        texts = list(texts) if not isinstance(texts, str) else texts
        if targets is None and not isinstance(texts, str) and self.path:
            self.check_params()
            lines = lines_of(self.path)[self.explainer]
            given = [self._target(model, lines.get(t)) for t in texts]
            missing = [i for i, g in enumerate(given) if g is None]
            if missing:
                predicted = model.predicted_targets([texts[i] for i in missing])
                for i, p in zip(missing, predicted):
                    given[i] = int(p)
            targets = given
        return super().explain(model, texts, targets=targets, progress=progress)

    def _target(self, model, line: AttributionLine | None) -> int | None:
        if line is None or line.target is None:
            return None
        if isinstance(line.target, str):
            if line.target not in model.labels:
                raise ValueError(f"{self.path} line {line.line}: target {line.target!r} is not a class of model "
                                 f"{model.name!r} ({', '.join(model.labels)})")
            return model.labels.index(line.target)
        return int(line.target)

    def _attribute(self, model, batch: ExplainBatch) -> list[np.ndarray]:
        lines = lines_of(self.path)[self.explainer]
        out = []
        for i, text in enumerate(batch.texts):
            line = lines.get(text)
            if line is None:
                raise ValueError(f"no attribution in {self.path} for explainer {self.explainer!r} and text {text!r}")
            batch.metadata[i]["line"] = line.line
            out.append(np.asarray(line.scores, dtype=np.float64))
        return out
