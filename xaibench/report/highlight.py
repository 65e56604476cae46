"""Explanations as highlighted text, in HTML: for Jupyter (``_repr_html_``) and for run reports.

Colours are diverging and centred on white: a unit whose score *supports* the explained output
(positive) is green, one that *opposes* it (negative) is red/pink, a score of 0 is white, and the
intensity is ``|score| / scale``. ``scale`` defaults to the largest ``|score|`` of the one text;
pass the same ``scale`` to several calls (``shared_scale``) so that equal scores get equal colours
across explainers. Unsigned scores (attention weights) use ``signed=False``: one blue hue.

The markup is self-contained: every element carries inline styles (Jupyter front ends and
notebook viewers may drop page CSS) and dark text on a white box, so it stays readable on dark
themes. Class names (``xb-text``, ``xb-u``, ``xb-marked``, ``xb-attr``, ``xb-compare``,
``xb-legend``) are hooks; ``HIGHLIGHT_CSS`` adds finishing touches (rounded units, a hover outline)
for pages that embed many. No JavaScript: tooltips are ``title`` attributes.

Every function returns ``HTML``, a ``str`` that Jupyter also displays rendered. All text is escaped
(``html.escape``): a review containing ``<script>`` is shown as text.
"""
from __future__ import annotations

import html
import math
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import regex

from xaibench.core.units import _CJK  # the character classes the unit split treats as CJK

#: End colours (RGB) at full intensity; chosen so that #111 text keeps a contrast of 5:1 or more.
SUPPORTS_RGB = (77, 175, 74)
OPPOSES_RGB = (230, 85, 100)
UNSIGNED_RGB = (90, 145, 230)
#: Background of a unit without a finite score.
MISSING_COLOUR = "#e4e4e4"
#: The underline of marked units (planted cause / gold rationale).
MARK_COLOUR = "#1f3b99"
TEXT_COLOUR = "#111"

#: Optional CSS for pages that embed many highlights (the markup works without it).
HIGHLIGHT_CSS = """\
.xb-text { color: #111; background: #fff; white-space: pre-wrap; line-height: 1.9; }
.xb-u { border-radius: 3px; }
.xb-u:hover { outline: 1px solid #555; }
.xb-marked { border-bottom: 2px solid #1f3b99; }
.xb-attr { color: #111; background: #fff; }
.xb-compare { overflow-x: auto; max-width: 100%; }
.xb-compare table { border-collapse: collapse; }
.xb-compare th, .xb-compare td { white-space: nowrap; }
.xb-legend { white-space: nowrap; }
"""

_CJK_CHAR = regex.compile(f"[{_CJK}]")
#: Without spans: no space before closing punctuation, none after opening punctuation.
_NO_SPACE_BEFORE = set(".,!?;:%)]}…’”»") | {"'s", "n't", "'re", "'ll", "'ve", "'m", "'d"}
_NO_SPACE_AFTER = set("([{“‘«")

_TEXT_STYLE = (f"color:{TEXT_COLOUR};background:#fff;white-space:pre-wrap;line-height:1.9;"
               "padding:2px 4px;border-radius:4px")
_BOX_STYLE = (f"color:{TEXT_COLOUR};background:#fff;border:1px solid #d6d6d6;border-radius:6px;"
              "padding:6px 8px;margin:6px 0")
_CELL_STYLE = "white-space:nowrap;padding:2px 5px;border:1px solid #e2e2e2"


class HTML(str):
    """An HTML fragment: a plain ``str`` for pages, shown rendered by Jupyter."""

    def _repr_html_(self) -> str:
        return str(self)


