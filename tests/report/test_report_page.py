"""report.html people can navigate: contents with anchors that exist, one section per task with its
tables and examples, real bold instead of Markdown, example headers with gold label, prediction and
explained quantity, the planted cause marked, Chinese laid out without inserted spaces and embedded
as a font subset, a viewport tag and print styles."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pytest

from test_paper_tables import per_example  # tests/report is on sys.path (rootdir-relative test modules)
from xaibench.report import html as report_html
from xaibench.report.writer import build_tables

ZH = "质量很好，犇物流快"


def _attribution_rows():
    rows = []
    for explainer in ("integrated_gradients", "occlusion", "random"):
        for i in range(report_html.EXAMPLES_SHOWN + 2):
            text = ZH if i == 0 else f"battery died after {i} days"
            if i == 0:
                spans = [[k, k + 1] for k in range(len(text))]
            else:
                spans, at = [], 0
                for word in text.split():
                    at = text.index(word, at)
                    spans.append([at, at + len(word)])
                    at += len(word)
            units = [text[a:b] for a, b in spans]
            rows.append({"dataset": "reviews-zh", "model": "charbert-reviews-zh", "explainer": explainer,
                         "device": "cpu", "model_seed": 0, "example_id": f"e{i}", "text": text, "units": units,
                         "scores": list(np.linspace(-0.5, 1.0, len(units))), "target": 1, "output": "prob",
                         "spans": spans, "cost": {}, "metadata": {}})
    return rows


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    rows = per_example("reviews-zh", "charbert-reviews-zh")
    summary, ranks, _ = build_tables(rows, seed=0)
    examples = [{"dataset": "reviews-zh", "model": "charbert-reviews-zh", "device": "cpu", "model_seed": 0,
                 "example_id": "e0", "text": ZH, "label": "positive", "predicted": "positive", "probability": 0.93,
                 "cause": [[5, 6]], "rationale": None}]
    path = folder / "report.html"
    report_html.write_report(path, "t", "sub", summary=summary, cost=None, ranks=ranks, friedman="F",
                             attribution_rows=_attribution_rows(), example_rows=examples,
                             model_info={"charbert-reviews-zh@cpu": {"labels": ["negative", "positive"]}},
                             legend="L", notes=["a note"])
    return path.read_text(encoding="utf-8")


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.links = set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href", "").startswith("#"):
            self.links.append(attrs["href"][1:])


def test_contents_link_to_sections_that_exist(page):
    parser = _Ids()
    parser.feed(page)
    assert parser.links and set(parser.links) <= parser.ids
    assert "task-reviews-zh-charbert-reviews-zh-n-20" in parser.links
    assert '<meta name="viewport"' in page and "@media print" in page


def test_tables_use_real_bold_and_scroll(page):
    assert "**" not in page and "<b>" in page
    section = page[page.index('<section id="task-reviews-zh'):]
    assert section.index("comprehensiveness ↑") < section.index("Examples")  # table, then examples
    assert '<div class="scroll"><table' in page and "white-space: nowrap" in page
    assert "plausibility_auprc" not in section.split("No value on this task")[0]  # an all-n/a column is dropped


def test_example_headers_and_marks(page):
    assert "gold: positive · predicted: positive (p = 0.93) · explained: p(positive)" in page
    assert "underlined: planted cause" in page
    zh = page[page.index("<h4>e0"):]
    zh = zh[:zh.index("</table>")]
    # one <i> per character, nothing between them: no space inserted between Chinese characters
    assert re.search(r"质</i><i [^>]*>量</i><i [^>]*>很", zh)
    assert re.search(r'<i class="[pn] m"[^>]*>犇</i>', zh)  # the planted cause carries the mark class
    assert re.search(r"<i class=[pn] style=--a:[.0-9]+;--s:[.0-9]+ title=[-.0-9e]+>质</i>", zh)
    assert page.count('<div class="example">') == 4 and "<details><summary>2 more example(s)" in page


def test_chinese_is_embedded_as_a_font_subset(page):
    from fontTools.ttLib import TTFont
    import base64
    import io

    data = re.search(r"url\(data:font/woff;base64,([A-Za-z0-9+/=]+)\)", page).group(1)
    cmap = TTFont(io.BytesIO(base64.b64decode(data))).getBestCmap()
    assert {ord(c) for c in ZH if c != "，"} <= set(cmap)
    assert '"xb-cjk"' in page and page.index("@font-face") < page.index("</head>")
    assert "<script" not in page.lower()
