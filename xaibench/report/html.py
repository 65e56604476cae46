"""``report.html``: the page of a run folder that a reader navigates, prints and links to.

Layout: a header with the run and the colour legend; a table of contents with anchors; the
leaderboard (``leaderboard.py``); the ranks across tasks with the critical-difference diagram; then
one section per task holding its tables (one per metric family, in a horizontally scrollable box,
bold = the best and those tied with it), its deletion/insertion curves and its examples; then the
run-wide tables (removal agreement, model seeds, scaling) and notes.

Examples: per task the first ``EXAMPLES_SHOWN`` texts are open and up to ``EXAMPLES_MORE`` more sit
behind ``<details>``. Each header gives the gold label, the predicted class with its probability
(the predicted value for regression) and the explained quantity f; the planted cause or human
rationale is underlined. Every explainer's attribution is one row of highlighted text
(``highlight.units_html``, green supports f, red opposes it), coloured on that explainer's own
scale (max |score| of the row: scores of different explainers are in different units); a sentence
explanation shows its sentence under the units it cites; a
"scores" table under each example shows every explainer on one shared colour scale with the
numbers printed in the cells (``highlight.compare_html``).

Figures are linked from ``figures/`` beside the page (PNG shown, PDF and SVG linked), so keep the
folder together when moving it. Fonts: the characters of Chinese text in the page are embedded as a subset of Noto Sans CJK SC
(``fonts.font_face_css``), so the page renders on machines without a CJK font; units are laid out
from their character spans, so no space is inserted between Chinese characters. All text is
HTML-escaped (jinja2 autoescape; a review containing ``<script>`` is shown as text).
"""
from __future__ import annotations

import html as html_lib
import json
import math
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from xaibench.report import highlight

EXAMPLES_SHOWN = 2
EXAMPLES_MORE = 2