# ---- colours and numbers ---------------------------------------------------------------------
def score_colour(score: float, scale: float, signed: bool = True) -> str:
    """The ``#rrggbb`` background of ``score`` on a colour scale whose full colour is ``scale``."""
    score = float(score)
    if not math.isfinite(score):
        return MISSING_COLOUR
    t = min(abs(score) / scale, 1.0) if scale > 0 else 0.0
    end = UNSIGNED_RGB if not signed else (SUPPORTS_RGB if score > 0 else OPPOSES_RGB)
    rgb = (round(255 + (c - 255) * t) for c in end)
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def shared_scale(attributions: Iterable) -> float:
    """The largest finite ``|score|`` over several attributions: one colour scale for all (1.0
    when there is none, so that everything renders white)."""
    best = 0.0
    for a in attributions:
        s = np.abs(np.asarray(a.scores, dtype=float))
        s = s[np.isfinite(s)]
        if len(s):
            best = max(best, float(s.max()))
    return best if best > 0 else 1.0


def _scale_of(scores: np.ndarray, scale: float | None) -> float:
    if scale is None:
        finite = np.abs(scores[np.isfinite(scores)])
        return float(finite.max()) if len(finite) and finite.max() > 0 else 1.0
    scale = float(scale)
    if not math.isfinite(scale) or scale < 0:
        raise ValueError(f"scale must be a finite number >= 0, got {scale!r}")
    return scale


def _sig(x: float, digits: int = 3) -> str:
    """``x`` to ``digits`` significant digits, trailing zeros kept ("0.400"), without exponent
    between 1e-4 and 1e6."""
    x = float(x)
    if not math.isfinite(x):
        return "n/a"
    x = float(f"{x:.{digits}g}")  # round first: 999.6 -> 1000 takes the branch of 1000
    if x == 0:
        return "0"
    if 1e-4 <= abs(x) < 10 ** digits:
        return f"{x:#.{digits}g}".rstrip(".")
    if 10 ** digits <= abs(x) < 1e6:
        return f"{round(x, digits - 1 - int(math.floor(math.log10(abs(x))))):.0f}"
    return f"{x:.{digits - 1}e}"


def _cell_number(x: float, scale: float) -> str:
    """A table cell's score: 2 decimals; 2 significant digits when the scale is under 0.01, where
    2 decimals would print every score as 0.00."""
    if not math.isfinite(float(x)):
        return "n/a"
    if 0 < scale < 0.01:
        return _sig(x, 2)
    out = f"{float(x):.2f}"
    return "0.00" if out == "-0.00" else out


def marked_units(spans: Sequence[tuple[int, int]], char_spans: Iterable[tuple[int, int]]) -> list[int]:
    """Indices of the units (character ``spans``) that overlap any of ``char_spans``: e.g. an
    example's ``cause_spans`` or ``rationale_spans``, for the ``marked`` argument."""
    targets = [(int(s), int(e)) for s, e in char_spans]
    return [i for i, (s, e) in enumerate(spans) if any(s < te and ts < e for ts, te in targets)]


# ---- highlighted text ------------------------------------------------------------------------
def _is_cjk(ch: str) -> bool:
    return bool(ch) and bool(_CJK_CHAR.match(ch))


def _separator(left: str, right: str) -> str:
    """What joins two units when their original spacing is unknown."""
    if not left or not right or _is_cjk(left[-1]) or _is_cjk(right[0]):
        return ""
    if right in _NO_SPACE_BEFORE or left in _NO_SPACE_AFTER:
        return ""
    return " "


def _check_spans(text: str, spans, n: int) -> list[tuple[int, int]]:
    spans = [(int(s), int(e)) for s, e in spans]
    if len(spans) != n:
        raise ValueError(f"got {len(spans)} spans for {n} units; give one (start, end) per unit")
    cursor = 0
    for i, (s, e) in enumerate(spans):
        if not (cursor <= s <= e <= len(text)):
            raise ValueError(f"span {i} = ({s}, {e}) is not an ordered, non-overlapping character span of "
                             f"the text (length {len(text)})")
        cursor = e
    return spans


