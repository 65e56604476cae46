"""The learned sentence generator: a small GPT-2, trained offline to explain one classifier."""
from __future__ import annotations

import os
import threading

from xaibench.core import registry
from xaibench.explainers._sentence import SentenceExplainer
from xaibench.explainers.base import ExplainBatch

#: Loaded generators of this process: folder -> SentenceGenerator (loading takes a second).
_LOADED: dict = {}
_LOCK = threading.Lock()


@registry.explainers.register
class LearnedGenerator(SentenceExplainer):
    """Sentences written by a generator trained to imitate a faithful teacher on one classifier.

    The built-in generators (``nlgen-reviews-en`` for ``minilm-reviews-en``, ``nlgen-reviews-zh`` for
    ``charbert-reviews-zh``; ``xaibench.zoo.generators``) are small GPT-2 models trained from
    scratch on (review, explanation) pairs whose targets are the verbalized occlusion explanations
    (``nl_template``) of the classifier on its train split; they read the review, the predicted
    class and the classifier's last-layer state of every unit, and write a sentence in the
    template's style (``xaibench.modeling.generator``). The scores are the units the sentence
    cites, ranked by mention (``xaibench.core.citations``). Such a generator can cite words the
    classifier did not use, or words absent from the review: what the ``natural_language``
    metrics measure. Its model card (``xaibench prepare``) records its held-out agreement with the
    teacher.

    Parameters: ``generator``: a built-in generator name or the folder of a saved generator
    (default: the built-in generator trained for the explained model, also for a randomized copy
    of it in the sanity check; other models have none, and a benchmark run records such a cell as
    not run); ``max_new_tokens`` (default 40); ``seed``
    (unused: decoding is greedy and deterministic); ``output`` (unused by the generator, recorded
    on the attribution). Cost: one classifier pass for the prediction, one for the unit states
    (conditioned generators), and a greedy decode of at most ``max_new_tokens`` steps per
    length-sorted batch.
    """

    name = "nl_generator"
    order = 41
    profiles = ("quick", "full")

    def __init__(self, *, generator: str | None = None, max_new_tokens: int = 40, seed: int = 0,
                 output: str | None = None) -> None:
        super().__init__(seed=seed, output=output)
        self.generator = generator
        self.max_new_tokens = max_new_tokens

    def check_params(self) -> None:
        if isinstance(self.max_new_tokens, bool) or not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be a positive integer, got {self.max_new_tokens!r}")
        if self.generator is not None and not isinstance(self.generator, str):
            raise ValueError(f"generator must be a built-in generator name or a folder, got {self.generator!r}")
        if isinstance(self.generator, str) and not os.path.isdir(self.generator):
            registry.generators.factory(self.generator)  # an unknown name raises with the closest one

    def _generator_name(self, model) -> str | None:
        if self.generator is not None:
            return self.generator
        from xaibench.zoo.generators import generator_for

        # A randomized copy (the sanity check) is explained by its original's generator.
        info = getattr(model, "info", None) or {}
        return generator_for(info.get("randomized_from") or getattr(model, "name", None))

    def unavailable_for(self, model) -> str | None:
        if self._generator_name(model) is None:
            built = ", ".join(f"{n} (explains {registry.generators.spec(n).classifier})"
                              for n in registry.generators.names())
            return (f"no built-in sentence generator explains {getattr(model, 'name', model)!r}; built-in ones: "
                    f"{built}; pass generator=<name or folder>")
        return None

    def cache_identity(self, model) -> dict:
        name = self._generator_name(model)
        if name is None:
            return {}
        if os.path.isdir(name):
            from xaibench.modeling.loading import folder_fingerprint

            return {"generator_fingerprint": folder_fingerprint(name)}
        return {"generator_key": registry.generators.create(name).key}

    def load(self, model):
        """The ``SentenceGenerator`` this explainer uses for ``model`` (built on first use)."""
        name = self._generator_name(model)
        if name is None:
            raise ValueError(self.unavailable_for(model))
        from xaibench.modeling.generator import SentenceGenerator

        folder = name if os.path.isdir(name) else str(registry.generators.create(name).ensure_built())
        with _LOCK:
            if folder not in _LOADED:
                _LOADED[folder] = SentenceGenerator.from_folder(folder, device=str(model.device))
            return _LOADED[folder]

    def sentences(self, model, batch: ExplainBatch, labels: list[str]) -> list[str]:
        generator = self.load(model)
        return generator.generate(batch.texts, labels, classifier=model, max_new_tokens=self.max_new_tokens)