_TEMPLATE = """{% macro fig(f) %}<figure><img alt="{{ f.title }}" src="{{ f.src }}" loading="lazy">
<figcaption>{{ f.title }}{% for ext, href in f.others %} · <a href="{{ href }}">{{ ext | upper }}</a>{% endfor %}
</figcaption></figure>{% endmacro %}<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>xaibench report — {{ title }}</title>
<style>
{{ font_css | safe }}
:root { --fg: #1d1d1f; --muted: #5f6368; --line: #dadce0; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "xb-cjk",
       "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif;
       margin: 0 auto; padding: 1em 1.2em 3em; max-width: 1100px; color: var(--fg); line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom: 2px solid var(--line); }
h3 { margin-top: 1.4em; font-size: 1.05em; }
nav.toc { background: #f6f8fa; border: 1px solid var(--line); border-radius: 6px; padding: 0.6em 1em; }
nav.toc ol { margin: 0.3em 0; padding-left: 1.4em; } nav.toc li { margin: 0.1em 0; }
.scroll { overflow-x: auto; max-width: 100%; }
table.t { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.86em; font-variant-numeric: tabular-nums; }
table.t th, table.t td { border-bottom: 1px solid var(--line); padding: 3px 8px; text-align: right; white-space: nowrap; }
table.t th:first-child, table.t td:first-child { text-align: left; }
table.t thead th { background: #f6f8fa; position: sticky; top: 0; }
table.t b { font-weight: 700; }
.note { color: var(--muted); font-size: 0.86em; }
figure { margin: 0.8em 0; } figure img { max-width: 100%; max-height: 560px; width: auto; height: auto;
  border: 1px solid #eee; }
figcaption { color: var(--muted); font-size: 0.85em; }
.example { border: 1px solid var(--line); border-radius: 6px; padding: 0.5em 0.8em; margin: 0.8em 0; }
.example h4 { margin: 0.1em 0 0.4em; font-size: 0.95em; font-weight: 600; }
.example .meta { color: var(--muted); font-weight: 400; }
table.ex { border-collapse: collapse; width: 100%; }
table.ex td { vertical-align: top; padding: 3px 6px; border-bottom: 1px solid #f0f0f0; }
table.ex td.name { white-space: nowrap; font-weight: 600; font-size: 0.85em; width: 1%; }
table.ex .nl { font-style: italic; color: #33415c; margin: 0.15em 0 0.2em; }
details > summary { cursor: pointer; color: #1a56b0; margin: 0.3em 0; }
{{ highlight_css | safe }}{{ report_css | safe }}
@media print {
  nav.toc, details > summary { display: none; }
  details { display: block; } details > * { display: block; }
  .scroll { overflow: visible; } body { max-width: none; font-size: 10pt; }
  h2 { break-before: page; } .example, figure, table.t { break-inside: avoid; }
}
</style></head><body>
<h1>xaibench report — {{ title }}</h1>
<p class="note">{{ subtitle }}</p>
<div class="legend">{{ legend_bar | safe }}</div>
<div class="scale-toggle"><label><input type="checkbox" id="xb-shared"> one colour scale for all explainers of
an example (default: each explainer's row on its own scale, since explainers' scores are in different units)</label></div>
<p class="note">{{ legend }}</p>
<nav class="toc"><b>Contents</b><ol>
{% if leaderboard %}<li><a href="#leaderboard">Leaderboard</a></li>{% endif %}
{% if ranks %}<li><a href="#ranks">Average rank across tasks</a></li>{% endif %}
{% for s in sections %}<li><a href="#{{ s.id }}">{{ s.title }}</a></li>{% endfor %}
{% if plain_tables %}<li><a href="#more">More tables</a></li>{% endif %}
{% if notes %}<li><a href="#notes">Notes</a></li>{% endif %}
</ol></nav>
{% if leaderboard %}<h2 id="leaderboard">Leaderboard</h2>
<div class="scroll">{{ leaderboard | safe }}</div><p class="note">{{ leaderboard_note }}</p>{% endif %}
{% if ranks %}<h2 id="ranks">Average rank across tasks</h2>
<p class="note">The ranks are the first columns of the leaderboard (ranks.csv); the diagram shows which differences
are significant.</p><p class="note">{{ friedman }}</p><p class="note">{{ reading }}</p>
{% for f in global_figures %}{{ fig(f) }}{% endfor %}{% endif %}
{% for s in sections %}<section id="{{ s.id }}"><h2>{{ s.title }}</h2>
{% for t in s.tables %}<h3>{{ t.title }}</h3><div class="scroll">{{ t.html | safe }}</div>{% endfor %}
{% for n in s.notes %}<p class="note">{{ n }}</p>{% endfor %}
{% for f in s.figures %}{{ fig(f) }}{% endfor %}
{% if s.examples %}<h3>Examples</h3>
{% for ex in s.examples[:shown] %}{{ ex | safe }}{% endfor %}
{% if s.examples|length > shown %}<details><summary>{{ s.examples|length - shown }} more example(s)</summary>
{% for ex in s.examples[shown:] %}{{ ex | safe }}{% endfor %}</details>{% endif %}{% endif %}
</section>{% endfor %}
{% if plain_tables %}<h2 id="more">More tables</h2>
{% for t in plain_tables %}<h3>{{ t.title }}</h3><div class="scroll">{{ t.html | safe }}</div>{% endfor %}
{% for f in extra_figures %}{{ fig(f) }}{% endfor %}{% endif %}
{% if notes %}<h2 id="notes">Notes</h2>{% for n in notes %}<p class="note">{{ n }}</p>{% endfor %}{% endif %}
<p class="note">Data: per_example.parquet, summary.csv, ranks.csv (xb.read_results(folder) loads them all);
figures also as PDF and SVG in figures/; provenance: provenance.json in this folder.</p>
</body></html>
"""


def anchor(text: str) -> str:
    """An id for ``text``: lower case, runs of other characters than [a-z0-9] as '-'."""
    return "task-" + (re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "x")


