"""User data files: CSV (UTF-8, optional BOM, or ``encoding=``) or JSONL, in the format of
docs/api.md ("User data files"): columns ``text`` and either ``label`` (class index or class name;
any number of classes: a classification task) or ``target`` (a finite number: a regression task), optional ``id``
and ``rationale`` (see ``parse_rationale``).

The whole file is checked before anything else happens and every problem is reported at once with
its line number (header = line 1 for CSV; JSONL lines are numbered from 1).
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import re

from xaibench.core.errors import DataValidationError
from xaibench.core.records import Example
from xaibench.core.references import rationale_spans
from xaibench.core.units import split_units
from xaibench.datasets.base import Dataset


def _decode(path: str, raw: bytes, encoding: str) -> str:
    """The file's text; a UTF-8 BOM is dropped. Undecodable bytes are reported for every line."""
    utf8 = encoding.lower().replace("_", "-") in ("utf-8", "utf8")
    try:
        return raw.decode("utf-8-sig" if utf8 else encoding)
    except UnicodeDecodeError:
        pass
    hint = (" (Chinese exports are often GBK: pass --xb-encoding gbk / encoding='gbk')" if utf8 else
            " (check the file's encoding: --xb-encoding utf-8, gb18030, big5 ...)")
    problems = []
    for no, line in enumerate(raw.split(b"\n"), start=1):
        try:
            line.decode("utf-8-sig" if utf8 and no == 1 else encoding)
        except UnicodeDecodeError as exc:
            bad = line[exc.start:exc.start + 4]
            problems.append(f"line {no}: bytes {bad!r} at column {exc.start + 1} cannot be decoded as {encoding}{hint}")
    raise DataValidationError(path, problems or [f"line 1: the file cannot be decoded as {encoding}{hint}"])


def _read_rows(path: str, encoding: str) -> tuple[list[tuple[int, dict]], list[str]]:
    with open(path, "rb") as fh:
        raw = fh.read()
    text = _decode(path, raw, encoding)
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
        try:
            for row in reader:
                # reader.line_num is the physical line of the row's end; header is line 1.
                problem = _field_count_problem(reader, row)
                if problem:
                    problems.append(problem)
                    continue
                rows.append((reader.line_num, row))
        except csv.Error as exc:
            problems.append(f"line {reader.line_num}: not valid CSV ({exc})")
        if reader.fieldnames is None:
            problems.append("line 1: the file is empty (expected a header with 'text' and 'label' or 'target')")
    return rows, problems


def _field_count_problem(reader, row: dict) -> str | None:
    """A row with more fields than the header (an unquoted comma in a text, usually) or fewer."""
    width = len(reader.fieldnames or [])
    if row.get(None):  # DictReader's restkey: the fields past the header
        return (f"line {reader.line_num}: {width + len(row[None])} fields but the header has {width} "
                f"(extra: {row[None]!r}); quote a text that contains commas")
    n_fields = sum(v is not None for k, v in row.items() if k is not None)
    if n_fields < width:  # DictReader's restval: missing fields are None
        return f"line {reader.line_num}: {n_fields} field(s) but the header has {width}"
    return None


def _is_missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip().lower() in ("", "nan", "null", "none")


