"""Figures for a run folder (matplotlib, no pyplot state), each saved as PNG (for the HTML report),
PDF (fonts embedded as TrueType, for papers) and SVG (text as paths) with the same stem.

- ``curves_<task>.png``: mean deletion and insertion curves per explainer (f(x) vs fraction
  removed/kept; the y axis names f: "p(neutral)", "predicted rating / σ", ...), with a 95%
  percentile bootstrap band of the mean over examples.
- ``ranks.png``: critical-difference diagram (Demšar 2006) of the average rank per explainer over
  tasks (``statistics.across_task_ranks``): explainers joined by a bar differ by less than the
  Nemenyi critical difference CD, so the tasks do not separate them.

Every explainer keeps one colour, marker and line style in all figures of a run
(``explainer_styles``); text that may hold user input (task names, explainer names, the explained
quantity) is checked for glyphs first, so a figure fails with ``ValueError`` instead of drawing boxes.
"""
from __future__ import annotations

import math
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from xaibench.report import fonts, statistics

# Studentized range statistic / sqrt(2) at alpha = 0.05 for k = 2..10 groups (Demšar 2006, Table 5a).
_Q05 = {2: 1.960, 3: 2.343, 4: 2.569, 5: 2.728, 6: 2.850, 7: 2.949, 8: 3.031, 9: 3.102, 10: 3.164}

# Okabe & Ito's colour-blind-safe palette (yellow last: weak on white), then two of Tol's.
_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
            "#882255", "#999933", "#F0E442")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*", "h", "p")
_LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 1)))


def slug(text: str) -> str:
    """A file-name part for ``text``: ASCII letters, digits and ``._-``; names that lose other
    characters ("中文BERT") get a short hash of the full name, so two such names never collide."""
    import hashlib

    out = re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("_")[:80]
    if out != str(text):
        out = f"{out}_{hashlib.sha1(str(text).encode('utf-8')).hexdigest()[:6]}".lstrip("_")
    return out


def task_figure_name(kind: str, dataset: str, model: str) -> str:
    """The PNG file name of a task's figure: ``<kind>_<dataset>__<model>.png`` (``slug`` parts)."""
    return f"{kind}_{slug(dataset)}__{slug(model)}.png"


def explainer_styles(names) -> dict[str, dict]:
    """One matplotlib style (``color``, ``marker``, ``linestyle``) per explainer, assigned in sorted
    name order, so an explainer looks the same in every figure built from the same names. Colours
    repeat after 10, markers after 12 and line styles after 7: combinations stay distinct far beyond."""
    ordered = sorted({str(name) for name in names})
    return {name: {"color": _COLOURS[i % len(_COLOURS)], "marker": _MARKERS[i % len(_MARKERS)],
                   "linestyle": _LINESTYLES[i % len(_LINESTYLES)]} for i, name in enumerate(ordered)}


def bootstrap_band(values, n_resamples: int = 1000, level: float = 0.95, seed: int = 0):
    """Mean over examples and its percentile bootstrap interval, per column.

    ``values``: examples x points (NaN: the example has no value there). Examples (rows) are
    resampled with replacement, ``n_resamples`` times, all points of an example together.
    Returns ``(mean, low, high)``, arrays of one value per column."""
    values = np.asarray(values, dtype=float)
    if values.ndim != 2:
        raise ValueError(f"values must be examples x points, got shape {values.shape}")
    present = np.isfinite(values)
    filled = np.where(present, values, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = filled.sum(axis=0) / present.sum(axis=0)
    n = values.shape[0]
    if n < 2:
        return mean, mean.copy(), mean.copy()
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=n_resamples).astype(float)  # resamples x examples
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (counts @ filled) / (counts @ present)  # resamples x points
    alpha = (1.0 - level) / 2.0
    low, high = np.nanquantile(means, [alpha, 1.0 - alpha], axis=0)
    return mean, low, high


def _new_figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _rc(families: list[str]) -> dict:
    return {"font.family": families, "pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "path",
            "svg.hashsalt": "xaibench", "axes.unicode_minus": True}


