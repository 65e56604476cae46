"""``report.html``: one self-contained page (figures embedded as base64 PNG) with the summary
tables, the figures, and example texts with every explainer's attribution as coloured highlights
side by side. All text is HTML-escaped by jinja2's autoescape (a review containing ``<script>`` is
shown as text); the page declares UTF-8 and a CJK-capable font stack.
"""
from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pandas as pd

_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>xaibench report — {{ title }}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK SC", "PingFang SC",
       "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.ex td { text-align: left; vertical-align: top; }
.u { padding: 1px 2px; border-radius: 3px; }
img { max-width: 100%; }
.note { color: #666; font-size: 0.85em; }
</style></head><body>
<h1>xaibench report</h1>
<p class="note">{{ subtitle }}</p>
{% for t in tables %}<h2>{{ t.title }}</h2>{{ t.html | safe }}{% endfor %}
<p class="note">{{ legend }}</p>
{% for n in notes %}<p class="note">{{ n }}</p>{% endfor %}
{% if ranks %}<h2>Average rank across tasks</h2>{{ ranks | safe }}<p class="note">{{ friedman }}</p>
<p class="note">{{ reading }}</p>{% endif %}
{% for f in figures %}<h3>{{ f.title }}</h3><img alt="{{ f.title }}" src="data:image/png;base64,{{ f.data }}">{% endfor %}
{% for ex in examples %}
<h3>Example {{ ex.id }} ({{ ex.task }}), target: {{ ex.target }}</h3>
<table class="ex">{% for row in ex.rows %}<tr><td><b>{{ row.explainer }}</b></td><td>
{% for u in row.units %}<span class="u" style="background: {{ u.color }}" title="{{ u.score }}">{{ u.text }}</span> {% endfor %}
</td></tr>{% endfor %}</table>{% endfor %}
<p class="note">Highlights: red supports the explained output (the explained class's probability; ŷ/σ for
regression models), blue opposes it; intensity is |score| / max |score|
within each explanation. Provenance: provenance.json in this folder.</p>
</body></html>
"""


def _color(score: float, scale: float) -> str:
    if scale <= 0 or not np.isfinite(score):
        return "transparent"
    a = min(1.0, abs(score) / scale) * 0.75
    return f"rgba(220, 40, 40, {a:.2f})" if score > 0 else f"rgba(40, 90, 220, {a:.2f})"


def _examples(attribution_rows: list[dict], per_task: int = 3) -> list[dict]:
    out = []
    by_task: dict = {}
    for r in attribution_rows:
        by_task.setdefault((r["dataset"], r["model"]), []).append(r)
    for (dataset, model), rows in by_task.items():
        ids = list(dict.fromkeys(r["example_id"] for r in rows))[:per_task]
        for eid in ids:
            ex_rows = []
            target = None
            for r in rows:
                if r["example_id"] != eid:
                    continue
                scores = np.asarray(r["scores"], dtype=float)
                scale = float(np.nanmax(np.abs(scores))) if len(scores) else 0.0
                target = r["target"]
                ex_rows.append({"explainer": r["explainer"], "units": [
                    {"text": u, "score": f"{s:+.4f}", "color": _color(s, scale)} for u, s in zip(r["units"], scores)]})
            out.append({"id": eid, "task": f"{dataset} · {model}", "target": target, "rows": ex_rows})
    return out


def write_report(path: Path, title: str, subtitle: str, summary_tables: list[tuple[str, pd.DataFrame]],
                 ranks: pd.DataFrame | None, friedman: str, figures: list[Path], attribution_rows: list[dict],
                 notes: list[str] | None = None, plain_tables: list[tuple[str, pd.DataFrame]] = (),
                 legend: str = "", reading: str = "") -> None:
    """Render the page. ``summary_tables``: tables whose cells are already HTML
    (``tables.task_tables(..., fmt="html")``: escaped text, ``<b>`` for bold); ``plain_tables``:
    tables of plain values, escaped here. ``notes`` are plain sentences shown under the tables
    (e.g. truncated texts, circular pairs); ``legend`` explains the cells, ``reading`` the ranks."""
    import jinja2

    env = jinja2.Environment(autoescape=True)
    page = env.from_string(_TEMPLATE).render(
        title=title, subtitle=subtitle, legend=legend, reading=reading,
        tables=[{"title": t, "html": df.to_html(escape=False, border=0)} for t, df in summary_tables]
        + [{"title": t, "html": df.to_html(escape=True, border=0)} for t, df in plain_tables],
        ranks=ranks.to_html(index=False, escape=True, border=0, float_format="%.2f") if ranks is not None and len(ranks) else "",
        friedman=friedman, notes=[n for n in dict.fromkeys(notes or []) if n],  # one circular-pair note per pair, not per task
        figures=[{"title": f.stem, "data": base64.b64encode(f.read_bytes()).decode("ascii")} for f in figures],
        examples=_examples(attribution_rows),
    )
    path.write_text(page, encoding="utf-8")
