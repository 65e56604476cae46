"""``BenchmarkSession``: runs the cells of the matrix and collects plain-data rows.

One cell = (task, explainer, device). Its examples are processed in fixed chunks (the same chunk
boundaries whatever was cached before, so a resumed run batches exactly like an uninterrupted one
and gives identical values). Per chunk: explain (or read the cached explanations), then score every
metric in one batched evaluation (``xaibench.metrics.evaluation.evaluate_metrics``) or read cached values.

Cells of one task share work (``xaibench.modeling.sharing``): per chunk, the inputs that every explainer or
metric evaluates whatever the explanation (f(x), leave-one-out texts, the removal metrics' random
orderings) are computed once, in one canonical engine call, and served to every cell from a
read-only table (``BenchmarkSession.shared_table``); costs still report what each method needs on
its own. Each (model, explainer) is warmed up once per process on one text, untimed, so no cell's
runtime includes imports or compilation.

Failures are contained: a chunk whose explanation raises is retried example by example, and an
example that still fails is recorded as ``status=error`` rows; one broken metric never takes the
others with it. Everything recorded is plain data, so pytest-xdist workers can ship it as a shard.
"""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field

import numpy as np

from xaibench.harness.cache import ResultCache, key_of
from xaibench.harness.config import RunConfig, Task
from xaibench.core.records import Attribution
from xaibench.core.references import reference_key, with_references

CHUNK_SIZE = 16
#: Shared tables kept in memory (a chunk's is a few thousand logits rows); older ones are re-read
#: from the result cache when needed.
SHARED_TABLES_KEPT = 256


class _Lazy:
    """A value computed on first call (a chunk's shared table is only needed when something of the
    chunk is not cached)."""

    def __init__(self, make) -> None:
        self._make, self._value, self._made = make, None, False

    def __call__(self):
        if not self._made:
            self._value, self._made = self._make(), True
        return self._value


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
    attributions: list                 # Attribution or None (failed example), in example order
    example_ids: list[str]
    errors: dict = field(default_factory=dict)          # example id -> message
    metric_errors: dict = field(default_factory=dict)   # metric name -> message
    seconds: float = 0.0

    @property
    def status(self) -> str:
        return "error" if self.errors else "ok"

    def as_row(self) -> dict:
        return {"cell": self.cell.id, "status": self.status, "errors": self.errors,
                "metric_errors": self.metric_errors, "seconds": self.seconds}