def _figure_text(fig) -> list:
    from matplotlib.text import Text

    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


def _compact_png(path: Path) -> None:
    """Rewrite a plot's PNG with a 256-colour palette (no dithering): lines, markers and bands
    survive unchanged to the eye, and the file is 3-4x smaller (results folders get committed)."""
    from PIL import Image

    with Image.open(path) as image:
        rgb = Image.new("RGB", image.size, "white")
        rgb.paste(image, mask=image.getchannel("A") if image.mode == "RGBA" else None)
    rgb.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)


def save_figure(fig, path_png: Path, dpi: int = 110) -> Path:
    """Save ``fig`` as ``path_png`` (palette PNG, ``dpi``) and as PDF and SVG with the same stem;
    return ``path_png``.

    PDF fonts are embedded as TrueType (``pdf.fonttype`` 42), CJK glyphs from a TrueType copy of
    the CJK font (``fonts.truetype_cjk_family``), so Chinese shows in every PDF viewer; SVG text is
    drawn as paths. Raises ``ValueError`` when the figure's text has characters no font can draw."""
    import matplotlib

    path_png = Path(path_png)
    if path_png.suffix.lower() != ".png":
        raise ValueError(f"path_png must end in .png, got {path_png}")
    path_png.parent.mkdir(parents=True, exist_ok=True)
    families = fonts.font_families([t.get_text() for t in _figure_text(fig)])
    with matplotlib.rc_context(_rc(families)):
        with warnings.catch_warnings():  # a missing glyph is reported below, as an error
            warnings.filterwarnings("ignore", message="Glyph .* missing")
            fig.draw_without_rendering()  # tick labels exist after a draw
        texts = _figure_text(fig)
        for text in texts:  # before anything is written: no file with boxes
            fonts.check_glyphs([text.get_text()], text.get_fontfamily())
        fig.savefig(path_png, dpi=dpi, bbox_inches="tight", pad_inches=0.05)
        _compact_png(path_png)
        fig.savefig(path_png.with_suffix(".svg"), bbox_inches="tight", pad_inches=0.05, metadata={"Date": None})
        cjk = families[1] if len(families) > 1 else None
        swapped = {}
        truetype = fonts.truetype_cjk_family("".join(t.get_text() for t in texts)) if cjk else None
        try:
            if truetype:
                for text in texts:
                    family = list(text.get_fontfamily())
                    if cjk in family:
                        swapped[text] = family
                        text.set_fontfamily([truetype if f == cjk else f for f in family])
            pdf_families = [truetype if f == cjk else f for f in families] if truetype else families
            with matplotlib.rc_context({"font.family": pdf_families}):
                fig.savefig(path_png.with_suffix(".pdf"), bbox_inches="tight", pad_inches=0.05,
                            metadata={"CreationDate": None})
        finally:
            for text, family in swapped.items():
                text.set_fontfamily(family)
    return path_png


