"""``BenchmarkSession``: runs the cells of the matrix and records plain-data rows (``RunRecord``).

One cell = (task, explainer, device). Its examples are processed in fixed chunks (the same chunk
boundaries whatever was cached before, so a resumed run batches exactly like an uninterrupted one
and gives identical values). Per chunk: explain (or read the cached explanations), then score every
metric in one batched evaluation (``xaibench.metrics.evaluation.evaluate_metrics``) or read cached
values. Inputs every cell of a task needs come from the chunk's canonical shared table
(``xaibench.harness.shared_tables``); costs still report what each method needs on its own. Each
(model, explainer) is warmed up once per process on one text, untimed, so no cell's runtime
includes imports or compilation.

Failures are contained: a chunk whose explanation raises is retried example by example, and an
example that still fails is recorded as ``status=error`` rows; one broken metric never takes the
others with it.
"""
from __future__ import annotations

import os
import signal
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from xaibench.core import registry
from xaibench.core.records import Attribution
from xaibench.core.references import reference_key, with_references
from xaibench.harness.cache import ResultCache, key_of
from xaibench.harness.config import RunConfig, Task
from xaibench.harness.run_record import (
    RunRecord,
    attribution_row,
    cell_id,
    curve_rows,
    describe_error,
    example_row,
    metric_row,
    result_rows,
)
from xaibench.harness.shared_tables import Lazy, SharedTables
from xaibench.metrics.base import declared
from xaibench.metrics.circularity import circular_reason

CHUNK_SIZE = 16
#: Test hook: after this many chunks were computed and cached in this process, send SIGINT to the
#: process group, as Ctrl-C in a terminal does (under pytest-xdist: the controller and every
#: worker). Lets the resume tests interrupt at a deterministic point instead of racing a timer.
INTERRUPT_AFTER_CHUNKS = "XAIBENCH_INTERRUPT_AFTER_CHUNKS"


@dataclass(frozen=True)
class Cell:
    task: Task
    explainer: str
    device: str = "cpu"

    @property
    def id(self) -> str:
        return cell_id(self.task.dataset, self.task.model, self.explainer, self.device)

    @property
    def columns(self) -> dict:
        """The columns every row of this cell starts with. ``base_model`` / ``model_seed``: the model
        this task's model is a seed of, and which seed (the model itself and 0 outside
        ``--xb-model-seeds`` runs), so reports can group the seeds (``xaibench.report.model_seeds``)."""
        return {"dataset": self.task.dataset, "model": self.task.model, "explainer": self.explainer,
                "device": self.device, "base_model": self.task.base_model, "model_seed": self.task.model_seed}


@dataclass
class CellOutcome:
    cell: Cell
    attributions: list                 # Attribution or None (failed example), in example order
    example_ids: list[str]
    errors: dict = field(default_factory=dict)          # example id -> message
    metric_errors: dict = field(default_factory=dict)   # metric name -> message
    seconds: float = 0.0
    #: Why the cell was not run at all (``Explainer.unavailable_for`` the task's model), or None.
    not_run: str | None = None

    @property
    def status(self) -> str:
        return "not_run" if self.not_run else ("error" if self.errors else "ok")

    def as_row(self) -> dict:
        return {"cell": self.cell.id, "status": self.status, "errors": self.errors,
                "metric_errors": self.metric_errors, "seconds": self.seconds, "not_run": self.not_run}


@dataclass
class _Prepared:
    """A cell ready to run its chunks (``BenchmarkSession._prepare``): everything from the model
    load to the cache keys, or ``error`` (the cell cannot start) / ``not_run`` (the explainer cannot
    explain the model)."""

    cell: Cell
    examples: Any
    columns: dict
    error: str | None = None
    model: Any = None
    explainer: Any = None
    metrics: list = field(default_factory=list)
    inapplicable: dict = field(default_factory=dict)
    circular: dict = field(default_factory=dict)
    not_run: str | None = None
    model_key: str = ""
    explainer_key: dict = field(default_factory=dict)

    @property
    def stop(self) -> bool:
        return self.error is not None or bool(self.not_run)


