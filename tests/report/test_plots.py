"""plot_attribution / plot_attention: figures for every script, CJK font fallback, no pyplot state."""
from __future__ import annotations

import io
import warnings

import numpy as np
import pytest

import xaibench as xb
from xaibench.report import explanation_plots as plots
from xaibench.testing import tiny_classifier


@pytest.fixture(scope="module")
def model(one_torch_thread):
    return tiny_classifier()


def render(fig) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing")  # colour emoji: no font has them
        fig.savefig(buffer, format="png", dpi=50)
    return buffer.getvalue()


def tick_labels(ax, axis="y"):
    return [t.get_text() for t in (ax.get_yticklabels() if axis == "y" else ax.get_xticklabels())]


@pytest.mark.parametrize("text", ["the movie was very good", "质量很好，物流快", "great 😀 phone 很好"])
def test_plot_attribution_draws_one_bar_per_unit(model, text):
    from matplotlib.figure import Figure

    a = xb.get_explainer("occlusion").explain(model, [text])[0]
    fig = xb.plot_attribution(a, labels=model.labels)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert tick_labels(ax) == a.units
    widths = [p.get_width() for p in ax.patches]
    np.testing.assert_allclose(widths, a.scores)
    colors = {tuple(np.round(p.get_facecolor(), 3)) for p, s in zip(ax.patches, a.scores) if s > 0}
    assert len(colors) <= 1  # one colour for support
    assert model.labels[a.target] in ax.get_title()
    assert render(fig)[:4] == b"\x89PNG"


def test_plot_attribution_keeps_the_largest_units_of_long_texts(model):
    text = " ".join(["good", "bad", "movie", "phone", "great"] * 12)
    a = xb.attribution_from_scores(model, text, np.arange(60.0) - 30, target=1)
    fig = xb.plot_attribution(a, max_units=10)
    shown = [p.get_width() for p in fig.axes[0].patches]
    assert len(shown) == 10 and shown == [-30, -29, -28, -27, -26, -25, 26, 27, 28, 29]  # ties: earlier first
    assert "top 10 of 60" in fig.axes[0].get_title()


def test_plot_attention_unit_rows_sum_to_one(model):
    text = "质量很好 great phone"
    before = model.n_forward
    fig = xb.plot_attention(model, text)
    assert model.n_forward == before + 1
    ax = fig.axes[0]
    names = tick_labels(ax)
    assert names == ["[CLS]", *[u.text for u in model.units(text)], "[SEP]"]
    matrix = ax.images[0].get_array()
    np.testing.assert_allclose(np.asarray(matrix).sum(axis=1), 1.0, atol=1e-5)
    token_fig = xb.plot_attention(model, text, layer=0, head_reduction="max", level="token")
    assert len(tick_labels(token_fig.axes[0], "x")) == len(model.token_ids([text])[0])
    assert render(fig)[:4] == b"\x89PNG"


def test_cjk_labels_use_a_cjk_font_when_installed(model):
    family = plots.cjk_font_family()
    if family is None:
        pytest.skip("no CJK font installed on this machine")
    a = xb.get_explainer("random").explain(model, ["质量很好"])[0]
    fig = xb.plot_attribution(a)
    label = fig.axes[0].get_yticklabels()[0]
    assert family in label.get_fontfamily()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "Glyph missing" for Chinese characters
        render(fig)


def test_missing_cjk_font_fails_loudly_instead_of_drawing_boxes(model, monkeypatch):
    from xaibench.report import fonts

    def none():
        raise RuntimeError(fonts._HOW_TO_GET_ONE)

    monkeypatch.setattr(fonts, "register_cjk_font", none)
    a = xb.get_explainer("random").explain(model, ["质量很好"])[0]
    with pytest.raises(RuntimeError, match="pip install mplfonts"):
        xb.plot_attribution(a)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        xb.plot_attribution(xb.get_explainer("random").explain(model, ["good movie"])[0])  # no CJK: fine


def test_plot_into_a_given_axis_and_empty_text(model):
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot()
    a = xb.get_explainer("random").explain(model, [""])[0]
    assert xb.plot_attribution(a, ax=ax) is fig
    assert len(ax.patches) == 0
    with pytest.raises(ValueError, match="level"):
        xb.plot_attention(model, "good", level="word")
