"""A user's data file (CSV or JSON Lines) is refused up front with one precise sentence per problem
(line number and offending value), every problem at once; odd but valid files are read."""
from pathlib import Path

import pytest

from xaibench.core.errors import DataValidationError
from xaibench.datasets.user_file import read_user_file

CLASSES = ["negative", "positive"]
GBK_ROW = "text,label\n质量很好,positive\n".encode("gbk")

# ---- the catalogue of bad data files: (file name, content, fragment of the message) ---------------
BAD_FILES = [
    ("no_text.csv", "review,label\ngood,1\n", "line 1: missing column 'text' (found: label, review)"),
    ("no_label.csv", "text,stars\ngood,1\n", "line 1: missing column 'label' (classification) or 'target'"),
    ("capital.csv", "Text,label\ngood,1\n", "missing column 'text' (found 'Text': column names are lower-case"),
    ("empty_text.csv", "text,label\ngood,1\n,0\n", "line 3: empty text ''"),
    ("blank_text.csv", "text,label\n   ,1\n", "line 2: empty text '   '"),
    ("ideographic_space.csv", "text,label\n\u3000\u3000,1\n", "line 2: empty text '\\u3000\\u3000'"),
    ("zero_width.csv", "text,label\n\u200b\u200d,1\n", "line 2: empty text '\\u200b\\u200d' (only invisible"),
    ("nan_text.csv", "text,label\nNaN,1\n", "line 2: missing text 'NaN' (NaN/null is not a text)"),
    ("nan_label.csv", "text,label\ngood,NaN\n", "line 2: missing label 'NaN'"),
    ("typo_label.csv", "text,label\ngood,positve\n",
     "line 2: label 'positve' is not one of the classes ['negative', 'positive']"),
    ("zh_label.csv", "text,label\n质量很好,好评\n", "line 2: label '好评' is not one of the classes"),
    ("index_label.csv", "text,label\ngood,7\n", "line 2: label '7' is not one of the classes"),
    ("negative_index.csv", "text,label\ngood,-1\n", "line 2: label '-1' is not one of the classes"),
    ("duplicate_id.csv", "id,text,label\na1,good,1\na1,bad,0\n", "line 3: duplicate id 'a1' (first on line 2)"),
    ("zh_duplicate_id.csv", "id,text,label\n评论1,很好,1\n评论1,很差,0\n", "line 3: duplicate id '评论1' (first on line 2)"),
    ("gbk.csv", GBK_ROW, "cannot be decoded as utf-8 (Chinese exports are often GBK: pass --xb-encoding gbk"),
    ("extra_field.csv", "text,label\ngood, really good,1\n",
     "line 2: 3 fields but the header has 2 (extra: ['1']); quote a text that contains commas"),
    ("short_row.csv", "id,text,label\nx1,good\n", "line 2: 2 field(s) but the header has 3"),
    ("rationale.csv", "text,label,rationale\n物流很快,1,差评\n", "line 2: rationale piece '差评' is not a substring"),
    ("empty.csv", "", "line 1: the file is empty"),
    ("header_only.csv", "text,label\n", "line 2: no data rows (the file has a header only)"),
    ("bad_json.jsonl", '{"text": "good", "label": 1}\n{"text": "bad", label: 0}\n', "line 2: not valid JSON"),
    ("list.jsonl", '["good", 1]\n', "line 1: expected a JSON object, got list"),
    ("number_text.jsonl", '{"text": 5, "label": 1}\n', "line 1: text must be a string, got int 5"),
    ("nan.jsonl", '{"text": "很好", "label": NaN}\n', "line 1: missing label nan"),
    ("null_text.jsonl", '{"text": null, "label": 1}\n', "line 1: missing text None (NaN/null is not a text)"),
    ("missing.csv", None, "file not found"),
]


def _write(tmp_path: Path, name: str, content) -> str:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return str(path)


@pytest.mark.parametrize("name, content, fragment", BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_bad_data_file_is_refused_with_line_and_value(tmp_path, name, content, fragment):
    with pytest.raises(DataValidationError) as info:
        read_user_file(_write(tmp_path, name, content), label_names=CLASSES)
    assert fragment in str(info.value)


def test_every_problem_of_a_file_is_reported_at_once_in_line_order(tmp_path):
    path = _write(tmp_path, "many.csv", "id,text,label\n"
                  "a,good,positive\n"      # 2 fine
                  "b,,negative\n"          # 3 empty text
                  "a,bad,negative\n"       # 4 duplicate id
                  "c,很好,好评\n"           # 5 label not a class
                  "d,fine,NaN\n"           # 6 NaN label
                  "e,\u200b,positive\n")   # 7 invisible text
    with pytest.raises(DataValidationError) as info:
        read_user_file(path, label_names=CLASSES)
    problems = info.value.problems
    assert [p.split(":")[0] for p in problems] == ["line 3", "line 4", "line 5", "line 6", "line 7"]
    assert "5 problem(s) found" in str(info.value)


def test_undecodable_bytes_are_reported_on_every_line(tmp_path):
    path = _write(tmp_path, "gbk2.csv", "text,label\n质量很好,positive\nok,negative\n太差了,negative\n".encode("gbk"))
    with pytest.raises(DataValidationError) as info:
        read_user_file(path, label_names=CLASSES)
    assert [p.split(":")[0] for p in info.value.problems] == ["line 2", "line 4"]
    ds = read_user_file(path, encoding="gbk", label_names=CLASSES)  # the hint works
    assert ds.texts == ["质量很好", "ok", "太差了"] and ds.labels == [1, 0, 0]


@pytest.mark.parametrize("content", [
    "\ufeffid,text,label\nz1,很好 good 👍,positive\n",                       # BOM
    "text,label\r\n\"a, quoted, text\",1\r\n",                              # CRLF, quoted commas
    '{"text": "مرحبا <b>&amp;</b> 😀", "label": "negative"}\n\n',            # JSONL, blank line
])
def test_odd_but_valid_files_are_accepted(tmp_path, content):
    name = "ok.jsonl" if content.startswith("{") else "ok.csv"
    ds = read_user_file(_write(tmp_path, name, content), label_names=CLASSES)
    assert len(ds) == 1 and ds.labels[0] in (0, 1)
    assert not ds.texts[0].startswith("\ufeff") and not ds.ids[0].startswith("\ufeff")
