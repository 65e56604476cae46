"""Fonts (CJK glyphs, no boxes, HTML subsets) and the paper-ready figures (styles, bands, CD diagram)."""
from __future__ import annotations

import base64
import io
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from xaibench.report import figures, fonts


def test_cjk_font_path_has_chinese_glyphs():
    path = fonts.cjk_font_path()
    assert path.is_file()
    have = fonts._codepoints(str(path))
    assert all(ord(c) in have for c in "犇鱻很好中文")
    assert fonts.register_cjk_font() == fonts.register_cjk_font()  # registered once, same family
    families = fonts.font_families(["好"])
    assert len(families) == 2 and families[1] == fonts.register_cjk_font()


def test_missing_glyphs_and_check_glyphs():
    families = fonts.font_families(["犇鱻很好"])
    assert fonts.missing_glyphs(["犇鱻很好 good\n\t", "p(正面) σ"], families) == set()
    assert fonts.missing_glyphs(["a\ue000b"], families) == {"\ue000"}
    with pytest.raises(ValueError, match="U\\+E000"):
        fonts.check_glyphs(["ok", "x\ue000"], families)
    with pytest.raises(ValueError, match="U\\+1F984"):  # an emoji none of the fonts has
        fonts.check_glyphs(["🦄"], families)
    assert fonts.missing_glyphs(["好"], [families[0]]) == {"好"}  # the default font alone has no Chinese


