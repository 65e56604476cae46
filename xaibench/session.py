"""``BenchmarkSession``: runs the cells of the matrix and collects per-example rows.

One cell = (task, explainer): explain the task's examples, then score every requested metric in
one batched evaluation (``xaibench.scoring.evaluate_metrics``). Models and datasets are loaded once
per session. A cell that raises is recorded as ``status=error`` rows and never stops the others.
"""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field

import numpy as np

from .config import RunConfig, Task


@dataclass(frozen=True)
class Cell:
    task: Task
    explainer: str
    device: str = "cpu"

    @property
    def id(self) -> str:
        suffix = "" if self.device == "cpu" else f"-{self.device}"
        return f"{self.task.dataset}-{self.task.model}-{self.explainer}{suffix}"


@dataclass
class CellOutcome:
    cell: Cell
    attributions: list
    example_ids: list[str]
    status: str = "ok"
    error: str | None = None
    seconds: float = 0.0
    metric_errors: dict = field(default_factory=dict)


class BenchmarkSession:
    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self.started = time.time()
        self.per_example: list[dict] = []
        self.curves: list[dict] = []
        self.attribution_rows: list[dict] = []
        self.outcomes: list[CellOutcome] = []
        self._models: dict = {}
        self._datasets: dict = {}

    # ---- the matrix ----------------------------------------------------------------------------
    def cells(self) -> list[Cell]:
        return [Cell(t, e, d) for d in self.config.devices for t in self.config.tasks for e in self.config.explainers]

    def model(self, name: str, device: str = "cpu"):
        key = (name, device)
        if key not in self._models:
            from .loading import load_model

            self._models[key] = load_model(name, device=device, trust_remote_code=self.config.trust_remote_code)
        return self._models[key]

    def dataset(self, task: Task):
        if task.dataset not in self._datasets:
            from .datasets import load_dataset

            options = {} if task.dataset in _builtin_datasets() else {"encoding": self.config.encoding}
            self._datasets[task.dataset] = load_dataset(task.dataset, split="test", n=self.config.n,
                                                        seed=self.config.seed, **options)
        return self._datasets[task.dataset]

    # ---- one cell ------------------------------------------------------------------------------
    def run_cell(self, cell: Cell) -> CellOutcome:
        from .api import get_explainer, get_metric
        from .scoring import evaluate_metrics

        started = time.perf_counter()
        ds = self.dataset(cell.task)
        base = {"dataset": cell.task.dataset, "model": cell.task.model, "explainer": cell.explainer,
                "device": cell.device}
        try:
            model = self.model(cell.task.model, cell.device)
            explainer = get_explainer(cell.explainer, seed=self.config.seed, **self.config.explainers[cell.explainer])
            attributions = explainer.explain(model, ds.texts)
        except Exception as exc:  # one failing explainer never loses the rest of the run
            outcome = CellOutcome(cell, [], ds.ids, status="error", error=_describe(exc))
            for metric in self.config.metrics:
                for eid in ds.ids:
                    self.per_example.append({**base, "metric": metric, "example_id": eid, "value": np.nan,
                                             "random_reference": np.nan, "status": "error", "note": outcome.error})
            self.outcomes.append(outcome)
            return outcome
        outcome = CellOutcome(cell, attributions, ds.ids)
        for eid, a in zip(ds.ids, attributions):
            self.attribution_rows.append({**base, "example_id": eid, "text": a.text, "target": a.target,
                                          "units": list(a.units), "scores": [float(s) for s in a.scores],
                                          "cost": a.cost, "metadata": a.metadata})
        metrics = [get_metric(name) for name in self.config.metrics]
        try:
            results = evaluate_metrics(model, metrics, attributions)
        except Exception:
            # Retry metric by metric so one broken metric does not take the others with it.
            results = {}
            for metric in metrics:
                try:
                    results.update(evaluate_metrics(model, [metric], attributions))
                except Exception as exc:
                    outcome.metric_errors[metric.name] = _describe(exc)
        for metric in metrics:
            self._record_metric(base, ds.ids, metric, results.get(metric.name), outcome.metric_errors.get(metric.name))
        outcome.seconds = time.perf_counter() - started
        self.outcomes.append(outcome)
        return outcome

    def _record_metric(self, base: dict, ids: list[str], metric, result, error: str | None) -> None:
        for i, eid in enumerate(ids):
            if result is None:
                row = {"value": np.nan, "random_reference": np.nan, "status": "error", "note": error}
            else:
                value = float(result.values[i])
                ref = result.random_reference
                note = result.notes[i] if result.notes else None
                row = {"value": value, "random_reference": float(ref[i]) if ref is not None else np.nan,
                       "status": "ok" if np.isfinite(value) else "nan", "note": note}
                if result.curves is not None and result.curves[i] is not None:
                    curve = result.curves[i]
                    for q, v in zip(curve["fractions"], curve["values"]):
                        self.curves.append({**base, "metric": metric.name, "example_id": eid,
                                            "fraction": float(q), "value": float(v)})
            self.per_example.append({**base, "metric": metric.name, "example_id": eid,
                                     "higher_is_better": bool(metric.higher_is_better), **row})


def _describe(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" (at {last.filename.rsplit('/', 1)[-1]}:{last.lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _builtin_datasets() -> set[str]:
    from . import registry
    from .api import _load_plugins

    _load_plugins()
    return set(registry.datasets.names())