def _curve_matrix(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    wide = rows.pivot_table(index="example_id", columns="fraction", values="value", aggfunc="mean")
    return wide.columns.to_numpy(dtype=float), wide.to_numpy(dtype=float)


def curve_figures(curves: pd.DataFrame, folder: Path, quantities: dict | None = None, *, seed: int = 0,
                  n_resamples: int = 1000) -> list[Path]:
    """``quantities``: ``{(dataset, model): "p(neutral)" / "predicted rating / σ" ...}`` for the y
    axis (``xaibench.report.quantities.task_quantities``); "explained output f(x)" where missing.
    Bands: 95% percentile bootstrap of the mean over examples (``n_resamples``, seeded by ``seed``)."""
    if curves.empty:
        return []
    import matplotlib

    styles = explainer_styles(curves["explainer"].unique())
    written = []
    for (dataset, model), task in curves.groupby(["dataset", "model"], sort=False):
        metrics = [m for m in ("deletion_auc", "insertion_auc") if m in set(task["metric"])]
        if not metrics:
            continue
        quantity = (quantities or {}).get((dataset, model), "explained output f(x)")
        names = sorted(task["explainer"].unique(), key=str)
        user_text = [str(dataset), str(model), quantity, *map(str, names)]
        families = fonts.font_families(user_text)
        fonts.check_glyphs(user_text, families)
        with matplotlib.rc_context(_rc(families)):
            fig = _new_figure(5.2 * len(metrics), 4.4)
            axes = fig.subplots(1, len(metrics), squeeze=False)[0]
            for ax, metric in zip(axes, metrics):
                rows = task[task["metric"] == metric]
                for explainer in names:
                    g = rows[rows["explainer"] == explainer]
                    if g.empty:
                        continue
                    x, matrix = _curve_matrix(g)
                    mean, low, high = bootstrap_band(matrix, n_resamples=n_resamples, seed=seed)
                    style = styles[str(explainer)]
                    ax.fill_between(x, low, high, color=style["color"], alpha=0.15, linewidth=0)
                    ax.plot(x, mean, ms=3.5, lw=1.4, label=str(explainer), **style)
                word = "removed" if metric.startswith("deletion") else "kept"
                ax.set_xlabel(f"fraction of top-ranked units {word}")
                ax.set_ylabel(f"{quantity} (mean)")
                ax.set_title(f"{metric.replace('_auc', '')} curve ({'lower' if word == 'removed' else 'higher'} "
                             "is better)", fontsize=10)
                ax.grid(alpha=0.3)
            handles, labels = axes[0].get_legend_handles_labels()
            # Below the plots, never over the curves.
            fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 5), fontsize=8,
                       frameon=False)
            fig.suptitle(f"{dataset} · {model}  (bands: 95% bootstrap CI of the mean over examples)", fontsize=10)
        path = save_figure(fig, Path(folder) / task_figure_name("curves", dataset, model))
        written.append(path)
    return written


def critical_difference(k: int, n: int, alpha: float = 0.05) -> float:
    """Nemenyi critical difference of average ranks for ``k`` explainers over ``n`` tasks
    (Demšar 2006): q_alpha * sqrt(k (k + 1) / (6 n)); q from Demšar's table for k <= 10, else from
    the studentized range distribution (infinite degrees of freedom) / sqrt(2). NaN for k < 2 or n < 1."""
    if k < 2 or n < 1:
        return math.nan
    if alpha == 0.05 and k in _Q05:
        q = _Q05[k]
    else:
        from scipy.stats import studentized_range

        q = float(studentized_range.ppf(1.0 - alpha, k, np.inf)) / math.sqrt(2.0)
    return q * math.sqrt(k * (k + 1) / (6.0 * n))


def cd_cliques(avg_ranks: dict, cd: float) -> list[list[str]]:
    """Maximal groups of explainers whose average ranks all differ by less than ``cd`` (each group
    a run of consecutive explainers in rank order; groups contained in another, and single
    explainers, left out), in rank order. ``avg_ranks``: ``{explainer: average rank}``."""
    if not np.isfinite(cd) or cd <= 0:
        return []
    ordered = sorted(avg_ranks.items(), key=lambda item: (item[1], str(item[0])))
    cliques, reach = [], -1
    for i, (_, rank) in enumerate(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1][1] - rank < cd:
            j += 1
        if j > i and j > reach:
            cliques.append([name for name, _ in ordered[i:j + 1]])
            reach = j
    return cliques


