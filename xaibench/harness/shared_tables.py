"""The canonical shared table of each chunk of examples (``xaibench.modeling.sharing``).

Cells of one task ask the model the same questions whatever the explanation: f(x), the
leave-one-out texts, the removal metrics' random orderings. Per chunk, the union of those inputs
over every configured explainer and metric (``Explainer.shared_inputs``, ``Metric.shared_inputs``)
is computed in ONE engine call and then only read. Its content depends only on the model, the chunk
and the run configuration, so every cell, a resumed run and every xdist worker see bit-identical
values. Tables are kept in memory (a bounded number) and in the result cache across runs.
"""
from __future__ import annotations

import warnings

import numpy as np

from xaibench.core import registry
from xaibench.harness.cache import ResultCache, key_of
from xaibench.modeling.sharing import GradientStore, SharedComputations

#: Shared tables kept in memory (a chunk's is a few thousand logits rows); older ones are re-read
#: from the result cache when needed.
TABLES_KEPT = 256


class SharedTables:
    """Shared tables of one run, by (model, device, chunk); one gradient store bounds the memory of
    the gradient calls of all chunks."""

    def __init__(self, config, cache: ResultCache) -> None:
        self.config = config
        self.cache = cache
        self.gradients = GradientStore()
        self._tables: dict[str, SharedComputations] = {}

    def table(self, model, device: str, model_key: str, chunk) -> SharedComputations:
        """The read-only shared table of ``chunk`` (a list of ``Example``) on ``model``. If it cannot
        be built, an empty one (sharing is an optimisation: every cell then computes its own)."""
        spec = {"explainers": self.config.explainers, "metrics": self.config.metrics,
                "metric_params": self.config.metric_params, "seed": self.config.seed}
        key = key_of("shared", model_key, device, spec, [(e.id, e.text) for e in chunk])
        table = self._tables.get(key)
        if table is not None:
            return table
        table = SharedComputations(grow=False, gradients=self.gradients)
        try:
            self._fill(table, model, key, chunk)
        except Exception as exc:
            warnings.warn(f"shared table of {len(chunk)} examples not built ({type(exc).__name__}: {exc}); cells "
                          "compute their inputs themselves", RuntimeWarning, stacklevel=2)
            table = SharedComputations(grow=False, gradients=self.gradients)
        self._tables[key] = table
        if len(self._tables) > TABLES_KEPT:
            self._tables.pop(next(iter(self._tables)))
        return table

    def _fill(self, table: SharedComputations, model, key: str, chunk) -> None:
        cached = self.cache.get("shared", key)
        if cached is not None:
            inputs = [x if isinstance(x, str) else tuple(x) for x in cached["inputs"]]
            table.put(inputs, np.asarray(cached["logits"], dtype=np.float64), cached["seconds_each"])
            return
        components = [self.config.explainer(name) for name in self.config.explainers]
        components += [registry.metrics.create(name, **self.config.metric_params.get(name, {}))
                       for name in self.config.metrics]
        inputs: dict = {}
        for e in chunk:
            for component in components:
                inputs.update(dict.fromkeys(component.shared_inputs(model, e.text)))
        table.fill(model, list(inputs))
        rows = list(table.items())
        self.cache.put("shared", key, {"inputs": [x for x, _, _ in rows], "logits": [r.tolist() for _, r, _ in rows],
                                       "seconds_each": rows[0][2] if rows else 0.0})


class Lazy:
    """A value computed on first call (a chunk's shared table is only needed when something of the
    chunk is not cached)."""

    def __init__(self, make) -> None:
        self._make, self._value, self._made = make, None, False

    def __call__(self):
        if not self._made:
            self._value, self._made = self._make(), True
        return self._value
