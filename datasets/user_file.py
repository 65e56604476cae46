"""User data files: CSV (UTF-8, optional BOM, or ``encoding=``) or JSONL, in the format of
../shared/API.md: columns ``text`` and ``label`` (class index or class name) or ``target`` (a number:
regression), optional ``id`` and ``rationale`` (``|``-separated substrings of ``text``).

The whole file is checked before anything else happens and every problem is reported at once with
its line number (header = line 1 for CSV; JSONL lines are numbered from 1).
"""
from __future__ import annotations

import csv
import io
import json
import math
import os

from ..errors import DataValidationError
from ..records import Example
from .base import Dataset


def _read_rows(path: str, encoding: str) -> tuple[list[tuple[int, dict]], list[str]]:
    raw = open(path, "rb").read()
    try:
        text = raw.decode("utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        hint = " (Chinese exports are often GBK: pass --xb-encoding gbk / encoding='gbk')" if encoding.startswith("utf") else ""
        raise DataValidationError(path, [f"line {line}: bytes cannot be decoded as {encoding}{hint}"]) from None
    rows, problems = [], []
    if path.lower().endswith((".jsonl", ".ndjson", ".json")):
        for no, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"line {no}: not valid JSON ({exc.msg})")
                continue
            if not isinstance(obj, dict):
                problems.append(f"line {no}: expected a JSON object, got {type(obj).__name__}")
                continue
            rows.append((no, obj))
    else:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        for row in reader:
            # reader.line_num is the physical line of the row's end; header is line 1.
            rows.append((reader.line_num, row))
        if reader.fieldnames is None:
            problems.append("line 1: the file is empty (expected a header with 'text' and 'label')")
    return rows, problems


def _is_missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip().lower() in ("", "nan", "null", "none")


def read_user_file(path: str, encoding: str = "utf-8", label_names: list[str] | None = None) -> Dataset:
    """Read and validate a user CSV/JSONL file; raise ``DataValidationError`` listing all problems."""
    if not os.path.isfile(path):
        raise DataValidationError(path, ["file not found"])
    rows, problems = _read_rows(path, encoding)
    columns = set().union(*(r.keys() for _, r in rows)) if rows else set()
    if rows and "text" not in columns:
        problems.append(f"line 1: missing column 'text' (found: {', '.join(sorted(map(str, columns)))})")
    if rows and not ({"label", "target"} & columns):
        problems.append("line 1: missing column 'label' (classification) or 'target' (regression)")
    if not rows and not problems:
        problems.append("no data rows")
    if problems:
        raise DataValidationError(path, problems)
    regression = "target" in columns and "label" not in columns
    examples, seen_ids, raw_labels = [], {}, []
    for no, row in rows:
        text = row.get("text")
        if _is_missing(text) or not str(text).strip():
            problems.append(f"line {no}: empty text {text!r}")
            continue
        text = str(text)
        rid = row.get("id")
        rid = f"row-{no}" if _is_missing(rid) else str(rid).strip()
        if rid in seen_ids:
            problems.append(f"line {no}: duplicate id {rid!r} (first on line {seen_ids[rid]})")
            continue
        seen_ids[rid] = no
        key = "target" if regression else "label"
        value = row.get(key)
        if _is_missing(value):
            problems.append(f"line {no}: missing {key} {value!r}")
            continue
        if regression:
            try:
                value = float(value)
                if not math.isfinite(value):
                    raise ValueError
            except (TypeError, ValueError):
                problems.append(f"line {no}: target {row.get(key)!r} is not a finite number")
                continue
        rationale = row.get("rationale")
        spans: tuple[str, ...] = ()
        if not _is_missing(rationale):
            spans = tuple(s for s in str(rationale).split("|") if s.strip())
            missing = [s for s in spans if s not in text]
            if missing:
                problems.append(f"line {no}: rationale piece {missing[0]!r} is not a substring of the text")
                continue
        raw_labels.append(value)
        examples.append((no, Example(rid, text, value, spans)))
    name = os.path.basename(path)
    if not regression:
        names, fixed, label_problems = _label_index(examples, label_names)
        problems = sorted(problems + label_problems, key=_line_number)
    if problems:
        raise DataValidationError(path, problems)
    if regression:
        return Dataset(name=name, examples=[e for _, e in examples], label_names=["value"],
                       task_type="regression", language="unknown", source=os.path.abspath(path),
                       info={"regression": True})
    return Dataset(name=name, examples=fixed, label_names=names, language="unknown",
                   source=os.path.abspath(path), info={})


def _line_number(problem: str) -> int:
    try:
        return int(problem.split(":", 1)[0].split()[1])
    except (IndexError, ValueError):
        return 0


def _label_index(examples: list[tuple[int, Example]], label_names: list[str] | None):
    """Map labels (indices or names) onto class indices; with ``label_names`` (the model's), every
    label must be one of them."""
    problems, out = [], []
    values = [e.label for _, e in examples]
    as_int = []
    for v in values:
        try:
            as_int.append(int(str(v).strip()) if float(str(v).strip()).is_integer() else None)
        except ValueError:
            as_int.append(None)
    numeric = all(i is not None for i in as_int)
    if label_names is None:
        if numeric:
            label_names = [str(i) for i in range(max(as_int) + 1)]
        else:
            label_names = sorted({str(v).strip() for v in values})
    lower = {n.lower(): i for i, n in enumerate(label_names)}
    for (no, e), i in zip(examples, as_int):
        if i is not None and 0 <= i < len(label_names) and str(e.label).strip().lower() not in lower:
            idx = i
        else:
            idx = lower.get(str(e.label).strip().lower())
        if idx is None:
            problems.append(f"line {no}: label {e.label!r} is not one of the classes {label_names}")
            continue
        out.append(Example(e.id, e.text, idx, e.rationale))
    return list(label_names), out, problems
