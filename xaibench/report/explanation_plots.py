"""The two pictures reports use: an attention heatmap and an attribution bar chart.

Both return a ``matplotlib.figure.Figure`` built without pyplot (Agg canvas, no global state), so
they work headless and in notebooks. Labels are drawn with the default sans-serif font and a CJK
font as per-glyph fallback when one is installed (Noto Sans CJK, Source Han Sans, WenQuanYi,
Droid Sans Fallback, ...); without one, Chinese labels render as boxes and a warning says so.
Colour emoji are not in matplotlib's fonts and render as boxes (matplotlib warns at draw time).
"""
from __future__ import annotations

import functools
import os
import warnings

import numpy as np

_CJK_FAMILIES = (
    "Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans CJK TC", "Noto Sans SC", "Source Han Sans SC",
    "Source Han Sans CN", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Droid Sans Fallback",
    "Microsoft YaHei", "SimHei", "PingFang SC", "Hiragino Sans GB", "Arial Unicode MS",
)
_CJK_FILE_HINTS = ("notosanscjk", "sourcehansans", "wqy", "droidsansfallback", "msyh", "simhei", "pingfang")


@functools.lru_cache(maxsize=1)
def cjk_font_family() -> str | None:
    """Name of an installed font family with CJK glyphs, or None."""
    from matplotlib import font_manager

    def known() -> str | None:
        names = {f.name for f in font_manager.fontManager.ttflist}
        return next((family for family in _CJK_FAMILIES if family in names), None)

    found = known()
    if found is None:
        # matplotlib's font cache may predate a font installed later: look on disk once.
        for path in font_manager.findSystemFonts():
            if any(hint in os.path.basename(path).lower().replace("-", "") for hint in _CJK_FILE_HINTS):
                try:
                    font_manager.fontManager.addfont(path)
                except Exception:  # noqa: BLE001 - an unreadable font file is simply skipped
                    continue
        found = known()
    return found


def _has_cjk(labels) -> bool:
    import regex

    from xaibench.core.units import _CJK  # the same character classes the unit split treats as CJK

    pattern = regex.compile(f"[{_CJK}]")
    return any(pattern.search(str(label)) for label in labels)


def _font_family(labels) -> list[str]:
    """Font family list for text objects: the default sans-serif, then a CJK font as fallback.

    Passed to every text object explicitly: tick labels are created at draw time, after any
    ``rc_context`` would have ended."""
    import matplotlib

    cjk = cjk_font_family()
    if cjk is None and _has_cjk(labels):
        warnings.warn(
            "no font with CJK glyphs found (e.g. install fonts-noto-cjk); Chinese/Japanese/Korean "
            "labels will render as boxes", stacklevel=3,
        )
    families = list(matplotlib.rcParams["font.sans-serif"])[:1]
    if cjk is not None:
        families.append(cjk)  # Latin from the default font, CJK glyphs by per-glyph fallback
    return families


def _new_figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def plot_attribution(attribution, ax=None, max_units: int = 40, labels=None):
    """Bar chart of one ``Attribution``: one bar per unit in text order (top to bottom), red for
    scores > 0 (support the target), blue for < 0.

    ``max_units``: longer texts show the ``max_units`` units with the largest |score| (still in text
    order; the title says so). ``labels``: class names for the title (e.g. ``model.labels``); the
    title and axis name the explained quantity: "p(neutral)", "logit(neutral)", or
    "predicted rating / σ" for a regression model whose output is named "rating".
    Returns the Figure (``ax.figure`` when ``ax`` is given).
    """
    scores = np.asarray(attribution.scores, dtype=float)
    units = list(attribution.units)
    shown = np.arange(len(units))
    if len(units) > max_units:
        shown = np.sort(np.argsort(-np.abs(scores), kind="stable")[:max_units])
    names = [units[i] for i in shown]
    values = scores[shown]
    from xaibench.report.quantities import label_of, quantity_name

    explainer = attribution.explainer.get("name", "?") if isinstance(attribution.explainer, dict) else "?"
    # What f is: "p(neutral)", "logit(positive)", "predicted rating / σ" ("class k" without labels).
    label = label_of(labels, attribution.target, attribution.output)
    if label is None and attribution.output != "value":
        label = f"class {attribution.target}"
    target = quantity_name(attribution.output, label)
    title = f"{explainer}: {target}"
    if len(shown) < len(units):
        title += f" (top {len(shown)} of {len(units)} units by |score|)"
    family = _font_family([*names, target])
    if ax is None:
        fig = _new_figure(7.0, 1.2 + 0.28 * max(len(names), 1))
        ax = fig.add_subplot()
    colors = ["#c0392b" if v > 0 else "#2e86c1" for v in values]
    y = np.arange(len(names))
    ax.barh(y, values, color=colors)
    ax.set_yticks(y, names, fontfamily=family)
    ax.invert_yaxis()
    ax.axvline(0.0, color="0.3", linewidth=0.8)
    ax.set_xlabel(f"score (> 0 raises {target})", fontfamily=family)
    ax.set_title(title, fontsize=10, fontfamily=family)
    if not names:
        ax.text(0.5, 0.5, "(no units)", ha="center", va="center", transform=ax.transAxes)
    return ax.figure


