"""Model-seed variance: does an explainer comparison survive retraining the model with another seed?

A run with ``--xb-model-seeds K`` runs every task on K models trained from the same recipe and
training data with seeds 0..K−1 (``<model>``, ``<model>-seed1``, ...; ``xaibench.zoo.recipes``);
per-example rows carry ``base_model`` and ``model_seed``. This module reads those rows and the
run's summary (one mean per model seed) and reports, per task (dataset, base model, device):

- per (explainer, metric): the mean over seeds of the per-seed means (``mean``), the sample
  standard deviation over seeds (``sd``, n − 1 in the denominator; NaN with one seed), ``min`` and
  ``max`` of the per-seed means, and ``k``, the seeds with a finite mean;
- per metric: Kendall's coefficient of concordance W of the explainer rankings across the seeds
  (explainers are the objects, seeds the raters; ``kendall_w``), with the tie correction, and its
  chi-square test of W = 0 (``w_chi2`` = m(n − 1)W on n − 1 degrees of freedom, ``w_p_value``;
  m seeds, n explainers). Only explainers with a ranked mean under every seed are objects (as in
  ``xaibench.report.statistics.competes``: circular pairs, metrics that do not apply and the control
  on cost are left out). Cost metrics (declared family ``cost``) get no W: their spread is timing
  noise, not the model. W = 1: every seed ranks the explainers identically; W near 0: the ranking
  is an accident of the seed.

``model_seeds.csv`` holds one row per (task, explainer, metric) with the metric's W columns
repeated on each row of the block (as ``friedman_p`` in summary.csv); ``markdown_section`` is the
summary.md section.

Kendall's W (Kendall & Babington Smith 1939; tie correction as in Siegel & Castellan 1988, 9.4):
with R_i the sum of object i's ranks over the m raters (ties get average ranks), S = Σ (R_i − R̄)²,
T_j = Σ (t³ − t) over the tie groups of rater j,

    W = 12 S / (m² (n³ − n) − m Σ_j T_j).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

TASK_KEYS = ["dataset", "base_model", "device"]
#: A seed run kept inside another run's folder (``--xb-out <folder>/model_seeds``, e.g. in
#: ``results/reference``): a rerun of the parent keeps it and shows its tables (``from_subfolder``).
SUBFOLDER = "model_seeds"
CSV = "model_seeds.csv"
COLUMNS = TASK_KEYS + ["explainer", "metric", "family", "higher_is_better", "k", "mean", "sd", "min", "max",
                       "kendall_w", "w_chi2", "w_df", "w_p_value", "w_n_explainers", "w_n_seeds"]


def has_model_seeds(per_example: pd.DataFrame) -> bool:
    """True when some task of the run ran on more than one model seed."""
    if per_example.empty or not {"base_model", "model_seed"} <= set(per_example.columns):
        return False
    counts = per_example.groupby(TASK_KEYS, sort=False, dropna=False)["model_seed"].nunique()
    return bool(len(counts)) and int(counts.max()) > 1


def kendall_w(values, higher_is_better: bool = True) -> dict:
    """Kendall's W of an m × n table (rows: raters, columns: objects) of scores; each row is ranked
    (1 = best; ties get their average rank) and W is tie-corrected (module docstring).

    Returns ``w``, ``chi2`` = m(n − 1)W, ``df`` = n − 1, ``p_value`` (chi-square upper tail), ``m``,
    ``n``. W and the test are NaN with fewer than 2 raters or 2 objects, or when every rater ties
    every object (nothing is ranked)."""
    from scipy.stats import chi2 as chi2_dist
    from scipy.stats import rankdata

    table = np.asarray(values, dtype=float)
    m, n = table.shape if table.ndim == 2 else (0, 0)
    out = {"w": math.nan, "chi2": math.nan, "df": max(n - 1, 0), "p_value": math.nan, "m": m, "n": n}
    if m < 2 or n < 2 or not np.isfinite(table).all():
        return out
    sign = -1.0 if higher_is_better else 1.0
    ranks = np.vstack([rankdata(sign * row, method="average") for row in table])
    totals = ranks.sum(axis=0)
    s = float(((totals - m * (n + 1) / 2) ** 2).sum())
    ties = 0.0
    for row in ranks:
        _, counts = np.unique(row, return_counts=True)
        ties += float((counts.astype(float) ** 3 - counts).sum())
    denominator = m * m * (n ** 3 - n) - m * ties
    if denominator <= 0:
        return out
    w = 12.0 * s / denominator
    chi2 = m * (n - 1) * w
    out.update(w=w, chi2=chi2, p_value=float(chi2_dist.sf(chi2, n - 1)))
    return out


def seed_table(per_example: pd.DataFrame, summary: pd.DataFrame | None = None, seed: int = 0) -> pd.DataFrame:
    """``model_seeds.csv`` (columns ``COLUMNS``) from the run's per-example rows (they say which
    model is which seed of which base model) and its summary (``xaibench.report.tables.summarize``
    of the same rows; computed here when not given, with bootstrap ``seed``)."""
    from xaibench.metrics.base import declared
    from xaibench.report.statistics import competes

    if not has_model_seeds(per_example):
        return pd.DataFrame(columns=COLUMNS)
    if summary is None:
        from xaibench.report.tables import summarize

        summary = summarize(per_example, seed=seed)
    seeds = per_example[["dataset", "model", "device", "base_model", "model_seed"]].drop_duplicates(
        ["dataset", "model", "device"])
    rows = summary.merge(seeds, on=["dataset", "model", "device"], how="inner")
    rows = rows.assign(competes=competes(rows).to_numpy())
    out = []
    for task, block in rows.groupby(TASK_KEYS, sort=False, dropna=False):
        if block["model_seed"].nunique() < 2:
            continue  # a task of one seed (another task of the run has several): nothing to compare
        for metric, cells in block.groupby("metric", sort=False):
            family = declared(metric, "family", cells["family"].iloc[0] if "family" in cells else None)
            hib = cells["higher_is_better"].dropna()
            higher = bool(hib.iloc[0]) if len(hib) else None
            concordance = kendall_w(np.empty((0, 0)))
            if family != "cost" and higher is not None:
                ranked = cells[cells["competes"]].pivot_table(index="model_seed", columns="explainer", values="mean",
                                                              aggfunc="first")
                # A seed with no ranked cell (its model failed) is no rater; an explainer some seed
                # did not rank is no object.
                ranked = ranked.dropna(axis=0, how="all").dropna(axis=1)
                concordance = kendall_w(ranked.to_numpy(), higher_is_better=higher)
            for explainer, per_seed in cells.groupby("explainer", sort=False):
                means = per_seed["mean"].to_numpy(dtype=float)
                means = means[np.isfinite(means)]
                if not len(means):
                    continue  # not applicable or failed under every seed
                out.append({**dict(zip(TASK_KEYS, task)), "explainer": explainer, "metric": metric, "family": family,
                            "higher_is_better": higher, "k": int(len(means)), "mean": float(means.mean()),
                            "sd": float(means.std(ddof=1)) if len(means) > 1 else math.nan,
                            "min": float(means.min()), "max": float(means.max()),
                            "kendall_w": concordance["w"], "w_chi2": concordance["chi2"],
                            "w_df": concordance["df"] if np.isfinite(concordance["w"]) else math.nan,
                            "w_p_value": concordance["p_value"], "w_n_explainers": concordance["n"],
                            "w_n_seeds": concordance["m"]})
    return pd.DataFrame(out, columns=COLUMNS)


def wide_tables(table: pd.DataFrame, escape=str) -> list[tuple[str, pd.DataFrame]]:
    """Per task of a ``seed_table``, ``(title, explainers × metrics table)`` of plain strings:
    "mean ± sd" over seeds per explainer and metric and a "Kendall's W" row (cost metrics left
    out); names passed through ``escape`` (``md_escape`` for Markdown, ``str`` for HTML, which
    escapes itself). [] when the run has no seeds."""
    from xaibench.report.tables import _fmt

    table = table[table["family"] != "cost"] if len(table) else table
    if table.empty:
        return []
    several_devices = table["device"].nunique() > 1 or set(table["device"]) != {"cpu"}
    out = []
    for (dataset, base_model, device), block in table.groupby(TASK_KEYS, sort=False, dropna=False):
        title = f"{dataset} · {base_model}" + (f" · {device}" if several_devices else "")
        metrics = list(dict.fromkeys(block["metric"]))
        headers = {m: f"{m} {_arrow(block[block['metric'] == m]['higher_is_better'].iloc[0])}".rstrip()
                   for m in metrics}
        wide = pd.DataFrame(index=pd.Index(list(dict.fromkeys(block["explainer"])), name="explainer"),
                            columns=[headers[m] for m in metrics], dtype=object).fillna("n/a")
        w_row = {}
        for _, r in block.iterrows():
            sd = f" ± {_fmt(r['sd'])}" if np.isfinite(r["sd"]) else ""
            wide.loc[r["explainer"], headers[r["metric"]]] = f"{_fmt(r['mean'])}{sd}"
            w, p = r["kendall_w"], r["w_p_value"]
            w_row[headers[r["metric"]]] = f"{w:.2f} (p = {p:.2g})" if np.isfinite(w) else "n/a"
        wide.loc["Kendall's W", list(w_row)] = list(w_row.values())
        wide.index = [escape(i) for i in wide.index]
        wide.index.name = "explainer"
        out.append((escape(title), wide))
    return out


def explanation(k: int, separate: bool = False) -> str:
    """What the seed tables show, in two sentences and a warning (summary.md and report.html);
    ``separate``: the tables come from a seed run kept in ``SUBFOLDER``, not from this run."""
    where = f"a task of its own in {SUBFOLDER}/summary.md" if separate else "each a task of its own above"
    return (f"Each task ran on {k} models: its built-in model (seed 0) and the same recipe retrained on the same "
            f"training data with seeds 1..{k - 1} (`<model>-seed<s>`, {where}). Cells: mean "
            "over the seeds of the per-seed mean ± its standard deviation over seeds (min–max and cost metrics in "
            "model_seeds.csv). Kendall's W: how much the seeds agree on the ranking of the explainers on that "
            "metric (1 = identical rankings, 0 = no agreement; p tests W = 0). A comparison the seeds do not agree "
            "on may be an accident of one seed. The across-task ranks count each seed as a task.")


def markdown_section(table: pd.DataFrame, separate: bool = False) -> str:
    """summary.md's "Model-seed variance" section (``wide_tables`` under ``explanation``); "" when
    the run has no seeds. ``separate``: see ``explanation``."""
    from xaibench.report.tables import md_escape

    tables = wide_tables(table, escape=md_escape)
    if not tables:
        return ""
    k = int(table["k"].max())
    heading = f"Model-seed variance ({k} seeds" + (f"; a separate run: {SUBFOLDER}/)" if separate else ")")
    lines = [f"\n### {heading}\n", explanation(k, separate) + "\n"]
    for title, wide in tables:
        lines += [f"#### {title}\n", wide.to_markdown(tablefmt="pipe"), ""]
    return "\n".join(lines) + "\n"


def _arrow(higher_is_better) -> str:
    if higher_is_better is None or (isinstance(higher_is_better, float) and math.isnan(higher_is_better)):
        return ""
    return "↑" if bool(higher_is_better) else "↓"


def from_subfolder(folder) -> tuple[str, list[tuple[str, pd.DataFrame]], int]:
    """The Markdown section, HTML tables and seed count K of a seed run kept in
    ``folder/model_seeds`` (its ``model_seeds.csv``), titled as a separate run; ``("", [], 0)``
    when there is none."""
    import os

    path = os.path.join(str(folder), SUBFOLDER, CSV)
    if not os.path.isfile(path):
        return "", [], 0
    table = pd.read_csv(path)
    if table.empty:
        return "", [], 0
    section = markdown_section(table, separate=True)
    tables = [(f"Model-seed variance ({SUBFOLDER}/): {title}", wide) for title, wide in wide_tables(table)]
    return section, tables, int(table["k"].max())