def _figure(path: Path, page: Path, title: str | None = None) -> dict:
    """A figure linked by its path relative to the page (figures/ sits beside report.html; the
    PDF and SVG versions are linked next to it)."""
    path = Path(path)
    rel = Path(os.path.relpath(path, Path(page).parent)).as_posix()
    others = [(ext, rel[: -len(path.suffix)] + "." + ext) for ext in ("pdf", "svg")
              if path.with_suffix("." + ext).is_file()]
    return {"title": title or path.stem.replace("_", " "), "src": rel, "others": others}


def _table_html(df: pd.DataFrame, escape: bool, index: bool = True) -> str:
    """A table as HTML; the row labels become the first column, headed by the index name (one
    header row, not pandas' extra row for the index name)."""
    if index:
        name = df.index.name or ""
        df = df.reset_index()
        df.columns = [name, *df.columns[1:]]
    return df.to_html(escape=escape, border=0, classes="t", na_rep="", index=False)


def _spans(value) -> list:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if isinstance(value, str):
        return json.loads(value) if value else []
    return list(value)


def example_header(example: dict | None, quantity: str) -> str:
    """"gold: positive · predicted: negative (p = 0.93) · explained: p(negative)" (regression:
    "gold: 4.0 · predicted: 3.7 · explained: predicted rating / σ"); what is unknown is left out."""
    parts = []
    if example:
        if example.get("label") not in (None, ""):
            parts.append(f"gold: {example['label']}")
        predicted = example.get("predicted")
        if predicted not in (None, ""):
            p = example.get("probability")
            parts.append(f"predicted: {predicted}" + (f" (p = {p:.2f})" if isinstance(p, float) and math.isfinite(p) else ""))
    parts.append(f"explained: {quantity}")
    return " · ".join(parts)


#: Colours of the report's highlights (the same ends as ``highlight``): ``--a`` is a unit's intensity
#: on its explainer's own scale, ``--s`` on the example's shared scale; the page's checkbox
#: switches every highlight to the shared one (CSS only, no script).
REPORT_CSS = """
.xr { white-space: pre-wrap; line-height: 1.9; }
.xr i { font-style: normal; border-radius: 3px; background: rgba(var(--c), var(--a)); }
.xr i.p { --c: %s; } .xr i.n { --c: %s; }
.xr i.m { border-bottom: 2px solid %s; }
body:has(#xb-shared:checked) .xr i { background: rgba(var(--c), var(--s)); }
.scale-toggle { font-size: 0.9em; margin: 0.4em 0; }
""" % (", ".join(map(str, highlight.SUPPORTS_RGB)), ", ".join(map(str, highlight.OPPOSES_RGB)), highlight.MARK_COLOUR)


def _alpha(score: float, scale: float) -> str:
    t = min(abs(score) / scale, 1.0) if scale > 0 and math.isfinite(score) else 0.0
    return f"{t:.2f}".lstrip("0") or "0"


def report_units_html(text: str, units, scores, spans, own_scale: float, shared_scale: float,
                      marked=()) -> str:
    """Compact highlighted text for the report (a few dozen bytes per unit): the original text
    between units kept from ``spans`` (none inserted between Chinese characters); each unit an
    ``<i>`` with its intensity on both scales, its score as tooltip, ``m`` when marked."""
    scores = np.asarray(scores, dtype=float)
    marked = set(marked)
    spans = highlight._check_spans(text, spans, len(units)) if len(spans) else None

    def unit(i: int, shown: str) -> str:
        s = float(scores[i])
        cls = ("p" if s > 0 else "n") + (" m" if i in marked else "")
        # Unquoted attribute values (none holds a space, quote, =, < or >): a report holds
        # thousands of units, and this keeps each to about 50 bytes of markup.
        cls = cls if " " not in cls else f'"{cls}"'
        return (f'<i class={cls} style=--a:{_alpha(s, own_scale)};--s:{_alpha(s, shared_scale)} '
                f'title={highlight._sig(s)}>{html_lib.escape(shown)}</i>')

    return f'<span class="xr">{highlight.layout(text, [str(u) for u in units], spans, unit)}</span>'