class BenchmarkSession:
    def __init__(self, config: RunConfig, cache: ResultCache | None = None) -> None:
        self.config = config
        self.cache = cache if cache is not None else ResultCache(read=config.use_cache)
        self.started = time.time()
        self.per_example: list[dict] = []
        self.curves: list[dict] = []
        self.attribution_rows: list[dict] = []
        self.outcome_rows: list[dict] = []
        self.model_info: dict = {}
        self.dataset_info: dict = {}
        self._models: dict = {}
        self._datasets: dict = {}
        self._shared: dict = {}      # shared-table key -> SharedComputations (see shared_table)
        self._warmed: set = set()    # (model, explainer) pairs already warmed up in this process
        from xaibench.modeling.sharing import GradientStore

        self._gradients = GradientStore()  # one memory bound for the gradient calls of all chunks

    # ---- the matrix ----------------------------------------------------------------------------
    def cells(self) -> list[Cell]:
        return [Cell(t, e, d) for d in self.config.devices for t in self.config.tasks for e in self.config.explainers]

    def model(self, name: str, device: str = "cpu"):
        key = (name, device)
        if key not in self._models:
            from xaibench.modeling.loading import load_model

            model = load_model(name, device=device, trust_remote_code=self.config.trust_remote_code,
                               **self.config.model_options())
            self._models[key] = model
            # Task type and class names travel with the run (shards included): tables group by
            # task type, figures name the explained quantity ("p(neutral)", "predicted rating / σ").
            self.model_info[f"{name}@{device}"] = {**model.info, "task_type": model.task_type,
                                                   "labels": list(model.labels)}
        return self._models[key]

    def dataset(self, task: Task):
        if task.dataset not in self._datasets:
            from xaibench.core import registry
            from xaibench.datasets import load_dataset

            options = {}
            if task.dataset not in registry.datasets:
                from xaibench.modeling.loading import model_labels

                options = {"encoding": self.config.encoding,
                           "label_names": model_labels(task.model, self.config.trust_remote_code)}
            ds = load_dataset(task.dataset, split="test", n=self.config.n, seed=self.config.seed, **options)
            self._datasets[task.dataset] = ds
            self.dataset_info[task.dataset] = {"fingerprint": ds.fingerprint(), "n": len(ds), "split": ds.split,
                                               "source": ds.source, "citation": ds.citation}
        return self._datasets[task.dataset]

    # ---- one cell ------------------------------------------------------------------------------
    def run_cell(self, cell: Cell, progress: bool = True) -> CellOutcome:
        from xaibench.core import registry

        started = time.perf_counter()
        ds = self.dataset(cell.task)
        base = {"dataset": cell.task.dataset, "model": cell.task.model, "explainer": cell.explainer,
                "device": cell.device}
        outcome = CellOutcome(cell, [], ds.ids)
        try:
            model = self.model(cell.task.model, cell.device)
            base["task_type"] = model.task_type
            explainer = registry.explainers.create(cell.explainer, seed=self.config.seed, **self.config.explainers[cell.explainer])
            metrics = [registry.metrics.create(name, **self.config.metric_params.get(name, {})) for name in self.config.metrics]
        except Exception as exc:  # the cell cannot start: every example of it is an error row
            message = _describe(exc)
            outcome.errors = {eid: message for eid in ds.ids}
            outcome.attributions = [None] * len(ds)
            self._record_failures(base, ds.ids, self.config.metrics, message)
            return self._finish(outcome, started)
        model_key = model.info.get("fingerprint") or model.name
        explainer_key = {"name": cell.explainer, **explainer.params()}
        chunks = [ds.examples[i:i + CHUNK_SIZE] for i in range(0, len(ds), CHUNK_SIZE)]
        bar = _progress(len(ds), cell.id) if progress else None
        for chunk in chunks:
            chunk_key = key_of("explanations", model_key, explainer_key, [(e.id, e.text) for e in chunk])
            shared = _Lazy(lambda chunk=chunk: self.shared_table(model, cell.device, model_key, chunk))
            attributions = self._explain_chunk(model, explainer, chunk, chunk_key, outcome, shared)
            # Ground truth / rationales travel on the attributions (xaibench.core.references).
            attributions = with_references(attributions, chunk)
            self._score_chunk(model, metrics, chunk, chunk_key, attributions, base, outcome, shared)
            outcome.attributions.extend(attributions)
            if bar is not None:
                bar.update(len(chunk))
        if bar is not None:
            bar.close()
        return self._finish(outcome, started)

    def _finish(self, outcome: CellOutcome, started: float) -> CellOutcome:
        outcome.seconds = time.perf_counter() - started
        self.outcome_rows.append(outcome.as_row())
        return outcome

    # ---- computations shared by the cells of a task ----------------------------------------------
    def shared_table(self, model, device: str, model_key: str, chunk) -> "SharedComputations":
        """The canonical shared table of one chunk: every input that some configured explainer or
        metric evaluates on these texts whatever the explanation (f(x), leave-one-out texts,
        random-ordering perturbations; ``Explainer.shared_inputs``, ``Metric.shared_inputs``),
        computed in ONE engine call and then only read (``xaibench.modeling.sharing``).

        Its content depends only on the model, the chunk and the run configuration, so every cell,
        a resumed run and every xdist worker see bit-identical values. Kept in memory for the
        session and in the result cache across runs.
        """
        from xaibench.modeling.sharing import SharedComputations

        spec = {"explainers": self.config.explainers, "metrics": self.config.metrics,
                "metric_params": self.config.metric_params, "seed": self.config.seed}
        key = key_of("shared", model_key, device, spec, [(e.id, e.text) for e in chunk])
        table = self._shared.get(key)
        if table is not None:
            return table
        table = SharedComputations(grow=False, gradients=self._gradients)
        try:
            self._fill_shared(table, model, key, chunk)
        except Exception as exc:  # sharing is an optimisation: without it every cell computes its own
            import warnings

            warnings.warn(f"shared table of {len(chunk)} examples not built ({_describe(exc)}); cells compute "
                          "their inputs themselves", RuntimeWarning, stacklevel=2)
            table = SharedComputations(grow=False, gradients=self._gradients)
        self._shared[key] = table
        if len(self._shared) > SHARED_TABLES_KEPT:
            self._shared.pop(next(iter(self._shared)))
        return table

    def _fill_shared(self, table, model, key: str, chunk) -> None:
        from xaibench.core import registry

        cached = self.cache.get("shared", key)
        if cached is not None:
            inputs = [x if isinstance(x, str) else tuple(x) for x in cached["inputs"]]
            table.put(inputs, np.asarray(cached["logits"], dtype=np.float64), cached["seconds_each"])
        else:
            components = [registry.explainers.create(name, seed=self.config.seed, **params)
                          for name, params in self.config.explainers.items()]
            components += [registry.metrics.create(name, **self.config.metric_params.get(name, {})) for name in self.config.metrics]
            inputs: dict = {}
            for e in chunk:
                for component in components:
                    inputs.update(dict.fromkeys(component.shared_inputs(model, e.text)))
            table.fill(model, list(inputs))
            rows = list(table.items())
            self.cache.put("shared", key, {"inputs": [x for x, _, _ in rows], "logits": [r.tolist() for _, r, _ in rows],
                                           "seconds_each": rows[0][2] if rows else 0.0})

    def _warm_up(self, model, explainer, text: str) -> None:
        """Explain one text once per (model, explainer) and process, untimed and unrecorded, so no
        cell's runtime includes imports, numba compilation (shap: ~8 s), allocator or kernel set-up."""
        key = (id(model), explainer.name, repr(explainer.params()))
        if key in self._warmed:
            return
        self._warmed.add(key)
        try:
            explainer.explain(model, [text])
        except Exception:  # the real call reports the failure, with its example
            pass

    def _explain_chunk(self, model, explainer, chunk, chunk_key, outcome, shared) -> list:
        cached = self.cache.get("explanations", chunk_key)
        if cached is not None:
            attributions = [None if d is None else Attribution.from_dict(d) for d in cached["attributions"]]
            outcome.errors.update(cached.get("errors", {}))
        else:
            errors = {}
            self._warm_up(model, explainer, chunk[0].text)
            with model.sharing(shared()):
                try:
                    attributions = explainer.explain(model, [e.text for e in chunk])
                except Exception:
                    # Isolate the example that breaks the batch; the rest of the chunk still counts.
                    attributions = []
                    # batched: failure isolation: only after the batched call raised
                    for e in chunk:
                        try:
                            attributions.extend(explainer.explain(model, [e.text]))
                        except Exception as exc:
                            attributions.append(None)
                            errors[e.id] = _describe(exc)
            outcome.errors.update(errors)
            self.cache.put("explanations", chunk_key, {
                "attributions": [None if a is None else a.to_dict() for a in attributions],
                "errors": errors})
        for e, a in zip(chunk, attributions):
            if a is not None:
                row = a.to_dict()
                row["explainer_params"] = row.pop("explainer")
                self.attribution_rows.append({**_base(outcome.cell), "example_id": e.id, **row})
        return attributions

    def _score_chunk(self, model, metrics, chunk, chunk_key, attributions, base, outcome, shared) -> None:
        from xaibench.metrics.evaluation import evaluate_metrics

        ok = [i for i, a in enumerate(attributions) if a is not None]
        references = reference_key(chunk)  # reference-based values also depend on the evidence
        keys = {m.name: key_of("metric", chunk_key, m.name, m.params(),
                               *([references] if getattr(m, "uses_reference", False) else []))
                for m in metrics}
        values = {m.name: self.cache.get("metrics", keys[m.name]) for m in metrics}
        missing = [m for m in metrics if values[m.name] is None]
        if missing and ok:
            live = [attributions[i] for i in ok]
            with model.sharing(shared()):
                try:
                    results = {name: _result_rows(r, ok) for name, r in evaluate_metrics(model, missing, live).items()}
                except Exception:
                    # Retry metric by metric, then example by example: one broken metric does not sink
                    # the others, one example a metric cannot handle does not sink the chunk.
                    results = {m.name: _metric_rows_one_by_one(model, m, attributions, ok) for m in missing}
            for m in missing:
                values[m.name] = results[m.name]
                self.cache.put("metrics", keys[m.name], values[m.name])
        for m in metrics:
            rows = {r["index"]: r for r in (values[m.name] or [])}
            failed = {chunk[i].id: r["error"] for i, r in rows.items() if r.get("error")}
            if failed:
                eid, message = next(iter(failed.items()))
                outcome.metric_errors[m.name] = (message if len(failed) == len(rows) else
                                                 f"{len(failed)} example(s) failed, e.g. {eid}: {message}")
            for i, e in enumerate(chunk):
                r = rows.get(i)
                truncated = _truncated(attributions[i])
                if r is None or r.get("error"):
                    note = outcome.errors.get(e.id) or (r or {}).get("error") or "not computed"
                    self.per_example.append({**base, "metric": m.name, "example_id": e.id, "value": np.nan,
                                             "random_reference": np.nan, "status": "error", "note": note,
                                             "higher_is_better": bool(m.higher_is_better),
                                             "n_units_truncated": truncated})
                    continue
                self.per_example.append({**base, "metric": m.name, "example_id": e.id, "value": r["value"],
                                         "random_reference": r["random_reference"],
                                         "status": "ok" if np.isfinite(r["value"]) else "nan", "note": r["note"],
                                         "higher_is_better": bool(m.higher_is_better),
                                         "n_units_truncated": truncated})
                if r.get("curve"):
                    for q, v in zip(r["curve"]["fractions"], r["curve"]["values"]):
                        self.curves.append({**base, "metric": m.name, "example_id": e.id,
                                            "fraction": float(q), "value": float(v)})

    def _record_failures(self, base, ids, metric_names, message) -> None:
        from xaibench.core import registry

        for name in metric_names:
            hib = getattr(registry.metrics.factory(name), "higher_is_better", None) if name in registry.metrics else None
            for eid in ids:
                self.per_example.append({**base, "metric": name, "example_id": eid, "value": np.nan,
                                         "random_reference": np.nan, "status": "error", "note": message,
                                         "higher_is_better": hib})

    # ---- shards (pytest-xdist) -------------------------------------------------------------------
    def shard(self) -> dict:
        return {"per_example": self.per_example, "curves": self.curves, "attribution_rows": self.attribution_rows,
                "outcome_rows": self.outcome_rows, "model_info": self.model_info, "dataset_info": self.dataset_info}

    def merge(self, shard: dict) -> None:
        for name in ("per_example", "curves", "attribution_rows", "outcome_rows"):
            getattr(self, name).extend(shard[name])
        self.model_info.update(shard["model_info"])
        self.dataset_info.update(shard["dataset_info"])

    def sort_rows(self) -> None:
        """Order rows as a serial run would (cell order, then example order)."""
        order = {c.id: i for i, c in enumerate(self.cells())}
        cell_of = {(c.task.dataset, c.task.model, c.explainer, c.device): c.id for c in self.cells()}

        def rank(row):
            return order.get(cell_of.get((row["dataset"], row["model"], row["explainer"], row.get("device", "cpu"))), 1e9)

        for name in ("per_example", "curves", "attribution_rows"):
            getattr(self, name).sort(key=rank)  # stable: example order within a cell is kept
        self.outcome_rows.sort(key=lambda r: order.get(r["cell"], 1e9))


