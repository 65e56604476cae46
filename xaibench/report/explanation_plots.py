"""The two pictures reports use: an attention heatmap and an attribution bar chart.

Both return a ``matplotlib.figure.Figure`` built without pyplot (Agg canvas, no global state), so
they work headless and in notebooks. Labels are drawn with the default sans-serif font and the CJK
font of ``xaibench.report.fonts`` (Noto Sans CJK SC from the ``mplfonts`` dependency, else a system
CJK font) as per-glyph fallback. Text none of these fonts can draw (most emoji, private-use
characters) raises ``ValueError`` naming the characters, instead of rendering as boxes.
Save with ``xaibench.report.figures.save_figure`` for PNG + PDF (CJK embedded) + SVG.
"""
from __future__ import annotations

import numpy as np

from xaibench.report import fonts


def cjk_font_family() -> str | None:
    """Name of the font family with CJK glyphs figures use (registered with matplotlib), or None
    when there is none (``fonts.cjk_font_path`` says how to get one)."""
    try:
        return fonts.register_cjk_font()
    except RuntimeError:
        return None


def _font_family(labels) -> list[str]:
    """Font family list for text objects (``fonts.font_families``), after checking every
    character of ``labels`` has a glyph in one of them (``ValueError`` otherwise).

    Passed to every text object explicitly: tick labels are created at draw time, after any
    ``rc_context`` would have ended."""
    labels = [str(label) for label in labels]
    families = fonts.font_families(labels)
    fonts.check_glyphs(labels, families)
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
    family = _font_family([*names, title])
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

    def layer_matrix(attentions, pooled) -> tuple[np.ndarray, int]:
        n_layers = len(attentions)
        if not -n_layers <= layer < n_layers:
            raise ValueError(f"layer={layer} is out of range for a model with {n_layers} layers")
        return reduce_heads(attentions[layer], head_reduction)[0].double().cpu().numpy(), n_layers

    ids, maps = model.encode([text])
    [(_, (matrix, n_layers))] = attention_weights(model, ids, layer_matrix)
    tokens = model.tokenizer.convert_ids_to_tokens(ids[0])
    names, groups = _groups(tokens, maps[0], [u.text for u in model.units(text)], level)
    grouped = np.array([[matrix[np.ix_(g, h)].sum(axis=1).mean() for h in groups] for g in groups])
    family = _font_family([*names, model.name])
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