def _scale(scores) -> float:
    """The row's own colour scale: its largest finite |score| (1 when there is none)."""
    return highlight._scale_of(np.asarray(scores, dtype=float), None)


def _example_block(example_id: str, rows: list[dict], example: dict | None, quantity: str) -> str:
    """One example: its header, then one highlighted row per explainer (own or shared scale)."""
    text = rows[0]["text"]
    cause = _spans((example or {}).get("cause"))
    marked_spans = cause + _spans((example or {}).get("rationale"))
    shared = max(_scale(r["scores"]) for r in rows)
    lines = []
    for r in rows:
        spans = [tuple(s) for s in r.get("spans") or []]
        marked = highlight.marked_units(spans, marked_spans) if spans and marked_spans else []
        own = _scale(r["scores"])
        try:
            body = report_units_html(text, r["units"], r["scores"], spans, own, shared, marked)
        except ValueError:  # spans that do not fit the text (a hand-made attribution): units only
            body = report_units_html(text, r["units"], r["scores"], (), own, shared, marked)
        sentence = (r.get("metadata") or {}).get("explanation")
        if isinstance(sentence, str):  # a sentence explanation: the sentence under the units it cites
            body += f'<div class="nl">{html_lib.escape(sentence)}</div>'
        lines.append(f'<tr><td class="name">{html_lib.escape(r["explainer"])}</td><td>{body}</td></tr>')
    mark_note = ""
    if marked_spans:
        kind = "planted cause" if cause else "human rationale"
        mark_note = f' <span class="meta">· underlined: {kind}</span>'
    header = html_lib.escape(example_header(example, quantity))
    return (f'<div class="example"><h4>{html_lib.escape(str(example_id))} '
            f'<span class="meta">— {header}</span>{mark_note}</h4>'
            f'<table class="ex">{"".join(lines)}</table></div>')


def _quantity(rows: list[dict], labels: list[str] | None, fallback: str) -> str:
    """The explained quantity of one example's attributions ("p(negative)", "predicted rating / σ")."""
    from xaibench.report.quantities import shared_quantity

    if not labels:
        return fallback
    return shared_quantity([r.get("output", "prob") for r in rows], [r.get("target", 0) for r in rows], labels)


def task_examples(attribution_rows: list[dict], example_rows: list[dict], quantities: dict,
                  limit: int = EXAMPLES_SHOWN + EXAMPLES_MORE,
                  model_info: dict | None = None) -> dict[tuple[str, str], list[str]]:
    """``{(dataset, model): [example block HTML]}``: the first ``limit`` texts of each task (seed 0
    of a seed run), every explainer of the run on each. ``model_info``: the run's
    ``{"<model>@<device>": {"labels": [...]}}``, for the class an example's attributions explain."""
    by_task: dict = {}
    for r in attribution_rows:
        if r.get("model_seed"):
            continue
        by_task.setdefault((r["dataset"], r["model"], r.get("device", "cpu")), []).append(r)
    info = {(e["dataset"], e["model"], e.get("device", "cpu"), str(e["example_id"])): e for e in example_rows
            if not e.get("model_seed")}
    out: dict = {}
    for (dataset, model, device), rows in by_task.items():
        by_id: dict = {}
        for r in rows:
            by_id.setdefault(r["example_id"], []).append(r)
        labels = ((model_info or {}).get(f"{model}@{device}") or {}).get("labels")
        blocks = []
        for eid, ex_rows in list(by_id.items())[:limit]:
            quantity = _quantity(ex_rows, labels, quantities.get((dataset, model), "explained output f(x)"))
            blocks.append(_example_block(eid, ex_rows, info.get((dataset, model, device, str(eid))), quantity))
        out.setdefault((dataset, model), []).extend(blocks)
    return out


