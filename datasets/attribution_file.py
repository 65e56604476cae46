"""Explanations computed elsewhere, in a JSONL file: ``--xb-attributions FILE.jsonl``.

One JSON object per line (blank lines are skipped):

- ``text`` (required): the explained text, exactly as in the data set (it is matched by text);
- ``scores`` (required): one number per unit;
- ``units`` (optional): the units the scores refer to, each a string; or ``spans`` (optional):
  their character spans ``[start, end)``; either must equal the text's units
  (``xaibench.core.units.split_units``: words and punctuation in English, characters in Chinese),
  which is how xaibench checks that the scores are in the right places; without both, there must
  be one score per unit;
- ``target`` (optional): the explained class, an index or a class name of the model (default: the
  model's prediction);
- ``explainer`` (optional, default ``"external"``): the name the explanations carry in the tables;
  a file may hold several explainers, one line per (explainer, text).

Every problem is reported with its line number before any model is loaded (``DataValidationError``).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass

from xaibench.core.errors import DataValidationError
from xaibench.core.units import split_units

DEFAULT_NAME = "external"


@dataclass(frozen=True)
class AttributionLine:
    """One line of an attributions file: where it is, what it explains and its scores."""

    line: int
    text: str
    scores: tuple[float, ...]
    target: int | str | None


def file_fingerprint(path: str) -> str:
    """SHA-256 of the file's bytes (cache keys: an edited file gives new results)."""
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()[:16]


def read_attribution_file(path: str, reserved: set[str] = frozenset()) -> dict[str, dict[str, AttributionLine]]:
    """``{explainer name: {text: AttributionLine}}`` of a checked file. ``reserved``: names the file
    may not use (built-in explainers: a table row must say where its scores come from)."""
    if not os.path.isfile(path):
        raise DataValidationError(path, ["file not found"])
    out: dict[str, dict[str, AttributionLine]] = {}
    problems: list[str] = []
    with open(path, encoding="utf-8-sig") as fh:
        for no, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as exc:
                problems.append(f"line {no}: not JSON ({exc.msg} at column {exc.colno})")
                continue
            if not isinstance(record, dict):
                problems.append(f"line {no}: a line must be a JSON object with 'text' and 'scores'")
                continue
            parsed = _check_record(no, record, reserved, problems)
            if parsed is None:
                continue
            name, entry = parsed
            first = out.setdefault(name, {}).get(entry.text)
            if first is not None:
                problems.append(f"line {no}: explainer {name!r} explains this text already on line {first.line}")
                continue
            out[name][entry.text] = entry
    if not out and not problems:
        problems.append("line 1: no attributions (the file is empty)")
    if problems:
        raise DataValidationError(path, problems)
    return out


def _check_record(no: int, record: dict, reserved: set[str], problems: list[str]):
    text, scores = record.get("text"), record.get("scores")
    if not isinstance(text, str) or not text.strip():
        problems.append(f"line {no}: 'text' must be a non-empty string, got {text!r}")
        return None
    if not isinstance(scores, list) or not all(_is_number(s) for s in scores):
        problems.append(f"line {no}: 'scores' must be a list of finite numbers, got {_short(scores)}")
        return None
    name = record.get("explainer", DEFAULT_NAME)
    if not isinstance(name, str) or not name.strip():
        problems.append(f"line {no}: 'explainer' must be a non-empty string, got {name!r}")
        return None
    if name in reserved:
        problems.append(f"line {no}: explainer {name!r} is a built-in explainer's name; name scores computed "
                        f"elsewhere differently (e.g. {name + '_external'!r})")
        return None
    units = split_units(text)
    expected = [u.text for u in units]
    if "units" in record:
        given = record["units"]
        if not isinstance(given, list) or list(given) != expected:
            problems.append(f"line {no}: 'units' {_short(given)} do not match the text's units {_short(expected)} "
                            "(words and punctuation in English, characters in Chinese)")
            return None
    elif "spans" in record:
        given = record["spans"]
        spans = [[u.start, u.end] for u in units]
        if not isinstance(given, list) or [list(s) if isinstance(s, (list, tuple)) else s for s in given] != spans:
            problems.append(f"line {no}: 'spans' {_short(given)} do not match the text's unit spans {_short(spans)}")
            return None
    if len(scores) != len(units):
        problems.append(f"line {no}: {len(scores)} scores for the text's {len(units)} units {_short(expected)}")
        return None
    target = record.get("target")
    if target is not None and (isinstance(target, bool) or not isinstance(target, (int, str))):
        problems.append(f"line {no}: 'target' must be a class index or a class name, got {target!r}")
        return None
    return name, AttributionLine(no, text, tuple(float(s) for s in scores), target)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _short(value) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
