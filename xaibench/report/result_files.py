"""The data files of a run folder, and ``read_results`` to load a folder back as DataFrames.

The large per-example data are Parquet files (zstd-compressed, columnar; read with pandas, polars,
DuckDB or R's arrow):

- ``per_example.parquet``: one row per (dataset, model, explainer, metric, example_id); the values
  every table is recomputed from.
- ``curves.parquet``: the deletion/insertion curves, one row per (..., example_id, fraction);
  values as float32.
- ``attributions.parquet``: one row per explanation (units, scores as float32, character spans,
  target, cost, metadata, explainer parameters) *without* its text;
- ``examples.parquet``: each explained text once per (dataset, model, device, model_seed): text,
  gold label, the model's predicted class (name and index) and its probability, or the predicted
  value for regression, and the reference evidence (planted cause and human rationale as character
  spans, JSON).

Small tables stay CSV (summary.csv, ranks.csv, cost.csv, ...), and ``per_example.csv`` is written
too (the public contract's file, the same rows as per_example.parquet). Folders written before the Parquet
layout (``per_example.csv``, ``curves.csv``, ``attributions.jsonl`` with texts inline) are read
the same way by ``read_results``.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

PER_EXAMPLE = "per_example.parquet"
CURVES = "curves.parquet"
ATTRIBUTIONS = "attributions.parquet"
EXAMPLES = "examples.parquet"
#: Columns of attribution rows stored as JSON text: nested dicts whose keys differ by explainer.
JSON_COLUMNS = ("cost", "metadata", "explainer_params", "spans")
#: What identifies an explained text in examples.parquet (and joins it to attributions).
TEXT_KEYS = ["dataset", "model", "device", "model_seed", "example_id"]
COMPRESSION = "zstd"


def _require_pyarrow() -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:  # pragma: no cover - pyarrow is a dependency
        raise ImportError("xaibench writes and reads Parquet result files with pyarrow: pip install pyarrow") from exc


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=_jsonable, sort_keys=True)


def _jsonable(obj):
    try:
        return obj.tolist()
    except AttributeError:
        return str(obj)


def _with_text_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """Fill the join keys that older rows may lack (device "cpu", model_seed 0)."""
    frame = frame.copy()
    if "device" not in frame:
        frame["device"] = "cpu"
    if "model_seed" not in frame:
        frame["model_seed"] = 0
    frame["model_seed"] = frame["model_seed"].fillna(0).astype(int)
    frame["example_id"] = frame["example_id"].astype(str)
    return frame


def attributions_frame(attribution_rows: list[dict]) -> pd.DataFrame:
    """Attribution rows as a table without the text (that lives in examples.parquet): list columns
    ``units`` (str) and ``scores`` (float64); the nested dicts as JSON text."""
    if not attribution_rows:
        return pd.DataFrame(columns=[*TEXT_KEYS, "explainer", "units", "scores", "target", "output"])
    frame = pd.DataFrame([{k: v for k, v in row.items() if k != "text"} for row in attribution_rows])
    for column in JSON_COLUMNS:
        if column in frame:
            frame[column] = frame[column].map(_json)
    # float32 (7 significant digits): attribution scores are not recomputed from, only shown and
    # correlated; it halves the largest column of the folder.
    frame["scores"] = frame["scores"].map(lambda s: np.asarray(s, dtype=np.float32))
    frame["units"] = frame["units"].map(lambda u: [str(x) for x in u])
    return _with_text_keys(frame)


def examples_frame(example_rows: list[dict], attribution_rows: list[dict]) -> pd.DataFrame:
    """One row per explained text: the session's example rows (label, prediction, references),
    completed from the attribution rows for texts that have none (runs recorded before example rows
    existed, or an explanation made outside the session)."""
    frame = _with_text_keys(pd.DataFrame(example_rows)) if example_rows else pd.DataFrame(columns=TEXT_KEYS + ["text"])
    if attribution_rows:
        texts = _with_text_keys(pd.DataFrame([{**{k: row.get(k) for k in TEXT_KEYS}, "text": row["text"]}
                                              for row in attribution_rows]))
        frame = pd.concat([frame, texts], ignore_index=True)
    frame = frame.drop_duplicates(TEXT_KEYS, keep="first").reset_index(drop=True)
    for column in ("cause", "rationale"):
        if column in frame:
            frame[column] = frame[column].map(lambda v: v if isinstance(v, str) or v is None else _json(v))
    return frame


def write_data_files(folder: Path, per_example: pd.DataFrame, curves: pd.DataFrame, attribution_rows: list[dict],
                     example_rows: list[dict] | None = None) -> list[str]:
    """Write the four Parquet files into ``folder``; return their names."""
    _require_pyarrow()
    folder = Path(folder)
    curves = curves.copy()
    if "value" in curves:  # curve points are pictures' data (float32); the AUCs are in per_example
        curves["value"] = curves["value"].astype(np.float32)
    frames = {PER_EXAMPLE: per_example, CURVES: curves, ATTRIBUTIONS: attributions_frame(attribution_rows),
              EXAMPLES: examples_frame(example_rows or [], attribution_rows)}
    for name, frame in frames.items():
        frame = frame.reset_index(drop=True)
        for column in frame.columns:  # mixed None/str object columns: store as nullable strings
            if frame[column].dtype == object and not frame[column].map(lambda v: isinstance(v, (list, np.ndarray))).any():
                frame[column] = frame[column].map(lambda v: None if v is None or (isinstance(v, float) and math.isnan(v))
                                                  else v if isinstance(v, (str, bool, int, float)) else str(v))
        frame.to_parquet(folder / name, index=False, compression=COMPRESSION)
    return list(frames)


@dataclass
class Results:
    """A run folder as DataFrames (``read_results``). Every table present in the folder is loaded;
    a missing one is an empty DataFrame. ``attributions`` has the text joined back in;
    ``provenance`` is the parsed provenance.json (empty dict when absent)."""

    path: str
    per_example: pd.DataFrame
    summary: pd.DataFrame
    ranks: pd.DataFrame
    task_ranks: pd.DataFrame
    cost: pd.DataFrame
    curves: pd.DataFrame
    attributions: pd.DataFrame
    examples: pd.DataFrame
    extra: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={len(getattr(self, name))}" for name in
                          ("per_example", "summary", "ranks", "curves", "attributions", "examples"))
        return f"Results({self.path!r}: {sizes} rows)"

    def styled_summary(self, dataset: str | None = None, model: str | None = None):
        """The summary of one task as a styled DataFrame (``xaibench.report.highlight.styled_summary``)."""
        from xaibench.report.highlight import styled_summary

        summary = self.summary
        if dataset is not None:
            summary = summary[summary["dataset"] == dataset]
        if model is not None:
            summary = summary[summary["model"] == model]
        return styled_summary(summary)


def _read_table(folder: Path, parquet: str, csv: str | None = None) -> pd.DataFrame:
    if (folder / parquet).is_file():
        _require_pyarrow()
        return pd.read_parquet(folder / parquet)
    if csv and (folder / csv).is_file():
        return pd.read_csv(folder / csv)
    return pd.DataFrame()


def _csv(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / name) if (folder / name).is_file() else pd.DataFrame()


def read_per_example(folder) -> pd.DataFrame:
    """per_example rows of a run folder (Parquet, or per_example.csv of older folders)."""
    return _read_table(Path(folder), PER_EXAMPLE, "per_example.csv")


def read_attributions(folder) -> pd.DataFrame:
    """Attribution rows with their text (``attributions.parquet`` joined with ``examples.parquet``;
    older folders: ``attributions.jsonl``); JSON columns parsed back into dicts and lists."""
    folder = Path(folder)
    if (folder / ATTRIBUTIONS).is_file():
        _require_pyarrow()
        frame = pd.read_parquet(folder / ATTRIBUTIONS)
        for column in JSON_COLUMNS:
            if column in frame:
                frame[column] = frame[column].map(lambda v: json.loads(v) if isinstance(v, str) else v)
        frame["units"] = frame["units"].map(list)
        frame["scores"] = frame["scores"].map(lambda s: [float(x) for x in s])
        examples = read_examples(folder)
        if len(examples) and "text" in examples:
            frame = frame.merge(examples[TEXT_KEYS + ["text"]], on=TEXT_KEYS, how="left")
        return frame
    if (folder / "attributions.jsonl").is_file():
        return pd.read_json(folder / "attributions.jsonl", lines=True, dtype=False)
    return pd.DataFrame()


def read_examples(folder) -> pd.DataFrame:
    """examples.parquet (texts, labels, predictions, references) of a run folder; for older folders,
    the distinct texts of attributions.jsonl."""
    folder = Path(folder)
    if (folder / EXAMPLES).is_file():
        _require_pyarrow()
        return pd.read_parquet(folder / EXAMPLES)
    if (folder / "attributions.jsonl").is_file():
        rows = [json.loads(line) for line in open(folder / "attributions.jsonl", encoding="utf-8")]
        return examples_frame([], rows)
    return pd.DataFrame()


def read_results(path) -> Results:
    """Load a results folder (``results/<run>``, ``results/reference``) as DataFrames.

    ``path``: the folder, or any file in it. Reads both the Parquet layout and the CSV/JSONL layout
    of folders written before it. FileNotFoundError when the folder has no summary.csv and no
    per-example data."""
    folder = Path(path)
    folder = folder.parent if folder.is_file() else folder
    if not folder.is_dir():
        raise FileNotFoundError(f"results folder {str(path)!r} does not exist")
    per_example = read_per_example(folder)
    summary = _csv(folder, "summary.csv")
    if per_example.empty and summary.empty:
        raise FileNotFoundError(f"{str(folder)!r} is not a results folder: it has neither {PER_EXAMPLE} "
                                "(or per_example.csv) nor summary.csv")
    extra = {name.removesuffix(".csv"): _csv(folder, name)
             for name in ("removal_agreement.csv", "devices.csv", "model_seeds.csv") if (folder / name).is_file()}
    provenance = {}
    if (folder / "provenance.json").is_file():
        provenance = json.loads((folder / "provenance.json").read_text(encoding="utf-8"))
    return Results(path=os.fspath(folder), per_example=per_example, summary=summary, ranks=_csv(folder, "ranks.csv"),
                   task_ranks=_csv(folder, "task_ranks.csv"), cost=_csv(folder, "cost.csv"),
                   curves=_read_table(folder, CURVES, "curves.csv"), attributions=read_attributions(folder),
                   examples=read_examples(folder), extra=extra, provenance=provenance)
