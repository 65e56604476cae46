"""Computations shared across explainers and metrics: model outputs and gradients evaluated once.

Explainers and metrics of one benchmark run ask the model many identical questions: f(x) for the
target of every explainer, the random-ordering perturbations of every removal metric (the same for
every explainer), the leave-one-out texts of occlusion and ``loo_correlation``, identical gradients
for saliency and gradient×input, identical path gradients for the two Integrated Gradients variants.
A ``SharedComputations`` object, made active on a model with ``model.sharing(shared)``, lets the
engine answer those from a table instead of running the model again.

Two ways to fill it:

- **canonical** (``grow=False``, what the benchmark session does): the table is filled once, up
  front, with a fixed set of inputs computed in one batched call (``fill``), then only read. A value
  then never depends on which explainer or metric happened to ask first, so a resumed run, a run
  under ``-n 2`` and an uninterrupted run give bit-identical values.
- **open** (``grow=True``, the default, for notebooks and scripts): every input the engine computes
  inside the block is added and reused for the rest of the block. Fewer passes, but a reused value
  comes from whatever batch first computed it, so values can differ from a run without sharing by
  float32 rounding (~1e-8 in probabilities).

Gradients are shared per *call*: a gradient computation is reused only when the same token ids,
targets and settings come again (e.g. saliency then gradient×input on the same chunk), so it is
bit-identical to recomputing it whatever the mode.

Cost accounting stays per method. The engine counts reused work separately (``n_forward_reused``,
``n_backward_reused``) together with the seconds it took when it was first computed
(``seconds_reused``); ``Explainer.explain`` adds both to the explanation's cost, so a method's
``forward_passes`` and ``runtime_seconds`` are what it costs on its own, and the run's wall time
shows the saving.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Hashable, Sequence

import numpy as np

#: Memory the stored gradient calls may hold (least recently used dropped first); each holds a
#: chunk's embeddings and gradients (MiniLM, 16 review sentences: ~2 MB).
GRADIENT_BYTES = 512 * 2**20


class GradientStore:
    """Gradient computations by key, bounded in bytes (tensors and arrays counted), LRU eviction.
    One store can serve many tables (the benchmark session shares one across all chunks)."""

    def __init__(self, max_bytes: int = GRADIENT_BYTES) -> None:
        self.max_bytes = int(max_bytes)
        self.bytes = 0
        self._entries: OrderedDict[Hashable, tuple[Any, dict, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key):
        hit = self._entries.get(key)
        if hit is None:
            return None
        self._entries.move_to_end(key)
        return hit[0], hit[1]

    def put(self, key, result, cost: dict) -> None:
        size = _nbytes(result)
        if size > self.max_bytes:
            return
        self._entries[key] = (result, cost, size)
        self.bytes += size
        while self.bytes > self.max_bytes:
            _, (_, _, dropped) = self._entries.popitem(last=False)
            self.bytes -= dropped


def _nbytes(obj) -> int:
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if hasattr(obj, "element_size") and hasattr(obj, "nelement"):  # a torch tensor
        return int(obj.element_size() * obj.nelement())
    if isinstance(obj, (list, tuple)):
        return sum(_nbytes(x) for x in obj)
    return 0


class SharedComputations:
    """A table of model outputs (logits rows keyed by model input: a text or a token-id tuple)
    and a small store of gradient computations, reused by the engine while active.

    ``grow``: add every newly computed output to the table (open mode) or only read it (canonical
    mode, filled by ``fill``). ``gradients``: where gradient calls are kept (a new bounded
    ``GradientStore`` by default; several tables can share one).
    """

    def __init__(self, grow: bool = True, gradients: GradientStore | None = None) -> None:
        self.grow = grow
        self._rows: dict[Hashable, np.ndarray] = {}
        self._seconds: dict[Hashable, float] = {}
        self.gradients = gradients if gradients is not None else GradientStore()

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, key) -> bool:
        return key in self._rows

    # ---- forward outputs -------------------------------------------------------------------------
    def get(self, key) -> tuple[np.ndarray, float] | None:
        """(logits row, seconds it took) or None."""
        row = self._rows.get(key)
        if row is None:
            return None
        return row, self._seconds[key]

    def put(self, keys: Sequence, logits: np.ndarray, seconds_each: float) -> None:
        for key, row in zip(keys, logits):
            self._rows[key] = np.asarray(row, dtype=np.float64)
            self._seconds[key] = float(seconds_each)

    def fill(self, model, inputs: Sequence, progress: bool = False) -> "SharedComputations":
        """Compute ``inputs`` (texts and/or token-id tuples) in one batched engine call and store
        them: the canonical way to fill a read-only table. Counts as ``model.n_forward``."""
        from xaibench.modeling import engine

        inputs = [x for x in dict.fromkeys(inputs) if x not in self._rows]
        if inputs:
            logits, seconds_each = engine.compute_logits(model, inputs, progress=progress)
            self.put(inputs, logits, seconds_each)
        return self

    def items(self):
        """(input, logits row, seconds) for every stored input, in insertion order."""
        for key, row in self._rows.items():
            yield key, row, self._seconds[key]

    # ---- gradient calls ------------------------------------------------------------------------
    def gradient_call(self, key: Hashable, compute: Callable[[], tuple[Any, dict]]) -> tuple[Any, dict, bool]:
        """``compute()`` -> (result, cost) once per ``key``; returns (result, cost, reused).

        ``cost``: {"n_forward", "n_backward", "seconds"} of the original computation, which the
        caller charges to the model's reused counters on a hit.
        """
        hit = self.gradients.get(key)
        if hit is not None:
            return hit[0], hit[1], True
        result, cost = compute()
        self.gradients.put(key, result, cost)
        return result, cost, False


def gradient_call(model, key: Hashable, compute: Callable[[], tuple[Any, dict]]):
    """Run a gradient computation through the model's active ``SharedComputations`` (if any).

    ``compute()`` returns (result, cost) and updates ``model.n_forward``/``n_backward`` itself. On a
    reuse the original cost is added to the model's ``*_reused`` counters instead.
    """
    shared = getattr(model, "shared", None)
    if shared is None:
        return compute()[0]
    result, cost, reused = shared.gradient_call(key, compute)
    if reused:
        model.n_forward_reused += int(cost.get("n_forward", 0))
        model.n_backward_reused += int(cost.get("n_backward", 0))
        model.seconds_reused += float(cost.get("seconds", 0.0))
    return result


def ids_key(token_ids: Sequence[Sequence[int]]) -> tuple:
    """A hashable key of a list of token-id lists."""
    return tuple(tuple(int(t) for t in ids) for ids in token_ids)
