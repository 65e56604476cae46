"""Highlighted-text HTML (``xaibench.report.highlight``) and the Jupyter views of attributions."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from xaibench.core.records import Attribution, Attributions
from xaibench.core.units import split_units
from xaibench.report.highlight import (
    HIGHLIGHT_CSS, attribution_html, attributions_html, compare_html, legend_html, marked_units,
    score_colour, shared_scale, styled_summary, units_html,
)

UNIT_SPAN = re.compile(r'<span class="xb-u[^"]*" title="([^"]*)" style="background-color:(#[0-9a-f]{6})[^"]*">'
                       r"([^<]*)</span>")


def attribution(text: str, scores, name: str = "occlusion", **kw) -> Attribution:
    units = split_units(text)
    return Attribution(text=text, units=[u.text for u in units], scores=np.asarray(scores, dtype=float), target=1,
                       cost={}, explainer={"name": name, **kw}, spans=tuple((u.start, u.end) for u in units))


def visible_text(fragment: str) -> str:
    """The text a browser shows (tags dropped, entities decoded)."""
    import html

    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def test_chinese_with_spans_has_one_span_per_character_and_no_spaces():
    text = "这部电影真好看！"
    a = attribution(text, np.linspace(-1, 1, 8))
    out = units_html(a.text, a.units, a.scores, a.spans)
    found = UNIT_SPAN.findall(out)
    assert [f[2] for f in found] == list(text)
    assert visible_text(out) == text
    assert "</span> <span" not in out and " " not in visible_text(out)


def test_chinese_without_spans_joins_characters_with_nothing():
    out = units_html("", list("电影真好看"), [1, 2, 3, 4, 5])
    assert visible_text(out) == "电影真好看"
    mixed = units_html("", ["我", "爱", "Python", "和", "深度"], [1, 1, 1, 1, 1])
    assert visible_text(mixed) == "我爱Python和深度"


def test_english_keeps_the_original_spacing_and_punctuation():
    text = "Great  movie, isn't it?!\n(Really.)"
    a = attribution(text, np.arange(len(split_units(text))) - 3.0)
    out = units_html(a.text, a.units, a.scores, a.spans)
    assert visible_text(out) == text  # double space, newline and punctuation kept exactly
    assert "white-space:pre-wrap" in out
    assert [visible_text(f[2]) for f in UNIT_SPAN.findall(out)] == a.units


def test_english_without_spans_joins_words_by_spaces():
    out = units_html("", ["I", "loved", "it", "!"], [0.1, 0.5, 0.2, 0.0])
    assert visible_text(out) == "I loved it!"


def test_units_may_be_unit_records():
    text = "好 movie"
    out = units_html(text, split_units(text), [1.0, -1.0])
    assert visible_text(out) == text


def test_everything_is_escaped():
    text = 'x <script>alert("1")</script> & y'
    a = attribution(text, np.ones(len(split_units(text))))
    for out in (units_html(a.text, a.units, a.scores, a.spans), units_html("", ["<script>", "&"], [1, 2]),
                attribution_html(a, header="<b>hi</b>"), compare_html([a])):
        assert "<script>" not in out and "<b>hi</b>" not in out
        assert "&lt;" in out
    assert visible_text(units_html(a.text, a.units, a.scores, a.spans)) == text
    named = Attribution(text="a", units=["a"], scores=np.ones(1), target=0, cost={},
                        explainer={"name": "<img src=x onerror=alert(1)>"})
    assert "<img" not in attribution_html(named) and "<img" not in compare_html([named])


def test_colours_diverge_around_white():
    assert score_colour(0.0, 1.0) == "#ffffff"
    pos, neg = score_colour(1.0, 1.0), score_colour(-1.0, 1.0)
    assert pos != neg
    r, g, b = (int(pos[i:i + 2], 16) for i in (1, 3, 5))
    assert g > r and g > b  # supports: green
    r, g, b = (int(neg[i:i + 2], 16) for i in (1, 3, 5))
    assert r > g and r > b  # opposes: red/pink
    assert score_colour(5.0, 1.0) == pos  # clipped
    assert score_colour(float("nan"), 1.0) != "#ffffff"
    assert score_colour(1.0, 0.0) == "#ffffff"


def test_tooltip_has_unit_and_three_significant_digits():
    out = units_html("", ["good"], [0.123456])
    assert UNIT_SPAN.findall(out)[0][0] == "good: 0.123"


def colours(fragment: str) -> dict[str, str]:
    return {f[2]: f[1] for f in UNIT_SPAN.findall(fragment)}


def test_a_shared_scale_gives_equal_scores_equal_colours():
    a = attribution("good film", [0.5, 0.1])
    b = attribution("bad film", [0.5, 2.0])
    own_a, own_b = colours(attribution_html(a)), colours(attribution_html(b))
    assert own_a["good"] != own_b["bad"]  # per-text scales: 0.5 is full colour in a only
    scale = shared_scale([a, b])
    assert scale == 2.0
    shared_a, shared_b = colours(attribution_html(a, scale=scale)), colours(attribution_html(b, scale=scale))
    assert shared_a["good"] == shared_b["bad"]
    both = attributions_html([a, b])
    found = UNIT_SPAN.findall(both)
    assert found[0][1] == found[2][1]  # "good" and "bad", both 0.5, on the list's one scale


def test_marked_units_carry_the_marker():
    a = attribution("the movie was great", [0.1, 0.2, 0.0, 0.9])
    out = units_html(a.text, a.units, a.scores, a.spans, marked=[3])
    spans = re.findall(r'<span class="(xb-u[^"]*)" title="([^"]*)"', out)
    assert spans[3] == ("xb-u xb-marked", "great: 0.900 · rationale")
    assert all("xb-marked" not in c and "rationale" not in t for c, t in spans[:3])
    assert out.count("border-bottom") == 1
    table = compare_html([a], marked=[3])
    assert "xb-marked" in table
    assert marked_units(a.spans, [(14, 19)]) == [3]
    with pytest.raises(ValueError):
        units_html(a.text, a.units, a.scores, a.spans, marked=[7])


def test_repr_html_of_attribution_and_attributions_lists_every_unit():
    a = attribution("这部电影真好看", np.linspace(-1, 1, 7))
    b = attribution("An <odd> film!", [0.3, -0.2, 0.0, 0.1, 0.5, 0.0][:len(split_units("An <odd> film!"))])
    one = a._repr_html_()
    assert isinstance(one, str)
    assert [f[2] for f in UNIT_SPAN.findall(one)] == a.units
    assert "xb-legend" in one and "occlusion" in one and "p(class 1)" in one
    many = Attributions([a, b])
    assert isinstance(many, list) and many == [a, b]
    out = many._repr_html_()
    assert [visible_text(f[2]) for f in UNIT_SPAN.findall(out)] == a.units + b.units
    assert out.count("xb-legend") == 1
    assert Attributions()._repr_html_().count("xb-attr\"") == 0


def test_compare_table_has_rows_per_explainer_and_two_decimals():
    text = "not bad at all"
    a = attribution(text, [0.5, -0.25, 0.0, 0.126], name="occlusion")
    b = attribution(text, [1.0, 0.0, 0.0, 0.0], name="lime")
    c = attribution(text, [-0.004, 0.0, 0.3, 0.0], name="integrated_gradients")
    out = compare_html([a, b, c])
    assert out.count("<tr>") == 4
    for name in ("occlusion", "lime", "integrated_gradients"):
        assert name in out
    assert ">0.50</td>" in out and ">-0.25</td>" in out and ">0.13</td>" in out and ">0.00</td>" in out
    assert ">-0.00<" not in out
    assert "overflow-x:auto" in out and "white-space:nowrap" in out
    cells = {text: colour for colour, text in re.findall(r'background-color:(#[0-9a-f]{6})">([^<]*)</td>', out)}
    assert cells["1.00"] == score_colour(1.0, 1.0)  # one scale: lime's 1.0 is full colour
    with pytest.raises(ValueError):
        compare_html([a, attribution("other text", [0.0, 0.0])])


def test_legend_shows_the_scale():
    out = legend_html(0.25, "p(positive)")
    assert "0.25" in out and "opposes" in out and "supports" in out and "p(positive)" in out
    assert score_colour(0.25, 0.25) in out and score_colour(-0.25, 0.25) in out
    assert ".xb-compare" in HIGHLIGHT_CSS and "nowrap" in HIGHLIGHT_CSS


def summary_rows() -> pd.DataFrame:
    rows = []
    values = {("occlusion", "comprehensiveness"): 0.40, ("lime", "comprehensiveness"): 0.25,
              ("random", "comprehensiveness"): 0.05,
              ("occlusion", "deletion_auc"): 0.30, ("lime", "deletion_auc"): 0.12,
              ("random", "deletion_auc"): 0.50}
    for (explainer, metric), mean in values.items():
        rows.append({"dataset": "reviews-en", "model": "tiny", "explainer": explainer, "metric": metric,
                     "family": "faithfulness", "mean": mean, "ci_low": mean - 0.1, "ci_high": mean + 0.1,
                     "n": 10, "higher_is_better": metric == "comprehensiveness", "device": "cpu",
                     "circular": None})
    return pd.DataFrame(rows)


def cell_styles(styler) -> dict[tuple[int, int], str]:
    """(row, col) -> the CSS Styler wrote for the cell."""
    out: dict[tuple[int, int], str] = {}
    for selectors, props in re.findall(r"([^{}]+)\{([^}]*)\}", styler.to_html()):
        for row, col in re.findall(r"_row(\d+)_col(\d+)", selectors):
            out[(int(row), int(col))] = out.get((int(row), int(col)), "") + props
    return out


def test_styled_summary_bolds_the_best_and_follows_higher_is_better():
    styler = styled_summary(summary_rows())
    data = styler.data
    assert list(data.index) == ["occlusion", "lime", "random"]
    assert list(data.columns) == ["comprehensiveness ↑", "deletion_auc ↓"]
    styles = cell_styles(styler)
    bold = {k for k, v in styles.items() if "font-weight: bold" in v or "font-weight:bold" in v}
    assert bold == {(0, 0), (1, 1)}  # highest comprehensiveness, lowest deletion AUC
    colour = {k: re.search(r"background-color: ?(#[0-9a-f]{6})", v).group(1) for k, v in styles.items()}
    assert colour[(0, 0)] == colour[(1, 1)]  # best is the same colour in both directions
    assert colour[(2, 0)] == colour[(2, 1)] == "#ffffff"  # random is worst in both
    html = styler.to_html()
    assert "0.400" in html and "0.120" in html and "n/a" not in html


def test_styled_summary_chooses_one_task():
    two = pd.concat([summary_rows(), summary_rows().assign(dataset="reviews-zh")])
    with pytest.raises(ValueError, match="2 tasks"):
        styled_summary(two)
    styler = styled_summary(two, dataset="reviews-zh")
    assert "reviews-zh" in styler.to_html()
    circular = summary_rows()
    circular.loc[0, "circular"] = "recomputes its own quantity"
    styles = cell_styles(styled_summary(circular))
    assert "bold" not in styles.get((0, 0), "") and "bold" in styles[(1, 0)]


def test_tiny_scales_print_significant_digits_in_the_compare_table():
    a = attribution("good film", [7.5e-6, -2e-6])
    out = compare_html([a])
    assert ">7.5e-06</td>" in out and ">-2.0e-06</td>" in out