def sections(summary: pd.DataFrame, cost: pd.DataFrame | None, task_figures: dict, examples: dict,
             page: Path) -> list[dict]:
    """One section per task: its tables (cells as HTML), notes, figures and example blocks."""
    from xaibench.report import tables as reporting

    out, seen = [], set()
    for title, task in reporting.task_groups(summary):
        key = (task["dataset"].iloc[0], task["model"].iloc[0])
        shown, notes = reporting.task_display(task, cost, "html")
        tables = [{"title": family.replace("_", " "), "html": _table_html(rendered, escape=False)}
                  for family, rendered in shown]
        section_id = anchor(title)
        while section_id in seen:
            section_id += "-"
        seen.add(section_id)
        out.append({"id": section_id, "title": title, "tables": tables,
                    "notes": notes,
                    "figures": [_figure(p, page) for p in task_figures.get(key, [])],
                    "examples": examples.get(key, [])})
    return out


def page_characters(*texts) -> str:
    """Every distinct character of the page's text (for the embedded font subset)."""
    chars: set[str] = set()
    for t in texts:
        chars.update(str(t))
    return "".join(sorted(chars))


def write_report(path: Path, title: str, subtitle: str, *, summary: pd.DataFrame, cost: pd.DataFrame | None,
                 ranks: pd.DataFrame | None, friedman: str, attribution_rows: list[dict],
                 example_rows: list[dict] = (), quantities: dict | None = None, model_info: dict | None = None,
                 task_figures: dict | None = None, global_figures: list[Path] = (), extra_figures: list[Path] = (),
                 leaderboard: pd.DataFrame | None = None, leaderboard_note: str = "",
                 notes: list[str] | None = None, plain_tables: list[tuple[str, pd.DataFrame]] = (),
                 legend: str = "", reading: str = "") -> None:
    """Render the page (layout in the module docstring). ``task_figures``: ``{(dataset, model):
    [png]}`` shown in the task's section; ``global_figures``: under the ranks (the CD diagram);
    ``extra_figures``: under "More tables" (scaling). ``leaderboard``: its cells as HTML (bold as
    ``<b>``); ``plain_tables``: tables of plain values, escaped here; ``notes``: plain sentences."""
    import jinja2

    from xaibench.report import fonts

    examples = task_examples(attribution_rows, list(example_rows), quantities or {}, model_info=model_info)
    notes = [n for n in dict.fromkeys(notes or []) if n]
    context = dict(
        title=title, subtitle=subtitle, legend=legend, reading=reading, friedman=friedman, notes=notes,
        legend_bar=highlight.legend_html(1.0, "explained output f (share of the row's largest |score|)"),
        highlight_css=highlight.HIGHLIGHT_CSS, report_css=REPORT_CSS, shown=EXAMPLES_SHOWN,
        leaderboard=_table_html(leaderboard, escape=False) if leaderboard is not None and len(leaderboard) else "",
        leaderboard_note=leaderboard_note,
        ranks=ranks.to_html(index=False, escape=True, border=0, float_format="%.2f", classes="t")
        if ranks is not None and len(ranks) else "",
        global_figures=[_figure(f, path) for f in global_figures],
        extra_figures=[_figure(f, path) for f in extra_figures],
        sections=sections(summary, cost, task_figures or {}, examples, path),
        plain_tables=[{"title": t, "html": _table_html(df, escape=True, index=not isinstance(df.index, pd.RangeIndex))}
                      for t, df in plain_tables],
    )
    env = jinja2.Environment(autoescape=True)
    template = env.from_string(_TEMPLATE)
    draft = template.render(font_css="", **context)
    # Embed exactly the CJK characters the page shows (a subset of a few hundred KB at most).
    visible = re.sub(r"<[^>]+>", " ", draft)
    font_css = fonts.font_face_css(page_characters(html_lib.unescape(visible)))
    Path(path).write_text(template.render(font_css=font_css, **context), encoding="utf-8")