def _base(cell: Cell) -> dict:
    return {"dataset": cell.task.dataset, "model": cell.task.model, "explainer": cell.explainer, "device": cell.device}


def _metric_rows_one_by_one(model, metric, attributions: list, positions: list[int]) -> list[dict]:
    """Rows of ``metric`` computed example by example; an example that raises gets an error row."""
    from xaibench.metrics.evaluation import evaluate_metrics

    try:
        return _result_rows(evaluate_metrics(model, [metric], [attributions[i] for i in positions])[metric.name],
                            positions)
    except Exception:
        pass
    rows = []
    # batched: failure isolation: only after the batched call raised
    for i in positions:
        try:
            rows.extend(_result_rows(evaluate_metrics(model, [metric], [attributions[i]])[metric.name], [i]))
        except Exception as exc:
            rows.append({"index": i, "error": _describe(exc)})
    return rows


def _truncated(attribution) -> int | None:
    """Units past the model's max length (scored 0, never seen by the model); None if no attribution."""
    if attribution is None:
        return None
    return int((attribution.metadata or {}).get("n_units_truncated", 0) or 0)


def _result_rows(result, positions: list[int]) -> list[dict]:
    rows = []
    for j, i in enumerate(positions):
        ref = result.random_reference
        curve = result.curves[j] if result.curves is not None else None
        rows.append({"index": i, "value": float(result.values[j]),
                     "random_reference": float(ref[j]) if ref is not None else float("nan"),
                     "note": result.notes[j] if result.notes else None,
                     "curve": None if curve is None else {"fractions": [float(q) for q in curve["fractions"]],
                                                          "values": [float(v) for v in curve["values"]]}})
    return rows


def _progress(total: int, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="ex", leave=False, dynamic_ncols=True)


def _describe(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" (at {last.filename.rsplit('/', 1)[-1]}:{last.lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"
