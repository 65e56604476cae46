"""Attributions files (``--xb-attributions``): every problem reported with its line before any model
loads; names, units, spans and targets checked."""
from __future__ import annotations

import json

import pytest

from xaibench.core.errors import DataValidationError
from xaibench.datasets.attribution_file import read_attribution_file


def write(path, *lines):
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)
                              for line in lines) + "\n", encoding="utf-8")
    return str(path)


def test_a_valid_file_with_two_explainers(tmp_path):
    path = write(tmp_path / "a.jsonl",
                 {"text": "great phone", "scores": [0.9, 0.1], "explainer": "ferret_lime"},
                 {"text": "great phone", "units": ["great", "phone"], "scores": [0.5, 0.5], "explainer": "mine"},
                 "",
                 {"text": "质量很好", "spans": [[0, 1], [1, 2], [2, 3], [3, 4]], "scores": [0, 0, 0, 1], "target": 1})
    read = read_attribution_file(path)
    assert sorted(read) == ["external", "ferret_lime", "mine"]
    assert read["ferret_lime"]["great phone"].scores == (0.9, 0.1)
    assert read["external"]["质量很好"].line == 4 and read["external"]["质量很好"].target == 1


def test_every_problem_is_reported_with_its_line(tmp_path):
    path = write(tmp_path / "bad.jsonl",
                 "not json",
                 {"scores": [1]},
                 {"text": "great phone", "scores": [1.0]},
                 {"text": "great phone", "units": ["great", "phones"], "scores": [1, 2]},
                 {"text": "great phone", "spans": [[0, 5], [6, 10]], "scores": [1, 2]},
                 {"text": "great phone", "scores": [1, "x"]},
                 {"text": "great phone", "scores": [1, 2], "explainer": "lime"},
                 {"text": "great phone", "scores": [1, 2], "target": 1.5},
                 {"text": "fine", "scores": [1]},
                 {"text": "fine", "scores": [2]})
    with pytest.raises(DataValidationError) as info:
        read_attribution_file(path, reserved={"lime"})
    problems = info.value.problems
    assert problems[0].startswith("line 1: not JSON")
    assert problems[1] == "line 2: 'text' must be a non-empty string, got None"
    assert problems[2].startswith("line 3: 1 scores for the text's 2 units")
    assert problems[3].startswith("line 4: 'units' [\"great\", \"phones\"] do not match the text's units")
    assert problems[4].startswith("line 5: 'spans' [[0, 5], [6, 10]] do not match the text's unit spans [[0, 5], [6, 11]]")
    assert problems[5].startswith("line 6: 'scores' must be a list of finite numbers")
    assert problems[6].startswith("line 7: explainer 'lime' is a built-in explainer's name")
    assert problems[7].startswith("line 8: 'target' must be a class index or a class name")
    assert problems[8] == "line 10: explainer 'external' explains this text already on line 9"
    assert len(problems) == 9


def test_an_empty_or_missing_file(tmp_path):
    with pytest.raises(DataValidationError, match="file not found"):
        read_attribution_file(str(tmp_path / "nope.jsonl"))
    with pytest.raises(DataValidationError, match="no attributions"):
        read_attribution_file(write(tmp_path / "empty.jsonl", ""))
