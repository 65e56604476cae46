"""Figures for a run folder (matplotlib, Agg backend, PNG).

- ``curves_<task>.png``: mean deletion and insertion curves per explainer (f(x) vs fraction
  removed/kept; the y axis names f: "p(neutral)", "predicted rating / σ", ...).
- ``ranks.png``: average rank per explainer over tasks (``statistics.across_task_ranks``), with the
  Nemenyi critical difference over tasks (Demšar 2006) drawn as a bar: explainers closer than CD are
  not significantly different.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

# Studentized range statistic / sqrt(2) at alpha = 0.05 for k = 2..10 groups (Demšar 2006, Table 5a).
_Q05 = {2: 1.960, 3: 2.343, 4: 2.569, 5: 2.728, 6: 2.850, 7: 2.949, 8: 3.031, 9: 3.102, 10: 3.164}


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:80]


def curve_figures(curves: pd.DataFrame, folder: Path, quantities: dict | None = None) -> list[Path]:
    """``quantities``: ``{(dataset, model): "p(neutral)" / "predicted rating / σ" ...}`` for the y
    axis (``xaibench.report.quantities.task_quantities``); "explained output f(x)" where missing."""
    if curves.empty:
        return []
    plt = _plt()
    written = []
    for (dataset, model), task in curves.groupby(["dataset", "model"], sort=False):
        metrics = [m for m in ("deletion_auc", "insertion_auc") if m in set(task["metric"])]
        if not metrics:
            continue
        fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 3.8), squeeze=False)
        for ax, metric in zip(axes[0], metrics):
            rows = task[task["metric"] == metric]
            for explainer, g in rows.groupby("explainer", sort=False):
                mean = g.groupby("fraction")["value"].mean()
                ax.plot(mean.index, mean.values, marker="o", ms=3, label=explainer)
            word = "removed" if metric.startswith("deletion") else "kept"
            ax.set_xlabel(f"fraction of top-ranked units {word}")
            ax.set_ylabel(f"{(quantities or {}).get((dataset, model), 'explained output f(x)')} (mean)")
            ax.set_title(f"{metric.replace('_auc', '')} curve ({'lower' if word == 'removed' else 'higher'} is better)")
            ax.grid(alpha=0.3)
        axes[0][-1].legend(fontsize=7, loc="best")
        fig.suptitle(f"{dataset} · {model}", fontsize=10)
        fig.tight_layout()
        path = folder / f"curves_{slug(dataset)}__{slug(model)}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def rank_figure(ranks: pd.DataFrame, folder: Path) -> Path | None:
    if ranks.empty:
        return None
    plt = _plt()
    k, n = len(ranks), int(ranks["n_tasks"].max())
    cd = _Q05.get(k, math.nan) * math.sqrt(k * (k + 1) / (6.0 * n)) if k >= 2 and n else math.nan
    fig, ax = plt.subplots(figsize=(6.5, 0.45 * k + 1.4))
    y = np.arange(k)[::-1]
    ax.scatter(ranks["average_rank"], y, zorder=3)
    ax.set_yticks(y, ranks["explainer"])
    ax.set_xlabel(f"average rank over {n} task(s) (1 = best)")
    if np.isfinite(cd):
        best = float(ranks["average_rank"].min())
        ax.plot([best, best + cd], [k - 0.3, k - 0.3], lw=3, color="black")
        ax.text(best + cd / 2, k - 0.15, f"CD = {cd:.2f} (Nemenyi, α = 0.05)", ha="center", fontsize=8)
        ax.set_ylim(-0.7, k + 0.3)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    path = folder / "ranks.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
