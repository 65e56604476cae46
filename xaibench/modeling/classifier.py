"""``Classifier``: one wrapper around any Hugging Face sequence classifier (or regressor).

It owns the three things every explainer and metric must agree on:
- the unit split (``units``) and the token -> unit map (``token_units``);
- the batched engine (``logits``, ``predict_proba``), with pass counters ``n_forward``/``n_backward``
  and, inside ``sharing()``, the counters of work reused instead of run (``n_forward_reused``...):
  they are state here, and only the engine's passes add to them (``xaibench.modeling.engine``);
- *the explained output* f(x): for classification the target-class probability (``"prob"``, default)
  or logit (``"logit"``); for regression the prediction divided by the training-target standard
  deviation (``"value"``: ŷ/σ). Explainers and metrics call ``explained_output`` /
  ``output_from_logits``; none of them applies a softmax of its own.
"""
from __future__ import annotations

from collections import OrderedDict
from contextlib import contextmanager
from typing import Sequence

import numpy as np
import torch

from xaibench.core.records import Unit
from xaibench.core.units import split_units
from xaibench.modeling import edits, engine, last_layer

POOLINGS = ("first", "last")
#: Texts whose removal edits a model keeps (``Classifier.edits``).
EDITS_KEPT = 512
OUTPUTS = ("prob", "logit", "value")
#: Weight precisions a model can run in (``dtype``).
DTYPES = ("float32", "bfloat16", "float16")


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
    dtype: ``"float32"`` (default), ``"bfloat16"`` or ``"float16"``: the weights are cast to it
        (in place, like the move to ``device``; with float32 only 16-bit weights are cast up, float64
        ones stay); logits still come back as float64. float16 is refused on the CPU; bfloat16 there
        warns (usually slower without AMX/AVX512-BF16 units, and the numbers change).
    compile: ``torch.compile(hf_model, dynamic=True)`` for the engine's inference passes only
        (``forward_module``); compiled lazily on the first batch. Warns on the CPU (MiniLM: ~1 min
        to compile, 1.07x measured on 2 cores).
    pooling: which token the classification head reads: ``"first"`` ([CLS]/<s>: BERT-family
        encoders) or ``"last"`` (the last non-pad token: decoder classifiers such as
        ``GPT2ForSequenceClassification``, Llama, Qwen, Mistral, whose head is ``score``). Default:
        ``"last"`` for a model with a ``score`` head and no ``classifier``, else ``"first"``. The
        attention explainers read the attention of that token. A decoder without a pad token gets
        its EOS token as pad (in the tokenizer and in ``config.pad_token_id``, which its pooling
        needs to find the last real token); the engine pads on the right, so positions count from
        each text's first token whatever the tokenizer's ``padding_side``.
    last_layer_shortcut: compute only the first token in the last encoder layer of BERT-family
        classifiers, for inference and gradient passes (``xaibench.modeling.last_layer``: same logits to float32
        rounding; MiniLM 1.28x, char-BERT 1.51x faster on 2 CPU cores). Installed only where a probe
        reproduces the full forward; ``info["last_layer_shortcut"]`` says whether it is on.
    Non-default ``dtype``/``compile`` are appended to ``info["fingerprint"]`` (``|dtype=bfloat16``,
    ``|compile``) so cached results of different settings never mix; defaults leave it unchanged.
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
        dtype: str = "float32",
        compile: bool = False,
        last_layer_shortcut: bool = True,
        pooling: str | None = None,
    ) -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError(
                f"model {name!r}: a fast tokenizer (with offset mapping) is required to map sub-tokens to units"
            )
        self.name = name
        self.device = resolve_device(device)
        self.dtype = self._check_dtype(dtype)
        cast_to = self._cast_target(hf_model)
        self.hf_model = (hf_model.to(self.device) if cast_to is None else hf_model.to(self.device, cast_to)).eval()
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
        self.compile = bool(compile)
        self._compiled = self._compile_forward() if self.compile else None
        self._tag_fingerprint(cast=cast_to is not None)
        self.pooling = self._check_pooling(pooling, hf_model)
        pad = _ensure_pad_token(hf_model, tokenizer)
        self.pad_token_id = int(pad if pad is not None else 0)
        self.n_forward = 0
        self.n_backward = 0
        # Work served from an active shared table (``sharing``) instead of being run again, and the
        # seconds it took when it was first computed (``xaibench.modeling.sharing``).
        self.n_forward_reused = 0
        self.n_backward_reused = 0
        self.seconds_reused = 0.0
        self.shared = None
        self._unit_cache: dict[str, list[Unit]] = {}
        self._last_layer_state = None
        # Installed after padding and length are known (its probe uses them), before any compiled call.
        self.info["last_layer_shortcut"] = bool(last_layer_shortcut) and last_layer.install(self)
        # Removal edits as token ids where they equal the re-tokenized text (``modeling.edits``).
        self._edits_cache: OrderedDict = OrderedDict()
        self.token_edits = False
        self.token_edits = edits.probe(self)
        self.info["token_edits"] = self.token_edits

    def _check_pooling(self, pooling, hf_model) -> str:
        if pooling is None:
            is_decoder_head = hasattr(hf_model, "score") and not hasattr(hf_model, "classifier")
            return "last" if is_decoder_head else "first"
        if pooling not in POOLINGS:
            raise ValueError(f"model {self.name!r}: pooling must be one of {POOLINGS}; got {pooling!r}")
        return pooling

    def pooled_positions(self, attention_mask: torch.Tensor) -> torch.Tensor:
        """Per row of a right-padded batch, the index of the token the head reads: 0 (``first``)
        or the last real token (``last``)."""
        if self.pooling == "first":
            return torch.zeros(attention_mask.shape[0], dtype=torch.long, device=attention_mask.device)
        return attention_mask.long().sum(dim=1) - 1

    # ---- precision and compilation ---------------------------------------------------------------
    def _check_dtype(self, dtype) -> str:
        """``dtype`` as a name of ``DTYPES``; float16 on the CPU raises, bfloat16 warns."""
        import warnings

        name = str(dtype).removeprefix("torch.").strip().lower()
        if name not in DTYPES:
            raise ValueError(f"model {self.name!r}: dtype must be one of {', '.join(DTYPES)}; got {dtype!r}")
        if self.device.type == "cpu" and name == "float16":
            raise ValueError(f"model {self.name!r}: dtype='float16' is not supported on the CPU (half-precision "
                             "CPU kernels are missing or slow); use 'bfloat16' or 'float32', or a CUDA device")
        if self.device.type == "cpu" and name == "bfloat16":
            warnings.warn(f"model {self.name!r}: bfloat16 on the CPU is usually slower than float32 without "
                          "bf16 units (AMX/AVX512-BF16), and it changes the numbers", UserWarning, stacklevel=3)
        return name

    def _cast_target(self, hf_model) -> torch.dtype | None:
        """The dtype to cast ``hf_model``'s floating weights to, None to keep them. float32 (default)
        only casts 16-bit weights up (a hub model stored in bf16); float32 and float64 weights (the
        exact test models) stay as they are, so default runs compute as before."""
        if self.dtype != "float32":
            return getattr(torch, self.dtype)
        stored = next((t.dtype for t in (*hf_model.parameters(), *hf_model.buffers()) if t.is_floating_point()),
                      None)
        return torch.float32 if stored in (torch.float16, torch.bfloat16) else None

    def _compile_forward(self):
        """``torch.compile`` of ``hf_model`` (lazy: the first forward call compiles)."""
        import warnings

        if self.device.type == "cpu":
            warnings.warn(f"model {self.name!r}: torch.compile on the CPU takes about a minute on first use for "
                          "MiniLM and was measured at only 1.07x faster on 2 CPU cores", UserWarning, stacklevel=3)
        return torch.compile(self.hf_model, dynamic=True)

    def _tag_fingerprint(self, cast: bool) -> None:
        """Append the non-default settings to ``info["fingerprint"]`` (result-cache keys): the dtype when
        it is not float32 or when 16-bit weights were cast up to it, and ``|compile``. A previous tag (a
        copy built from this model's info) is replaced, not stacked."""
        import re

        tag = (f"|dtype={self.dtype}" if self.dtype != "float32" or cast else "") + ("|compile" if self.compile else "")
        base = self.info.get("fingerprint")
        if base is not None:
            base = re.sub(r"(\|dtype=\w+)?(\|compile)?$", "", str(base))
        if tag:
            self.info["fingerprint"] = f"{base or self.name}{tag}"
        elif base is not None:
            self.info["fingerprint"] = base
        self.info["dtype"], self.info["compile"] = self.dtype, self.compile

    @property
    def forward_module(self):
        """The module the engine's inference passes call: the compiled ``hf_model`` when
        ``compile=True``, else ``hf_model`` itself. The engine's gradient and attention passes
        (``xaibench.modeling.gradients``, ``xaibench.modeling.attention``) always use the eager
        ``hf_model``: hooks and autograd through a compiled module are fragile."""
        return self._compiled if self._compiled is not None else self.hf_model

    # ---- units -------------------------------------------------------------------------------
    @property
    def default_output(self) -> str:
        return "value" if self.task_type == "regression" else "prob"

    def units(self, text: str) -> list[Unit]:
        """The units scores refer to: words (space-separated scripts), characters (CJK); see
        ``xaibench.core.units``."""
        cached = self._unit_cache.get(text)
        if cached is None:
            cached = split_units(text)
            if len(self._unit_cache) > 100_000:
                self._unit_cache.clear()
            self._unit_cache[text] = cached
        return cached

    def edits(self, text: str) -> "edits.UnitEdits":
        """The removal edits of ``text`` (``xaibench.modeling.edits.UnitEdits``: token ids where
        exact, else edited texts); the last few hundred texts are kept."""
        hit = self._edits_cache.get(text)
        if hit is None:
            hit = self._edits_cache[text] = edits.UnitEdits(self, text, self.units(text))
            if len(self._edits_cache) > EDITS_KEPT:
                self._edits_cache.popitem(last=False)
        else:
            self._edits_cache.move_to_end(text)
        return hit

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
        metrics (``xaibench.modeling.sharing.SharedComputations``; a new open table when ``shared`` is None).

        >>> with model.sharing() as shared:
        ...     attrs = xb.get_explainer("occlusion").explain(model, texts)
        ...     values = xb.get_metric("loo_correlation").score(model, attrs)   # reuses occlusion's passes
        """
        from xaibench.modeling.sharing import SharedComputations

        shared = SharedComputations(grow=True) if shared is None else shared
        previous, self.shared = self.shared, shared
        try:
            yield shared
        finally:
            self.shared = previous

    @contextmanager
    def not_sharing(self):
        """While active, nothing is served from a shared table: every pass runs. For callers that
        change what the model computes for the same token ids (a hook adding noise to the
        embeddings), where a stored output or gradient would be the wrong answer."""
        previous, self.shared = self.shared, None
        try:
            yield
        finally:
            self.shared = previous

    def __repr__(self) -> str:
        return f"Classifier({self.name!r}, {self.task_type}, labels={self.labels}, device={self.device})"


def _ensure_pad_token(hf_model, tokenizer) -> int | None:
    """The pad token id, after giving a tokenizer without one its EOS token (decoder models such as
    GPT-2 ship none) and the model's config the same id: a decoder classifier finds each row's last
    real token by comparing the ids with ``config.pad_token_id``, and refuses batches without it."""
    pad = tokenizer.pad_token_id
    if pad is None and tokenizer.eos_token_id is not None:
        tokenizer.pad_token = tokenizer.eos_token
        pad = tokenizer.pad_token_id
    config = hf_model.config
    if pad is not None and getattr(config, "pad_token_id", None) is None:
        config.pad_token_id = int(pad)
    return pad


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