def read_user_file(path: str, encoding: str = "utf-8", label_names: list[str] | None = None,
                   task_type: str | None = None) -> Dataset:
    """Read and validate a user CSV/JSONL file; raise ``DataValidationError`` listing all problems.

    A ``target`` column makes a regression data set (``Dataset.task_type == "regression"``, float
    labels), a ``label`` column a classification one with as many classes as it names.
    ``label_names``: the model's classes; every label must be one of them. ``task_type``: the
    model's ("classification"/"regression"); a file of the other kind is a problem.
    """
    if not os.path.isfile(path):
        raise DataValidationError(path, ["file not found"])
    rows, problems = _read_rows(path, encoding)
    columns = set().union(*(r.keys() for _, r in rows)) if rows else set()
    if rows and "text" not in columns:
        problems.append(f"line 1: missing column 'text'{_case_hint('text', columns)} "
                        f"(found: {', '.join(sorted(map(str, columns)))})")
    if rows and not ({"label", "target"} & columns):
        problems.append(f"line 1: missing column 'label'{_case_hint('label', columns)} (classification) or "
                        "'target' (regression)")
    if rows and {"label", "target"} <= columns:
        problems.append("line 1: both 'label' (classification) and 'target' (regression) columns; keep one")
    if not rows and not problems:
        problems.append("line 2: no data rows (the file has a header only)")
    regression = "target" in columns and "label" not in columns
    if rows and {"label", "target"} & columns and task_type is not None:
        if regression and task_type == "classification":
            names = f" {list(label_names)}" if label_names else ""
            problems.append(f"line 1: a 'target' column makes this a regression data set, but the model is a "
                            f"classifier{names}; give class labels in a 'label' column")
        elif not regression and task_type == "regression":
            problems.append("line 1: a 'label' column makes this a classification data set, but the model is a "
                            "regression model; give numeric targets in a 'target' column")
    if problems:
        raise DataValidationError(path, problems)
    examples, seen_ids, raw_labels = [], {}, []
    for no, row in rows:
        text = row.get("text")
        if text is not None and not isinstance(text, str) and not _is_missing(text):
            problems.append(f"line {no}: text must be a string, got {type(text).__name__} {text!r}")
            continue
        if _is_missing(text) and (text is None or str(text).strip()):
            problems.append(f"line {no}: missing text {text!r} (NaN/null is not a text)")
            continue
        if _is_missing(text) or not str(text).strip():
            problems.append(f"line {no}: empty text {text!r}")
            continue
        if not split_units(text):
            problems.append(f"line {no}: empty text {text!r} (only invisible characters)")
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
                if isinstance(value, bool):  # JSON true/false is not a number here
                    raise ValueError
                value = float(value)
                if not math.isfinite(value):
                    raise ValueError
            except (TypeError, ValueError):
                problems.append(f"line {no}: target {row.get(key)!r} is not a finite number")
                continue
        pieces, spans = (), ()
        if not _is_missing(row.get("rationale")):
            try:
                pieces, spans = parse_rationale(row.get("rationale"))
                rationale_spans(text, pieces, spans)  # every piece and span is a whole sequence of units
            except ValueError as exc:
                problems.append(f"line {no}: {exc}")
                continue
        raw_labels.append(value)
        examples.append((no, Example(rid, text, value, pieces, rationale_spans=spans)))
    name = os.path.basename(path)
    if not regression:
        names, fixed, label_problems = _label_index(examples, label_names)
        problems = sorted(problems + label_problems, key=_line_number)
    if problems:
        raise DataValidationError(path, problems)
    if regression:
        return Dataset(name=name, examples=[e for _, e in examples], label_names=["target"],
                       task_type="regression", language="unknown", source=os.path.abspath(path),
                       info={"regression": True})
    return Dataset(name=name, examples=fixed, label_names=names, language="unknown",
                   source=os.path.abspath(path), info={})


_OFFSETS = re.compile(r"([0-9]+):([0-9]+)")
_ESCAPED_OFFSETS = re.compile(r"\\+[0-9]+:[0-9]+")


def parse_rationale(value) -> tuple[tuple[str, ...], tuple[tuple[int, int], ...]]:
    """The ``rationale`` field of a row as (pieces, spans), for ``Example.rationale`` and
    ``Example.rationale_spans``; whether they fit the text is checked by ``rationale_spans``.

    A string (CSV, or JSONL) is a ``|``-separated list of entries, each stripped of surrounding
    whitespace, empty ones skipped:
    - ``START:END`` (ASCII digits, e.g. ``12:19``) is a span: 0-based code-point offsets into the
      text, end exclusive; it marks that one occurrence;
    - a backslash in front (``\\12:19``) makes it the literal piece ``12:19`` (one backslash is
      dropped: ``\\\\12:19`` is the piece ``\\12:19``); no other entry is ever changed;
    - anything else is a piece: a substring of the text, marking every occurrence of it that starts
      and ends at unit boundaries.
    A JSON list (JSONL) holds pieces (strings, always literal: no ``|`` splitting, no offsets) and
    spans (``[start, end]`` pairs of integers), mixed as you like.
    ValueError for a JSON list entry that is neither.
    """
    pieces, spans = [], []
    if isinstance(value, list):
        for item in value:
            if isinstance(item, str):
                pieces.append(item.strip())
            elif isinstance(item, list) and len(item) == 2:
                spans.append(tuple(item))
            else:
                raise ValueError(f"rationale entry {item!r} is neither a piece (a string) nor a span [start, end]")
    else:
        for entry in str(value).split("|"):
            entry = entry.strip()
            offsets = _OFFSETS.fullmatch(entry)
            if offsets:
                spans.append((int(offsets[1]), int(offsets[2])))
            elif entry:
                pieces.append(entry[1:] if _ESCAPED_OFFSETS.fullmatch(entry) else entry)
    return tuple(p for p in pieces if p), tuple(spans)


def _case_hint(name: str, columns: set) -> str:
    near = [str(c) for c in columns if c is not None and str(c).strip().lower() == name]
    return f" (found {near[0]!r}: column names are lower-case, without spaces)" if near else ""


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
        if numeric and as_int:  # (no row left when every row has a problem)
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
        out.append(dataclasses.replace(e, label=idx))
    return list(label_names), out, problems