@pytest.mark.slow
def test_chinese_figure_draws_real_glyphs_and_writes_png_pdf_svg(tmp_path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 2))
    ax = fig.add_subplot()
    families = fonts.font_families(["犇鱻很好"])
    ax.set_yticks([0, 1], ["犇鱻很好", "good"], fontfamily=families)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing" when it draws a box
        png = figures.save_figure(fig, tmp_path / "zh.png")
    assert png == tmp_path / "zh.png"
    for suffix in (".png", ".pdf", ".svg"):
        assert (tmp_path / f"zh{suffix}").stat().st_size > 0
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert fonts.missing_glyphs(labels, ax.get_yticklabels()[0].get_fontfamily()) == set()
    # Each drawn glyph maps to a real glyph (index != 0, the .notdef box) of the font that draws it.
    from matplotlib import font_manager

    cjk = font_manager.get_font(font_manager.findfont(font_manager.FontProperties(family=[families[1]])))
    assert all(cjk.get_char_index(ord(c)) != 0 for c in "犇鱻很好")
    pdf = (tmp_path / "zh.pdf").read_bytes()
    assert b"/FontFile2" in pdf and b"XBCJK" in pdf  # CJK embedded as TrueType (Type 42)
    fig2 = Figure()
    fig2.add_subplot().set_title("bad \ue000", fontfamily=families)
    with pytest.raises(ValueError, match="U\\+E000"):
        figures.save_figure(fig2, tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()


def test_explainer_styles_are_distinct_and_stable():
    names = [f"explainer_{i}" for i in range(10)]
    styles = figures.explainer_styles(names)
    assert set(styles) == set(names)
    for key in ("color", "marker", "linestyle"):
        assert len({str(s[key]) for s in styles.values()}) == (10 if key != "linestyle" else len(figures._LINESTYLES))
    assert figures.explainer_styles(names[::-1]) == styles
    assert figures.explainer_styles(names + ["zzz"])["explainer_3"] == styles["explainer_3"]


def test_bootstrap_band_contains_the_mean_and_narrows():
    rng = np.random.default_rng(0)
    small = rng.normal(0.5, 0.2, size=(20, 11))
    large = rng.normal(0.5, 0.2, size=(500, 11))
    for values in (small, large):
        mean, low, high = figures.bootstrap_band(values, seed=0)
        np.testing.assert_allclose(mean, values.mean(axis=0))
        assert np.all(low <= mean) and np.all(mean <= high)
    width_small = np.mean(np.subtract(*figures.bootstrap_band(small)[2:0:-1]))
    width_large = np.mean(np.subtract(*figures.bootstrap_band(large)[2:0:-1]))
    assert width_large < width_small / 3  # ~ 1 / sqrt(n)
    a = figures.bootstrap_band(small, seed=3)
    np.testing.assert_array_equal(a[1], figures.bootstrap_band(small, seed=3)[1])  # seeded
    with_nan = small.copy()
    with_nan[0, 0] = np.nan
    mean, low, high = figures.bootstrap_band(with_nan)
    assert np.isfinite(low).all() and mean[0] == pytest.approx(np.nanmean(with_nan[:, 0]))


def test_cd_cliques_on_a_hand_made_example():
    ranks = {"a": 1.0, "b": 1.5, "c": 2.2, "d": 3.9, "e": 4.0, "f": 6.0}
    assert figures.cd_cliques(ranks, 1.0) == [["a", "b"], ["b", "c"], ["d", "e"]]
    assert figures.cd_cliques(ranks, 1.3) == [["a", "b", "c"], ["d", "e"]]  # ["b", "c"] is inside ["a", "b", "c"]
    assert figures.cd_cliques(ranks, 2.5) == [["a", "b", "c"], ["b", "c", "d"], ["c", "d", "e"], ["d", "e", "f"]]
    assert figures.cd_cliques(ranks, 0.05) == []
    assert figures.cd_cliques(ranks, 10) == [["a", "b", "c", "d", "e", "f"]]
    assert figures.cd_cliques({"a": 1.0, "b": 2.0}, 1.0) == []  # "less than CD", not equal
    assert figures.cd_cliques(ranks, float("nan")) == []


@pytest.mark.slow
def test_critical_difference_table_and_scipy_agree():
    assert figures.critical_difference(10, 6) == pytest.approx(3.164 * np.sqrt(10 * 11 / 36))
    q11 = figures.critical_difference(11, 1) / np.sqrt(11 * 12 / 6)
    assert 3.164 < q11 < 3.3
    assert np.isnan(figures.critical_difference(1, 5))


@pytest.mark.slow
def test_curve_and_rank_figures_write_all_formats(tmp_path):
    rng = np.random.default_rng(0)
    rows = [{"dataset": "reviews-zh", "model": "中文模型", "explainer": e, "metric": m, "example_id": f"x{i}",
             "fraction": q, "value": float(rng.random())}
            for e in ("occlusion", "random", "lime") for m in ("deletion_auc", "insertion_auc")
            for i in range(8) for q in np.linspace(0, 1, 5)]
    written = figures.curve_figures(pd.DataFrame(rows), tmp_path, quantities={("reviews-zh", "中文模型"): "p(正面)"},
                                    seed=1, n_resamples=200)
    assert len(written) == 1 and written[0].suffix == ".png"
    assert all(written[0].with_suffix(s).is_file() for s in (".pdf", ".svg"))
    ranks = pd.DataFrame({"explainer": ["occlusion", "lime", "random"], "average_rank": [1.2, 2.0, 2.8],
                          "n_tasks": [4, 4, 4]})
    path = figures.rank_figure(ranks, tmp_path)
    assert path == tmp_path / "ranks.png" and path.with_suffix(".pdf").is_file()
    assert figures.rank_figure(ranks.iloc[0:0], tmp_path) is None
    bad = pd.DataFrame([{**rows[0], "explainer": "explainer \ue000"}])
    with pytest.raises(ValueError, match="U\\+E000"):
        figures.curve_figures(bad, tmp_path)


@pytest.mark.slow
def test_plot_attribution_refuses_undrawable_units(one_torch_thread):
    import xaibench as xb
    from xaibench.testing import tiny_classifier

    model = tiny_classifier()
    a = xb.attribution_from_scores(model, "好 \ue000", np.array([0.5, -0.5]), target=1)
    with pytest.raises(ValueError, match="U\\+E000"):
        xb.plot_attribution(a)


def test_no_cjk_font_says_how_to_get_one(monkeypatch):
    def none():
        raise RuntimeError(fonts._HOW_TO_GET_ONE)

    monkeypatch.setattr(fonts, "register_cjk_font", none)
    assert fonts.font_families(["good"]) == [fonts._default_family()]
    with pytest.raises(RuntimeError, match="pip install mplfonts"):
        fonts.font_families(["很好"])


@pytest.mark.slow
def test_font_face_css_embeds_exactly_the_characters():
    from fontTools.ttLib import TTFont

    css = fonts.font_face_css("好差")
    assert css.startswith("@font-face {") and "font-display: swap" in css and '"xb-cjk"' in css
    data = re.search(r"url\(data:font/woff;base64,([A-Za-z0-9+/=]+)\)", css).group(1)
    font = TTFont(io.BytesIO(base64.b64decode(data)))
    assert font.flavor == "woff"
    assert set(font.getBestCmap()) == {ord("好"), ord("差")}
    assert fonts.font_face_css("差好") is not None and fonts.font_face_css("差好好") == css  # by character set
    assert fonts.font_face_css("abc") == ""
    assert fonts.font_face_css("") == ""
    with pytest.raises(ValueError):
        fonts.font_face_css("好", family='x"; }')
