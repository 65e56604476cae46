"""``RunRecord``: the plain data one benchmark run collects, and the one place its rows are built.

Every row is plain data (str, float, int, list, dict), so a pytest-xdist worker ships its record
as a JSON shard and the report writer (``xaibench.report.writer.write_run``) reads a record,
never a session. Four row kinds:

- ``per_example``: one row per (cell, metric, example) with the value and its random reference
  (``metric_row``); failed examples and failed cells are rows too, with ``status="error"``;
- ``curves``: one row per point of a per-example curve (``curve_rows``);
- ``attribution_rows``: one row per explanation (``attribution_row``);
- ``outcome_rows``: one row per cell (status, errors, seconds).
"""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

ROW_KINDS = ("per_example", "curves", "attribution_rows", "outcome_rows", "example_rows")


@dataclass
class RunRecord:
    """What a run produced. ``config`` is the ``RunConfig``; ``rootdir`` the project folder
    (``results/`` goes there unless ``--xb-out`` is given); ``started`` a Unix time;
    ``model_info``/``dataset_info`` are keyed ``"<model>@<device>"`` / dataset name;
    ``torch_threads`` is the thread count the cells ran with (a list when xdist workers differed)."""

    config: Any
    rootdir: str = "."
    started: float = field(default_factory=time.time)
    per_example: list[dict] = field(default_factory=list)
    curves: list[dict] = field(default_factory=list)
    attribution_rows: list[dict] = field(default_factory=list)
    outcome_rows: list[dict] = field(default_factory=list)
    #: One row per explained text and model (``example_row``): gold label, prediction, references.
    example_rows: list[dict] = field(default_factory=list)
    model_info: dict = field(default_factory=dict)
    dataset_info: dict = field(default_factory=dict)
    torch_threads: int | list[int] | None = None
    #: The Ray cluster of a distributed run (``xaibench.harness.ray_backend.cluster_info``), else None.
    cluster: dict | None = None
    #: The rounds and stop reason of a budgeted run (``xaibench.harness.budget``), else None.
    budget: dict | None = None

    # ---- shards (pytest-xdist) -------------------------------------------------------------------
    def shard(self) -> dict:
        """The rows and infos as one JSON-ready dict."""
        return {**{kind: getattr(self, kind) for kind in ROW_KINDS}, "model_info": self.model_info,
                "dataset_info": self.dataset_info, "torch_threads": self.torch_threads}

    def merge(self, shard: dict) -> None:
        """Add a worker's shard (rows appended; infos updated)."""
        for kind in ROW_KINDS:
            getattr(self, kind).extend(shard.get(kind, []))
        self.model_info.update(shard["model_info"])
        self.dataset_info.update(shard["dataset_info"])

    def sort_rows(self, cell_ids: Sequence[str]) -> None:
        """Order rows as a serial run would: by the position of their cell in ``cell_ids``, then
        (stable sort) example order within a cell."""
        order = {cell_id: i for i, cell_id in enumerate(cell_ids)}

        def rank(row: dict) -> float:
            return order.get(cell_id_of(row), 1e9)

        for kind in ("per_example", "curves", "attribution_rows"):
            getattr(self, kind).sort(key=rank)
        self.outcome_rows.sort(key=lambda r: order.get(r["cell"], 1e9))


def cell_id(dataset: str, model: str, explainer: str, device: str = "cpu") -> str:
    """The id of a cell of the matrix (also the pytest test id)."""
    suffix = "" if device == "cpu" else f"-{device}"
    return f"{dataset}-{model}-{explainer}{suffix}"


def cell_id_of(row: dict) -> str:
    return cell_id(row["dataset"], row["model"], row["explainer"], row.get("device", "cpu"))


def metric_row(cell: dict, metric: str, example_id: str, *, higher_is_better: bool | None, value: float = np.nan,
               random_reference: float = np.nan, note: str | None = None, error: bool = False,
               n_units_truncated: int | None = None, not_applicable: str | None = None,
               circular: str | None = None) -> dict:
    """One ``per_example`` row. ``cell``: the cell's columns (dataset, model, explainer, device,
    task_type when known). ``status`` is ``error`` when ``error``, ``not_applicable`` when the
    metric does not apply to the explainer (``not_applicable`` is the reason, e.g.
    "deterministic", and becomes the note), ``nan`` for an undefined value (``note`` says why),
    else ``ok``. ``circular``: why the metric only recomputes the explainer's own quantity
    (``xaibench.metrics.circularity``), or None; tables mark such cells and rank without them."""
    if not_applicable:
        status, note = "not_applicable", not_applicable
    else:
        status = "error" if error else ("ok" if np.isfinite(value) else "nan")
    return {**cell, "metric": metric, "example_id": example_id, "value": value, "random_reference": random_reference,
            "status": status, "note": note, "higher_is_better": higher_is_better,
            "n_units_truncated": n_units_truncated, "circular": circular}


def curve_rows(cell: dict, metric: str, example_id: str, curve: dict) -> list[dict]:
    """One ``curves`` row per point of a per-example curve (``{"fractions": [...], "values": [...]}``)."""
    return [{**cell, "metric": metric, "example_id": example_id, "fraction": float(q), "value": float(v)}
            for q, v in zip(curve["fractions"], curve["values"])]


def attribution_row(cell: dict, example_id: str, attribution) -> dict:
    """One ``attribution_rows`` row: the cell's columns, the example id and the explanation
    (``Attribution.to_dict``, with its ``explainer`` dict under ``explainer_params``)."""
    row = attribution.to_dict()
    row["explainer_params"] = row.pop("explainer")
    return {**cell, "example_id": example_id, **row}


def example_row(cell: dict, example, model, logits) -> dict:
    """One ``example_rows`` row: the text of ``example`` with its gold label, the model's prediction
    from ``logits`` (its output row for the full text; None when unknown) and its reference evidence
    (character spans of the planted cause and of the human rationale)."""
    from xaibench.core.references import reference_of
    from xaibench.modeling.classifier import _softmax

    labels = list(getattr(model, "labels", []) or [])
    row = {k: cell.get(k) for k in ("dataset", "model", "device", "base_model", "model_seed", "task_type")}
    row.update(example_id=example.id, text=example.text, label=_label_text(example.label, labels))
    try:
        reference = reference_of(example)
    except ValueError:
        reference = {}
    row.update(cause=reference.get("cause"), rationale=reference.get("rationale"))
    if logits is not None:
        logits = np.asarray(logits, dtype=np.float64)
        if getattr(model, "task_type", "classification") == "regression":
            row.update(predicted=f"{float(logits[0]):.3g}", predicted_index=None, probability=None,
                       predicted_value=float(logits[0]))
        else:
            p = _softmax(logits[None, :])[0]
            k = int(p.argmax())
            row.update(predicted=labels[k] if k < len(labels) else str(k), predicted_index=k,
                       probability=float(p[k]), predicted_value=None)
    return row


def _label_text(label, labels: list[str]) -> str:
    """The gold label as a reader sees it: a class name for an integer class index, else the value."""
    if isinstance(label, (int, np.integer)) and not isinstance(label, bool) and len(labels) > 1 \
            and 0 <= int(label) < len(labels):
        return labels[int(label)]
    return str(label)


def result_rows(result, positions: list[int]) -> list[dict]:
    """A ``MetricResult`` as the plain rows the result cache stores: one per attribution, with its
    position ``index`` in the chunk, value, random reference, note and curve."""
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


def describe_error(exc: BaseException) -> str:
    """One line for an error row: type, message and where it was raised (file:line)."""
    last = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" (at {last.filename.rsplit('/', 1)[-1]}:{last.lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"