def units_html(text: str, units: Sequence, scores, spans: Sequence[tuple[int, int]] = (), *,
               scale: float | None = None, marked: Iterable[int] = (), signed: bool = True) -> HTML:
    """``text`` as inline ``<span>``s, one per unit, coloured by its score.

    ``units``: the unit strings (or ``Unit`` records, whose offsets then serve as ``spans``);
    ``scores``: one number per unit. ``spans``: ``(start, end)`` character offsets into ``text``,
    one per unit; with them the text between units (spaces, punctuation, line breaks) is kept
    exactly, and a unit shows ``text[start:end]``. Without them, units are joined by a space, by
    nothing next to a CJK character, and by nothing before closing punctuation.

    ``scale``: the ``|score|`` of full colour (default: the largest of these scores); pass one
    value to several calls to compare them. ``marked``: indices of units to underline (the planted
    cause or the gold rationale); their tooltip says "rationale". ``signed=False``: scores are
    magnitudes (one hue). Each unit's tooltip is the unit and its score to 3 significant digits.
    """
    units = list(units)
    if units and not isinstance(units[0], str) and hasattr(units[0], "start") and not len(spans):
        spans = [(u.start, u.end) for u in units]
    units = [u if isinstance(u, str) else str(getattr(u, "text", u)) for u in units]
    scores = np.asarray(scores, dtype=float).reshape(-1)
    if len(scores) != len(units):
        raise ValueError(f"got {len(scores)} scores for {len(units)} units")
    scale = _scale_of(scores, scale)
    marked = {int(i) for i in marked}
    if any(not 0 <= i < len(units) for i in marked):
        raise ValueError(f"marked indices {sorted(marked)} are not all unit indices (0..{len(units) - 1})")
    spans = _check_spans(text, spans, len(units)) if len(spans) else None

    def unit(i: int, shown: str) -> str:
        title = f"{units[i]}: {_sig(scores[i])}" + (" · rationale" if i in marked else "")
        style = f"background-color:{score_colour(scores[i], scale, signed)}"
        cls = "xb-u"
        if i in marked:
            style += f";border-bottom:2px solid {MARK_COLOUR}"
            cls += " xb-marked"
        return (f'<span class="{cls}" title="{html.escape(title, quote=True)}" style="{style}">'
                f"{html.escape(shown)}</span>")

    return HTML(f'<span class="xb-text" style="{_TEXT_STYLE}">{layout(text, units, spans, unit)}</span>')


def layout(text: str, units: Sequence[str], spans, unit) -> str:
    """The escaped text with ``unit(i, shown)`` for each unit: with ``spans`` (checked), the
    original characters between units kept exactly; without them (None or empty), units joined
    by ``_separator`` (a space between words, nothing next to CJK characters)."""
    parts = []
    if spans is not None and len(spans):
        cursor = 0
        for i, (start, end) in enumerate(spans):
            parts += [html.escape(text[cursor:start]), unit(i, text[start:end])]
            cursor = end
        parts.append(html.escape(text[cursor:]))
    elif units:
        for i, u in enumerate(units):
            parts += [_separator(units[i - 1], u) if i else "", unit(i, u)]
    else:
        parts.append(html.escape(text))
    return "".join(parts)


def legend_html(scale: float, quantity: str = "explained output", *, signed: bool = True,
                marker: bool = False, steps: int = 11) -> HTML:
    """A small colour bar: opposes ← 0 → supports, its ends labelled ``∓scale`` (``signed=False``:
    0 → scale). ``marker``: add the key of marked units (underlined = rationale)."""
    scale = _scale_of(np.zeros(0), scale)
    values = np.linspace(-scale if signed else 0.0, scale, steps)
    cells = "".join(f'<span style="display:inline-block;width:14px;height:12px;vertical-align:middle;'
                    f'background-color:{score_colour(v, scale, signed)}"></span>' for v in values)
    bar = f'<span style="display:inline-block;border:1px solid #bbb;line-height:0">{cells}</span>'
    q = html.escape(str(quantity))
    if signed:
        body = (f"effect on {q}: <span>opposes −{_sig(scale)}</span> {bar} "
                f"<span>+{_sig(scale)} supports</span> <span style=\"color:#555\">(0 = white)</span>")
    else:
        body = f"weight on {q}: 0 {bar} {_sig(scale)}"
    if marker:
        body += (f' · <span style="border-bottom:2px solid {MARK_COLOUR}">underlined</span> = '
                 "rationale / planted cause")
    return HTML(f'<div class="xb-legend" style="color:{TEXT_COLOUR};background:#fff;font-size:12px;'
                f'padding:2px 6px;margin:4px 0;border-radius:4px;white-space:nowrap;overflow-x:auto;'
                f'width:fit-content;max-width:100%;box-sizing:border-box">{body}</div>')


