"""``Classifier``: one wrapper around any Hugging Face sequence classifier (or regressor).

It owns the three things every explainer and metric must agree on:
- the unit split (``units``) and the token -> unit map (``token_units``);
- the batched engine (``logits``, ``predict_proba``), with pass counters ``n_forward``/``n_backward``
  and, inside ``sharing()``, the counters of work reused instead of run (``n_forward_reused``...);
- *the explained output* f(x): for classification the target-class probability (``"prob"``, default)
  or logit (``"logit"``); for regression the prediction divided by the training-target standard
  deviation (``"value"``: ŷ/σ). Explainers and metrics call ``explained_output`` /
  ``output_from_logits``; none of them applies a softmax of its own.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Sequence

import numpy as np
import torch

from . import engine
from .records import Unit
from .units import split_units

OUTPUTS = ("prob", "logit", "value")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``"auto"``/None picks CUDA when present; an explicit ``"cuda"`` without a GPU is an error."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' was requested but no CUDA GPU is available; use device='cpu'")
    return device


class Classifier:
    """A Hugging Face ``AutoModelForSequenceClassification`` plus its tokenizer.

    Parameters
    ----------
    hf_model, tokenizer: the model (put in eval mode) and a *fast* tokenizer (offsets are needed to
        map sub-tokens onto units).
    name: display name used in tables (built-in name, hub id or folder).
    device: ``"cpu"``, ``"cuda"``, ``"auto"``.
    max_length: token limit; longer texts are truncated (units past it get no tokens).
    token_budget: max ``batch_size x padded_length`` per forward batch (memory stays flat). The
        default, 2048, was the fastest of 256...8192 for both built-in models on 2 CPU cores (256
        test texts: MiniLM 1.67 s at 2048 vs 3.25 s at 8192; char-BERT 0.70 s vs 1.01 s): larger
        batches fall out of the CPU caches. On a GPU a larger budget is usually faster.
    max_batch: cap on texts per batch.
    target_std: σ of the training targets for regression models (f(x) = ŷ/σ); 1.0 if unknown.
    """

    def __init__(
        self,
        hf_model,
        tokenizer,
        *,
        name: str = "model",
        device: str | torch.device | None = "cpu",
        max_length: int | None = None,
        token_budget: int = 2048,
        max_batch: int = 256,
        target_std: float | None = None,
        info: dict | None = None,
    ) -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError(
                f"model {name!r}: a fast tokenizer (with offset mapping) is required to map sub-tokens to units"
            )
        self.name = name
        self.device = resolve_device(device)
        self.hf_model = hf_model.to(self.device).eval()
        self.tokenizer = tokenizer
        config = hf_model.config
        limit = getattr(config, "max_position_embeddings", None) or 512
        self.max_length = int(min(max_length or limit, limit, tokenizer.model_max_length or limit))
        self.token_budget = int(token_budget)
        self.max_batch = int(max_batch)
        self.n_outputs = int(config.num_labels)
        regression = config.problem_type == "regression" or self.n_outputs == 1
        self.task_type = "regression" if regression else "classification"
        if target_std is None:
            target_std = getattr(config, "xaibench_target_std", None) or 1.0
        self.target_std = float(target_std)
        id2label = getattr(config, "id2label", None) or {}
        self.labels = [str(id2label.get(i, id2label.get(str(i), f"LABEL_{i}"))) for i in range(self.n_outputs)]
        self.info = dict(info or {})
        pad = tokenizer.pad_token_id
        self.pad_token_id = int(pad if pad is not None else 0)
        self.n_forward = 0
        self.n_backward = 0
        # Work served from an active shared table (``sharing``) instead of being run again, and the
        # seconds it took when it was first computed (``xaibench.sharing``).
        self.n_forward_reused = 0
        self.n_backward_reused = 0
        self.seconds_reused = 0.0
        self.shared = None
        self._unit_cache: dict[str, list[Unit]] = {}

    # ---- units -------------------------------------------------------------------------------
    @property
    def default_output(self) -> str:
        return "value" if self.task_type == "regression" else "prob"

    def units(self, text: str) -> list[Unit]:
        """The units scores refer to: words (space-separated scripts), characters (CJK); see
        ``xaibench.units``."""
        cached = self._unit_cache.get(text)
        if cached is None:
            cached = split_units(text)
            if len(self._unit_cache) > 100_000:
                self._unit_cache.clear()
            self._unit_cache[text] = cached
        return cached

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids with special tokens, truncated to ``max_length``, unpadded."""
        enc = self.tokenizer(list(texts), truncation=True, max_length=self.max_length, add_special_tokens=True)
        return enc["input_ids"]

    def encode(self, texts: Sequence[str]) -> tuple[list[list[int]], list[np.ndarray]]:
        """Token ids and, per text, the unit index of every token (-1: special token / no unit)."""
        texts = list(texts)
        enc = self.tokenizer(
            texts, truncation=True, max_length=self.max_length, add_special_tokens=True,
            return_offsets_mapping=True,
        )
        maps = []
        for text, offsets, ids in zip(texts, enc["offset_mapping"], enc["input_ids"]):
            maps.append(self._token_unit_map(text, offsets, ids))
        return enc["input_ids"], maps

    def token_units(self, text: str) -> np.ndarray:
        """For each token of ``text`` (with special tokens), its unit index or -1."""
        return self.encode([text])[1][0]

    def _token_unit_map(self, text: str, offsets, ids) -> np.ndarray:
        char_unit = np.full(len(text) + 1, -1, dtype=int)
        for j, u in enumerate(self.units(text)):
            char_unit[u.start:u.end] = j
        special = set(self.tokenizer.all_special_ids)
        out = np.full(len(ids), -1, dtype=int)
        for t, ((s, e), tok) in enumerate(zip(offsets, ids)):
            if tok in special and tok != self.tokenizer.unk_token_id or e <= s:
                continue
            # A sub-token belongs to the first unit its characters overlap (SentencePiece offsets
            # can include the preceding space, so look at the whole span, not just its start).
            hits = char_unit[s:e]
            hits = hits[hits >= 0]
            if hits.size:
                out[t] = hits[0]
        return out

    # ---- outputs ------------------------------------------------------------------------------
    def logits(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Raw model outputs ``[n, n_outputs]`` through the batched engine."""
        return engine.forward_logits(self, texts, progress=progress)

    def predict_proba(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Class probabilities ``[n, n_classes]``: batched, length-sorted, ``inference_mode``."""
        if self.task_type != "classification":
            raise TypeError(f"model {self.name!r} is a regression model; use predict() or explained_output()")
        return _softmax(self.logits(texts, progress=progress))

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """Predicted class index (classification) or predicted value ŷ (regression)."""
        logits = self.logits(texts)
        if self.task_type == "regression":
            return logits[:, 0]
        return logits.argmax(axis=1)

    def check_output(self, output: str | None) -> str:
        output = output or self.default_output
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        if (output == "value") != (self.task_type == "regression"):
            raise ValueError(f"output={output!r} does not apply to {self.task_type} model {self.name!r}")
        return output

    def output_from_logits(self, logits, targets, output: str | None = None):
        """f(x) from logits, for numpy arrays or torch tensors (gradients flow through).

        ``prob``: softmax probability of ``targets``; ``logit``: the target logit;
        ``value``: ŷ/σ (regression; targets ignored).
        """
        output = self.check_output(output)
        is_torch = isinstance(logits, torch.Tensor)
        if output == "value":
            return logits[:, 0] / self.target_std
        if is_torch:
            idx = torch.as_tensor(targets, device=logits.device, dtype=torch.long).reshape(-1, 1)
            picked = logits.softmax(-1) if output == "prob" else logits
            return picked.gather(1, idx).squeeze(1)
        picked = _softmax(logits) if output == "prob" else logits
        return picked[np.arange(len(picked)), np.asarray(targets, dtype=int)]

    def explained_output(self, texts: Sequence[str], targets, output: str | None = None) -> np.ndarray:
        """f(x) for each text (see ``output_from_logits``)."""
        return self.output_from_logits(self.logits(texts), targets, output)

    def predicted_targets(self, texts: Sequence[str]) -> np.ndarray:
        """Default explanation targets: the predicted class (0 for regression)."""
        if self.task_type == "regression":
            return np.zeros(len(texts), dtype=int)
        return self.logits(texts).argmax(axis=1)

    def reset_counters(self) -> None:
        self.n_forward = 0
        self.n_backward = 0
        self.n_forward_reused = 0
        self.n_backward_reused = 0
        self.seconds_reused = 0.0

    @contextmanager
    def sharing(self, shared=None):
        """While active, the engine reuses model outputs and gradients across explainers and
        metrics (``xaibench.sharing.SharedComputations``; a new open table when ``shared`` is None).

        >>> with model.sharing() as shared:
        ...     attrs = xb.get_explainer("occlusion").explain(model, texts)
        ...     values = xb.get_metric("loo_correlation").score(model, attrs)   # reuses occlusion's passes
        """
        from .sharing import SharedComputations

        shared = SharedComputations(grow=True) if shared is None else shared
        previous, self.shared = self.shared, shared
        try:
            yield shared
        finally:
            self.shared = previous

    def __repr__(self) -> str:
        return f"Classifier({self.name!r}, {self.task_type}, labels={self.labels}, device={self.device})"


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