def plot_attention(model, text: str, layer: int = -1, head_reduction: str = "mean", level: str = "unit", ax=None):
    """Heatmap of one layer's attention (rows: queries, columns: keys), heads reduced by mean/max.

    ``level="unit"`` (default) groups sub-tokens into the units of ``model.units(text)``: a cell is
    the mean over the row unit's tokens of the attention summed over the column unit's tokens, so
    rows still sum to 1. Special tokens ([CLS], [SEP]) keep their own rows and columns, because
    they often take most of the attention. ``level="token"`` shows raw sub-tokens.
    One forward pass (counted in ``model.n_forward``). Returns the Figure.
    """
    from xaibench.explainers.attention import reduce_heads
    from xaibench.modeling.attention import attention_weights

    if level not in ("unit", "token"):
        raise ValueError(f"level must be 'unit' or 'token', got {level!r}")

    def layer_matrix(attentions) -> tuple[np.ndarray, int]:
        n_layers = len(attentions)
        if not -n_layers <= layer < n_layers:
            raise ValueError(f"layer={layer} is out of range for a model with {n_layers} layers")
        return reduce_heads(attentions[layer], head_reduction)[0].double().cpu().numpy(), n_layers

    ids, maps = model.encode([text])
    [(_, (matrix, n_layers))] = attention_weights(model, ids, layer_matrix)
    tokens = model.tokenizer.convert_ids_to_tokens(ids[0])
    names, groups = _groups(tokens, maps[0], [u.text for u in model.units(text)], level)
    grouped = np.array([[matrix[np.ix_(g, h)].sum(axis=1).mean() for h in groups] for g in groups])
    family = _font_family(names)
    if ax is None:
        side = min(14.0, 2.5 + 0.35 * len(names))
        fig = _new_figure(side + 1.0, side)
        ax = fig.add_subplot()
    image = ax.imshow(grouped, cmap="viridis", vmin=0.0, vmax=max(float(grouped.max()), 1e-12))
    ticks = np.arange(len(names))
    ax.set_xticks(ticks, names, rotation=90, fontfamily=family)
    ax.set_yticks(ticks, names, fontfamily=family)
    ax.set_xlabel("attended to (key)")
    ax.set_ylabel("attending (query)")
    ax.set_title(f"{model.name}: layer {layer % n_layers + 1}/{n_layers}, {head_reduction} over heads",
                 fontsize=10, fontfamily=family)
    ax.figure.colorbar(image, ax=ax, shrink=0.8, label="attention")
    return ax.figure


def _groups(tokens, token_units, unit_texts, level):
    """Labels and token-index groups, in sequence order, for the heatmap's rows and columns."""
    if level == "token":
        return list(tokens), [[t] for t in range(len(tokens))]
    names, groups, where = [], [], {}
    for t, unit in enumerate(token_units):
        if unit < 0:
            names.append(tokens[t])
            groups.append([t])
        elif unit in where:
            groups[where[unit]].append(t)
        else:
            where[unit] = len(groups)
            names.append(unit_texts[unit])
            groups.append([t])
    return names, groups