# ---- attributions ----------------------------------------------------------------------------
def _quantity(a) -> str:
    from xaibench.report.quantities import quantity_name

    output = getattr(a, "output", "prob")
    return quantity_name(output, None if output == "value" else f"class {int(a.target)}")


def _explainer_name(a) -> str:
    return str((a.explainer or {}).get("name", "explainer"))


def attribution_html(a, *, scale: float | None = None, marked: Iterable[int] = (), header: str | None = None,
                     signed: bool = True, legend: bool = False) -> HTML:
    """One ``Attribution`` as a block: a header line (the explainer's name, the explained quantity
    from ``a.output`` and ``a.target``, e.g. "p(class 1)", then ``header`` if given) above its
    highlighted text (``units_html``, with the attribution's spans when it has them).
    ``scale``/``marked``/``signed`` as in ``units_html``; ``legend``: a colour bar underneath."""
    marked = list(marked)
    scale = _scale_of(np.asarray(a.scores, dtype=float), scale)
    params = {k: v for k, v in (a.explainer or {}).items() if k != "name"}
    title = ", ".join(f"{k}={v}" for k, v in params.items())
    head = (f'<b style="color:{TEXT_COLOUR}" title="{html.escape(title, quote=True)}">'
            f"{html.escape(_explainer_name(a))}</b> · explains {html.escape(_quantity(a))}")
    if header:
        head += f" · {html.escape(str(header))}"
    body = units_html(a.text, a.units, a.scores, a.spans, scale=scale, marked=marked, signed=signed)
    foot = legend_html(scale, _quantity(a), signed=signed, marker=bool(marked)) if legend else ""
    return HTML(f'<div class="xb-attr" style="{_BOX_STYLE}">'
                f'<div class="xb-attr-head" style="font-size:12px;color:#444;margin-bottom:4px">{head}</div>'
                f'<div class="xb-attr-body">{body}</div>{foot}</div>')


def attributions_html(attributions: Sequence, *, scale: float | None = None,
                      marked: Sequence[Iterable[int]] | None = None, signed: bool = True) -> HTML:
    """Several attributions (any texts), one block each on ONE colour scale (default
    ``shared_scale``), then a legend. ``marked``: one index collection per attribution, or None."""
    attributions = list(attributions)
    scale = shared_scale(attributions) if scale is None else _scale_of(np.zeros(0), scale)
    marked = [()] * len(attributions) if marked is None else [list(m) for m in marked]
    if len(marked) != len(attributions):
        raise ValueError(f"got {len(marked)} marked collections for {len(attributions)} attributions")
    blocks = "".join(attribution_html(a, scale=scale, marked=m, signed=signed) for a, m in zip(attributions, marked))
    quantities = list(dict.fromkeys(_quantity(a) for a in attributions))
    quantity = quantities[0] if len(quantities) == 1 else "explained output"
    return HTML(f'<div class="xb-attrs">{blocks}'
                f"{legend_html(scale, quantity, signed=signed, marker=any(marked))}</div>")