def rank_figure(ranks: pd.DataFrame, folder: Path) -> Path | None:
    """Critical-difference diagram (Demšar 2006) of ``ranks`` (columns explainer, average_rank,
    n_tasks): rank axis 1..k on top, the better half of the explainers labelled on the left, the
    rest on the right, each with its average rank; the CD bar with its value; thick bars join the
    explainers that differ by less than CD."""
    if ranks.empty:
        return None
    import matplotlib

    # Average ranks over different task sets do not compare, and the CD assumes one: an explainer
    # that ran on fewer tasks is left off the diagram (and named under it).
    fewer, n = statistics.ranked_on_fewer_tasks(ranks)
    data = ranks[~ranks["explainer"].astype(str).isin(fewer)].sort_values("average_rank", kind="stable")
    names = [str(e) for e in data["explainer"]]
    values = [float(v) for v in data["average_rank"]]
    k = len(names)
    cd = critical_difference(k, n)
    cliques = cd_cliques(dict(zip(names, values)), cd)
    styles = explainer_styles(names)
    user_text = names + list(fewer)
    families = fonts.font_families(user_text)
    fonts.check_glyphs(user_text, families)

    n_left = (k + 1) // 2
    row, clique_gap = 0.42, 0.2
    first_row = 0.45 + clique_gap * len(cliques) + 0.25
    rows_needed = max(n_left, k - n_left)
    bottom = first_row + row * (rows_needed - 1) + 0.3 + (0.45 if len(fewer) else 0.0)
    low, high = 1.0, float(max(k, 2))
    left_end, right_end = low - 0.35 * (high - low + 1) / 4 - 0.1, high + 0.35 * (high - low + 1) / 4 + 0.1
    with matplotlib.rc_context(_rc(families)):
        fig = _new_figure(7.0, 1.3 + 0.55 * bottom)
        ax = fig.add_subplot()
        ax.set_axis_off()
        line = {"color": "0.15", "lw": 0.9}
        ax.plot([low, high], [0, 0], **line)
        for tick in range(1, int(high) + 1):
            ax.plot([tick, tick], [0, -0.1], **line)
            ax.text(tick, -0.16, str(tick), ha="center", va="bottom", fontsize=9)
        for half in np.arange(1.5, high, 1.0):
            ax.plot([half, half], [0, -0.05], **line)
        ax.text((low + high) / 2, -0.55, f"average rank over {n} task(s) (1 = best)", ha="center",
                va="bottom", fontsize=8, color="0.3")
        for i, (name, value) in enumerate(zip(names, values)):
            colour = styles[name]["color"]
            if i < n_left:  # best first, nearest the axis: no line crosses another
                y, x_end, ha, pad = first_row + row * i, left_end, "right", -0.05
            else:
                y, x_end, ha, pad = first_row + row * (k - 1 - i), right_end, "left", 0.05
            ax.plot([value, value, x_end], [0, y, y], color=colour, lw=1.1)
            ax.plot([value], [0], marker=styles[name]["marker"], color=colour, ms=5, zorder=3)
            ax.text(x_end + pad, y, f"{name} ({value:.2f})" if ha == "right" else f"({value:.2f}) {name}",
                    ha=ha, va="center", fontsize=9)
        for c, members in enumerate(cliques):
            lo_rank = values[names.index(members[0])]
            hi_rank = values[names.index(members[-1])]
            y = 0.45 + clique_gap * c
            ax.plot([lo_rank - 0.04, hi_rank + 0.04], [y, y], color="black", lw=3.2, solid_capstyle="round", zorder=4)
        if np.isfinite(cd):
            y = -0.85
            ax.plot([low, low + cd], [y, y], color="black", lw=1.6)
            for x in (low, low + cd):
                ax.plot([x, x], [y - 0.06, y + 0.06], color="black", lw=1.0)
            ax.text(low + cd / 2, y - 0.08, f"CD = {cd:.2f} (Nemenyi, α = 0.05, {n} task(s))", ha="center",
                    va="bottom", fontsize=8)
        if len(fewer):
            ax.text((low + high) / 2, bottom - 0.1, "not shown, ranked on fewer tasks: " + ", ".join(
                f"{e} ({t} of {n})" for e, t in fewer.items()),
                ha="center", va="bottom", fontsize=8, color="0.3")
        top = -1.25 if np.isfinite(cd) else -0.7
        ax.set_xlim(left_end, right_end)
        ax.set_ylim(bottom, top)  # y grows downwards: the axis on top
    return save_figure(fig, Path(folder) / "ranks.png")