class BenchmarkSession:
    """Runs cells of ``config``'s matrix; ``record`` holds everything they produced.

    ``cache``: the result cache (default: the user cache, read unless ``--xb-no-cache``).
    Models and datasets are loaded once per process and kept (``loaded_models``).
    """

    def __init__(self, config: RunConfig, cache: ResultCache | None = None, rootdir: str = ".") -> None:
        self.config = config
        self.cache = cache if cache is not None else ResultCache(read=config.use_cache)
        self.record = RunRecord(config, rootdir=rootdir)
        self.shared = SharedTables(config, self.cache)
        self._models: dict = {}
        self._loaded_by_name: set = set()
        self._datasets: dict = {}
        self._warmed: set = set()    # (model, explainer) pairs already warmed up in this process
        self._examples_recorded: set = set()  # (task, device, chunk) whose example rows are recorded
        self._chunks_done = 0
        #: A backend that runs the cells elsewhere (``xaibench.harness.ray_backend.RayBackend``), or None.
        self.distributed = None
        #: Rounds until a time budget or CI target (``xaibench.harness.budget.BudgetedRun``), or None.
        self.budgeted = None
        # Outcomes of cells a backend (distributed or budgeted) ran ahead of their pytest items.
        self._run_ahead: dict[str, CellOutcome] = {}

    # Read-only views of the record, for scripts and tests.
    @property
    def per_example(self) -> list[dict]:
        return self.record.per_example

    @property
    def attribution_rows(self) -> list[dict]:
        return self.record.attribution_rows

    @property
    def model_info(self) -> dict:
        return self.record.model_info

    @property
    def dataset_info(self) -> dict:
        return self.record.dataset_info

    @property
    def loaded_models(self) -> dict:
        """``{(model name, device): Classifier}`` of the models this process loaded."""
        return dict(self._models)

    # ---- the matrix ----------------------------------------------------------------------------
    def cells(self) -> list[Cell]:
        return [Cell(t, e, d) for d in self.config.devices for t in self.config.tasks for e in self.config.explainers]

    def sort_rows(self) -> None:
        """Order the record's rows as a serial run would (after merging xdist shards)."""
        self.record.sort_rows([c.id for c in self.cells()])

    def model(self, name: str, device: str = "cpu"):
        """The model of task model ``name`` on ``device``, loaded on first use."""
        if (name, device) not in self._models:
            from xaibench.modeling.loading import load_model

            self.use_model(name, load_model(name, device=device, trust_remote_code=self.config.trust_remote_code,
                                            **self.config.model_options()), device)
            self._loaded_by_name.add((name, device))
        return self._models[(name, device)]

    def use_model(self, name: str, model, device: str = "cpu") -> None:
        """Run the cells of task model ``name`` with ``model``, a ``Classifier`` already in memory
        (a notebook's, a test's), instead of loading it."""
        self._models[(name, device)] = model
        # Task type and class names travel with the run (shards included): tables group by task
        # type, figures name the explained quantity ("p(neutral)", "predicted rating / σ").
        self.record.model_info[f"{name}@{device}"] = {**model.info, "task_type": model.task_type,
                                                      "labels": list(model.labels)}

    def given_models(self) -> list[str]:
        """Task models given in memory (``use_model``) rather than loaded by name: a distributed
        run cannot ship them to its workers."""
        return [name for name, device in self._models if (name, device) not in self._loaded_by_name]

    def use_dataset(self, name: str, dataset) -> None:
        """Run the cells of dataset ``name`` on ``dataset`` (a ``Dataset`` in memory) instead of loading it."""
        self._datasets[name] = dataset

    def dataset(self, task: Task):
        """The examples of ``task``'s dataset (its test split, ``config.n`` of them), loaded on first use."""
        if task.dataset not in self._datasets:
            from xaibench.datasets import load_dataset

            options = {}
            if task.dataset not in registry.datasets:
                from xaibench.modeling.loading import model_labels

                options = {"encoding": self.config.encoding,
                           "label_names": model_labels(task.model, self.config.trust_remote_code)}
            if self.budgeted is None:
                ds = load_dataset(task.dataset, split="test", n=self.config.n, seed=self.config.seed, **options)
            else:  # rounds take prefixes of the seed's order, up to the budget's cap
                ds = load_dataset(task.dataset, split="test", seed=self.config.seed, **options)
                ds = ds.ranked(self.config.seed, self.budgeted.max_n)
            self._datasets[task.dataset] = ds
        ds = self._datasets[task.dataset]
        self.record.dataset_info.setdefault(task.dataset, {
            "fingerprint": ds.fingerprint(), "n": len(ds), "split": ds.split, "source": ds.source,
            "citation": ds.citation})
        return ds

    # ---- one cell ------------------------------------------------------------------------------
    def run_cell(self, cell: Cell, progress: bool = True) -> CellOutcome:
        """Explain and score every example of ``cell``, chunk by chunk, recording the rows.

        With a ``distributed`` backend (``--xb-ray``) or a ``budgeted`` run (``--xb-budget``,
        ``--xb-ci-target``) the first call runs every cell of the run that way and later calls
        return their cell's outcome (the rows are in ``record`` already)."""
        backend = self.distributed if self.distributed is not None else self.budgeted
        if backend is not None and cell.id not in self._run_ahead:
            self._run_ahead.update(backend.run(self, self.cells(), progress=progress))
        if cell.id in self._run_ahead:
            return self._run_ahead[cell.id]
        started = time.perf_counter()
        prepared = self._prepare(cell)
        outcome = CellOutcome(cell, [], prepared.examples.ids)
        bar = _progress(len(prepared.examples), cell.id) if progress and not prepared.stop else None
        for start in range(0, len(prepared.examples), CHUNK_SIZE):
            self._run_chunk(prepared, start, outcome)
            if bar is not None:
                bar.update(len(prepared.examples.examples[start:start + CHUNK_SIZE]))
        if bar is not None:
            bar.close()
        return self._finish(outcome, started)

    def run_unit(self, cell: Cell, start: int) -> dict:
        """One work unit of a distributed run: the chunk of ``cell`` that begins at example
        ``start``, run exactly as ``run_cell`` runs it (same chunk boundaries, cache and shared
        table). Returns plain data: the rows it recorded (``RunRecord.shard``) and its outcome
        (``errors``, ``metric_errors``, ``not_run``, ``seconds``)."""
        started = time.perf_counter()
        record, self.record = self.record, RunRecord(self.config, rootdir=self.record.rootdir)
        try:
            prepared = self._prepare(cell)
            outcome = CellOutcome(cell, [], prepared.examples.ids[start:start + CHUNK_SIZE])
            self._run_chunk(prepared, start, outcome)
            self.record.model_info.update(record.model_info)
            unit = self.record
        finally:
            self.record = record
        import torch

        unit.torch_threads = torch.get_num_threads()
        return {"cell": cell.id, "start": start, "shard": unit.shard(), "errors": outcome.errors,
                "metric_errors": outcome.metric_errors, "not_run": outcome.not_run,
                "seconds": time.perf_counter() - started}

    def _prepare(self, cell: Cell) -> "_Prepared":
        """What every chunk of ``cell`` needs: its examples, model, explainer and metrics, or why
        the cell cannot run (an error message, or the explainer's ``unavailable_for`` reason)."""
        ds = self.dataset(cell.task)
        columns = cell.columns
        try:
            model = self.model(cell.task.model, cell.device)
            columns["task_type"] = model.task_type
            explainer = self.config.explainer(cell.explainer)
            metrics = [registry.metrics.create(name, **self.config.metric_params.get(name, {}))
                       for name in self.config.metrics]
            # A metric that says nothing about this explainer (seed stability of a deterministic
            # one) gets its reason recorded instead of a value; a circular pair is scored but marked.
            inapplicable = {m.name: m.not_applicable_to(explainer) for m in metrics}
            circular = {m.name: circular_reason(explainer, m) for m in metrics}
            # An explainer that cannot explain this model at all (a generator trained for another
            # classifier): the cell is not run, and the run says why instead of failing each example.
            not_run = explainer.unavailable_for(model)
            model_key = model.info.get("fingerprint") or model.name
            # What the explanations depend on beyond the parameters (a generator's weights) keys them too.
            explainer_key = {"name": cell.explainer, **explainer.params(), **explainer.cache_identity(model)}
        except Exception as exc:  # the cell cannot start: every example of it is an error row
            return _Prepared(cell, ds, columns, error=describe_error(exc))
        return _Prepared(cell, ds, columns, model=model, explainer=explainer, metrics=metrics,
                         inapplicable=inapplicable, circular=circular, not_run=not_run, model_key=model_key,
                         explainer_key=explainer_key)

    def _run_chunk(self, prepared: "_Prepared", start: int, outcome: CellOutcome) -> None:
        """Explain and score the chunk of ``prepared``'s examples that begins at ``start``, recording
        its rows and appending its attributions to ``outcome``."""
        chunk = prepared.examples.examples[start:start + CHUNK_SIZE]
        columns, model = prepared.columns, prepared.model
        if prepared.error is not None:
            outcome.errors.update({e.id: prepared.error for e in chunk})
            outcome.attributions.extend([None] * len(chunk))
            for name in self.config.metrics:
                self.record.per_example.extend(
                    metric_row(columns, name, e.id, higher_is_better=declared(name, "higher_is_better"),
                               note=prepared.error, error=True) for e in chunk)
            return
        if prepared.not_run:
            outcome.not_run = prepared.not_run
            outcome.attributions.extend([None] * len(chunk))
            return
        for m in prepared.metrics:
            if prepared.inapplicable[m.name]:
                self.record.per_example.extend(
                    metric_row(columns, m.name, e.id, higher_is_better=m.higher_is_better,
                               not_applicable=prepared.inapplicable[m.name]) for e in chunk)
        metrics = [m for m in prepared.metrics if not prepared.inapplicable[m.name]]
        chunk_key = key_of("explanations", prepared.model_key, prepared.explainer_key, [(e.id, e.text) for e in chunk])
        shared = Lazy(lambda: self.shared.table(model, prepared.cell.device, prepared.model_key, chunk))
        attributions: list = []
        computed, made = self._explain_chunk(model, prepared.explainer, chunk, chunk_key, columns, outcome, shared,
                                             attributions)
        # Metric values are keyed on the explanations they score, not only on the chunk: a run that
        # recomputes the explanations (--xb-no-cache, another metric selection) must not pair its
        # new explanations with a cost or value cached for earlier ones. Entries written before
        # explanations carried an id keep their old keys.
        scored_key = chunk_key if made is None else key_of(chunk_key, made)
        # Ground truth / rationales travel on the attributions (xaibench.core.references).
        attributions = with_references(attributions, chunk)
        outcome.attributions.extend(attributions)
        computed |= self._score_chunk(model, metrics, chunk, scored_key, attributions, columns, outcome, shared,
                                      prepared.circular)
        self._record_examples(model, columns, chunk, shared)
        if computed:
            self._chunk_computed()

    def _record_examples(self, model, columns: dict, chunk, shared) -> None:
        """Record each text of ``chunk`` once per (model, device): gold label, the model's prediction
        and probability (read from the chunk's shared table, which holds f of the full texts) and
        the reference evidence, for the report's example headers and examples.parquet."""
        key = (columns["dataset"], columns["model"], columns.get("device", "cpu"), chunk[0].id, len(chunk))
        if key in self._examples_recorded:
            return
        self._examples_recorded.add(key)
        try:
            table = shared()
            rows = [table.get(e.text) for e in chunk]
            missing = [e.text for e, r in zip(chunk, rows) if r is None]
            if missing:  # no shared table (it could not be built): one batched forward of the texts
                with model.not_sharing():
                    extra = iter(model.logits(missing))
                rows = [r if r is not None else (next(extra), 0.0) for r in rows]
            logits = [r[0] for r in rows]
        except Exception:  # a header without the prediction is better than a lost run
            logits = [None] * len(chunk)
        self.record.example_rows.extend(example_row(columns, e, model, lg) for e, lg in zip(chunk, logits))

    def _finish(self, outcome: CellOutcome, started: float) -> CellOutcome:
        outcome.seconds = time.perf_counter() - started
        self.record.outcome_rows.append(outcome.as_row())
        return outcome

    def _chunk_computed(self) -> None:
        """Count a chunk computed and cached in this process; the ``INTERRUPT_AFTER_CHUNKS`` test
        hook interrupts the run here, when everything of the chunk is safely in the cache."""
        self._chunks_done += 1
        limit = os.environ.get(INTERRUPT_AFTER_CHUNKS)
        if limit and self._chunks_done == int(limit):
            os.killpg(os.getpgrp(), signal.SIGINT)
            if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
                raise KeyboardInterrupt  # a background job ignores SIGINT: interrupt this process anyway

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

    def _explain_chunk(self, model, explainer, chunk, chunk_key, columns, outcome, shared,
                       out: list) -> tuple[bool, str | None]:
        """Explanations of ``chunk`` (from the cache, or computed and cached), appended to ``out``
        (None for a failed example; failures go to ``outcome.errors``). Returns whether they were
        computed here, and the id of this computation of them (stored with them in the cache; None
        for entries cached before ids existed), which keys the metric values that score them."""
        cached = self.cache.get("explanations", chunk_key)
        if cached is not None:
            attributions = [None if d is None else Attribution.from_dict(d) for d in cached["attributions"]]
            outcome.errors.update(cached.get("errors", {}))
            made = cached.get("made")
        else:
            made = uuid.uuid4().hex
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
                            errors[e.id] = describe_error(exc)
            outcome.errors.update(errors)
            self.cache.put("explanations", chunk_key, {
                "attributions": [None if a is None else a.to_dict() for a in attributions], "errors": errors,
                "made": made})
        self.record.attribution_rows.extend(attribution_row(columns, e.id, a)
                                            for e, a in zip(chunk, attributions) if a is not None)
        out.extend(attributions)
        return cached is None, made

    def _score_chunk(self, model, metrics, chunk, chunk_key, attributions, columns, outcome, shared,
                     circular: dict) -> bool:
        """Every metric's values on ``chunk`` (cached under ``chunk_key``, the key of the explanations
        they score, or computed in one joint pass and cached),
        recorded as rows (``circular``: metric name -> reason or None); returns True when something
        was computed."""
        from xaibench.metrics.evaluation import evaluate_metrics

        ok = [i for i, a in enumerate(attributions) if a is not None]
        references = reference_key(chunk)  # reference-based values also depend on the evidence
        keys = {m.name: key_of("metric", chunk_key, m.name, m.params(), *([references] if m.uses_reference else []))
                for m in metrics}
        values = {m.name: self.cache.get("metrics", keys[m.name]) for m in metrics}
        missing = [m for m in metrics if values[m.name] is None]
        if missing and ok:
            live = [attributions[i] for i in ok]
            with model.sharing(shared()):
                try:
                    results = {name: result_rows(r, ok) for name, r in evaluate_metrics(model, missing, live).items()}
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
                    self.record.per_example.append(metric_row(columns, m.name, e.id, higher_is_better=m.higher_is_better,
                                                              note=note, error=True, n_units_truncated=truncated,
                                                              circular=circular.get(m.name)))
                    continue
                self.record.per_example.append(metric_row(
                    columns, m.name, e.id, higher_is_better=m.higher_is_better, value=r["value"],
                    random_reference=r["random_reference"], note=r["note"], n_units_truncated=truncated,
                    circular=circular.get(m.name)))
                if r.get("curve"):
                    self.record.curves.extend(curve_rows(columns, m.name, e.id, r["curve"]))
        return bool(missing and ok)


def _metric_rows_one_by_one(model, metric, attributions: list, positions: list[int]) -> list[dict]:
    """Rows of ``metric`` computed example by example; an example that raises gets an error row."""
    from xaibench.metrics.evaluation import evaluate_metrics

    try:
        return result_rows(evaluate_metrics(model, [metric], [attributions[i] for i in positions])[metric.name],
                            positions)
    except Exception:
        pass
    rows = []
    # batched: failure isolation: only after the batched call raised
    for i in positions:
        try:
            rows.extend(result_rows(evaluate_metrics(model, [metric], [attributions[i]])[metric.name], [i]))
        except Exception as exc:
            rows.append({"index": i, "error": describe_error(exc)})
    return rows


def _truncated(attribution) -> int | None:
    """Units past the model's max length (scored 0, never seen by the model); None if no attribution."""
    if attribution is None:
        return None
    return int((attribution.metadata or {}).get("n_units_truncated", 0) or 0)


def _progress(total: int, desc: str):
    from xaibench.core.progress import progress_bar

    return progress_bar(total, desc, unit="ex")