def compare_html(attributions: Sequence, *, scale: float | None = None, marked: Iterable[int] = (),
                 signed: bool = True) -> HTML:
    """Several explainers' attributions of the SAME text as a table: one row per attribution
    (named by its explainer), one column per unit, each cell coloured on ONE shared scale (default
    ``shared_scale``) with its score printed to 2 decimals (2 significant digits when the scale is
    under 0.01); marked units are underlined in the
    header. The table scrolls horizontally inside its div; numbers never wrap. Raises ValueError
    when the attributions do not share their text and units."""
    attributions = list(attributions)
    if not attributions:
        raise ValueError("compare_html needs at least one attribution")
    first = attributions[0]
    for a in attributions[1:]:
        if a.text != first.text or list(a.units) != list(first.units):
            raise ValueError(f"compare_html compares attributions of one text; got {first.text!r} and {a.text!r}")
    scale = shared_scale(attributions) if scale is None else _scale_of(np.zeros(0), scale)
    marked = {int(i) for i in marked}
    if any(not 0 <= i < len(first.units) for i in marked):
        raise ValueError(f"marked indices {sorted(marked)} are not all unit indices (0..{len(first.units) - 1})")

    names = [_explainer_name(a) for a in attributions]
    quantities = [_quantity(a) for a in attributions]
    labels = []
    for a, name, q in zip(attributions, names, quantities):
        label = name
        if names.count(name) > 1:
            params = ", ".join(f"{k}={v}" for k, v in a.explainer.items() if k != "name")
            label += f" ({params})" if params else f" #{len(labels) + 1}"
        if len(set(quantities)) > 1:
            label += f" · {q}"
        labels.append(label)

    head = [f'<th style="{_CELL_STYLE}"></th>']
    for i, u in enumerate(first.units):
        mark = f";border-bottom:2px solid {MARK_COLOUR}" if i in marked else ""
        tip = f"unit {i}" + (" · rationale" if i in marked else "")
        head.append(f'<th class="xb-col{" xb-marked" if i in marked else ""}" title="{html.escape(tip, quote=True)}" '
                    f'style="{_CELL_STYLE};font-weight:600{mark}">{html.escape(str(u))}</th>')
    rows = ["<tr>" + "".join(head) + "</tr>"]
    for a, label in zip(attributions, labels):
        cells = [f'<th style="{_CELL_STYLE};text-align:left">{html.escape(label)}</th>']
        for u, s in zip(a.units, np.asarray(a.scores, dtype=float)):
            tip = f"{u}: {_sig(s)}"
            cells.append(f'<td title="{html.escape(tip, quote=True)}" style="{_CELL_STYLE};text-align:center;'
                         f'font-variant-numeric:tabular-nums;background-color:{score_colour(s, scale, signed)}">'
                         f"{_cell_number(s, scale)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    table = (f'<table style="border-collapse:collapse;font-size:13px;color:{TEXT_COLOUR};background:#fff">'
             f'{"".join(rows)}</table>')
    quantity = quantities[0] if len(set(quantities)) == 1 else "explained output"
    return HTML(f'<div class="xb-compare-block" style="color:{TEXT_COLOUR};background:#fff;padding:4px;'
                f'border-radius:4px;width:fit-content;max-width:100%;box-sizing:border-box">'
                f'<div class="xb-compare" style="overflow-x:auto;max-width:100%">{table}</div>'
                f"{legend_html(scale, quantity, signed=signed, marker=bool(marked))}</div>")


# ---- summary table ---------------------------------------------------------------------------
#: Background of the best cell of a column in ``styled_summary`` (the worst is white).
BEST_RGB = (116, 196, 118)


def _present(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value)) and str(value) != ""


def styled_summary(summary: pd.DataFrame, *, dataset: str | None = None, model: str | None = None,
                   device: str | None = None):
    """A pandas ``Styler`` of one task of a summary table (``xaibench.report.tables.summarize``).

    Rows are explainers, columns metrics (headed "metric ↑" or "metric ↓" by ``higher_is_better``),
    cells the ``mean`` to 3 significant digits ("n/a" when missing). In each column the best mean
    (the highest when higher is better, else the lowest) is bold, and a white-to-green background
    gradient runs from the worst to the best, so "better" is always greener whatever the metric's
    direction. Circular pairs (``circular`` set) are shown but neither bold nor coloured; a column
    without a direction gets neither. ``styler.data`` holds the numbers.

    The task is chosen by ``dataset``, ``model`` and ``device``; they may be left out when they
    leave a single task. Raises ValueError when several tasks remain (it lists them) or none.
    """
    needed = {"explainer", "metric", "mean"}
    if not needed <= set(summary.columns):
        raise ValueError(f"summary lacks columns {sorted(needed - set(summary.columns))}")
    task = summary
    for column, value in (("dataset", dataset), ("model", model), ("device", device)):
        if value is not None:
            if column not in task:
                raise ValueError(f"summary has no {column!r} column to select {value!r}")
            task = task[task[column].astype(str) == str(value)]
    keys = [c for c in ("dataset", "model", "device") if c in task]
    tasks = list(dict.fromkeys(tuple(str(v) for v in row) for row in task[keys].itertuples(index=False))) \
        if keys else [()]
    if task.empty:
        raise ValueError("no summary rows for the selected task")
    if len(tasks) > 1:
        raise ValueError(f"the summary holds {len(tasks)} tasks; choose one with dataset=/model=/device=: "
                         + "; ".join(" · ".join(t) for t in tasks))

    explainers = list(dict.fromkeys(task["explainer"]))
    metrics = list(dict.fromkeys(task["metric"]))
    values = pd.DataFrame(np.nan, index=pd.Index(explainers, name="explainer"), columns=metrics, dtype=float)
    circular = pd.DataFrame(False, index=values.index, columns=metrics)
    direction: dict[str, bool | None] = {}
    for r in task.to_dict("records"):
        values.loc[r["explainer"], r["metric"]] = float(r["mean"]) if _present(r["mean"]) else np.nan
        circular.loc[r["explainer"], r["metric"]] = _present(r.get("circular"))
        hib = r.get("higher_is_better")
        if _present(hib) and direction.get(r["metric"]) is None:
            direction[r["metric"]] = bool(hib)
    for m in metrics:
        direction.setdefault(m, None)

    css = pd.DataFrame("", index=values.index, columns=metrics)
    for m in metrics:
        hib = direction[m]
        col = values[m]
        ok = col.notna() & ~circular[m]
        if hib is None or not ok.any():
            continue
        good = col[ok] if hib else -col[ok]
        lo, hi = float(good.min()), float(good.max())
        for e in good.index:
            t = 1.0 if hi == lo else (float(good[e]) - lo) / (hi - lo)
            rgb = tuple(round(255 + (c - 255) * t) for c in BEST_RGB)
            style = "background-color:#{:02x}{:02x}{:02x};color:{}".format(*rgb, TEXT_COLOUR)
            if math.isclose(float(good[e]), hi, rel_tol=1e-12, abs_tol=1e-15):
                style += ";font-weight:bold"
            css.loc[e, m] = style

    arrows = {m: m + ("" if direction[m] is None else (" ↑" if direction[m] else " ↓")) for m in metrics}
    shown = values.rename(columns=arrows)
    css = css.rename(columns=arrows)
    title = " · ".join(tasks[0]) if tasks[0] else "summary"
    styler = shown.style.apply(lambda _: css, axis=None).format(_sig, na_rep="n/a")
    styler = styler.set_caption(f"{title}: mean per explainer; bold = best; greener = better")
    styler = styler.set_table_styles([
        {"selector": "td, th", "props": "white-space: nowrap; padding: 2px 8px;"},
        {"selector": "td", "props": "text-align: right; font-variant-numeric: tabular-nums;"},
        {"selector": "th.row_heading", "props": "text-align: left;"},
        {"selector": "caption", "props": "caption-side: top; text-align: left; white-space: nowrap;"},
    ], overwrite=False)
    return styler
