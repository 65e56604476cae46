"""Statistics for the comparison tables.

- ``bootstrap_ci``: 95% percentile bootstrap interval of a mean (``scipy.stats.bootstrap``, seeded).
- ``paired_tests_vs_best``: for each (task, metric), a two-sided Wilcoxon signed-rank test of every
  explainer against the best one on the examples both scored, Holm-corrected over the explainers
  compared (Demšar 2006's recommended post-hoc procedure for "vs control" comparisons).
- ``friedman_ranks``: average rank of each explainer over all (task, metric) blocks (rank 1 = best,
  ties share the mean rank) and the Friedman chi-square test that all explainers rank alike.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

TASK_KEYS = ["dataset", "model", "device"]


def bootstrap_ci(values: np.ndarray, seed: int = 0, n_resamples: int = 2000) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean; degenerate samples give (mean, mean)."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return (math.nan, math.nan)
    if len(values) < 2 or np.ptp(values) == 0:
        m = float(values.mean())
        return (m, m)
    from scipy.stats import bootstrap

    res = bootstrap((values,), np.mean, confidence_level=0.95, n_resamples=n_resamples, method="percentile",
                    rng=np.random.default_rng(seed))
    return (float(res.confidence_interval.low), float(res.confidence_interval.high))


def holm(p_values: list[float]) -> list[float]:
    """Holm step-down adjusted p-values (monotone, capped at 1); NaN stays NaN."""
    p = np.asarray(p_values, dtype=float)
    finite = np.where(np.isfinite(p))[0]
    adjusted = np.full(len(p), math.nan)
    order = finite[np.argsort(p[finite], kind="stable")]
    m, running = len(order), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()


def paired_tests_vs_best(per_example: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """``summary`` plus ``rank`` (1 = best mean within task x metric) and ``p_value_vs_best``."""
    from scipy.stats import wilcoxon

    out = summary.copy()
    out["rank"] = math.nan
    out["p_value_vs_best"] = math.nan
    if summary.empty:
        return out
    for _, block in summary.groupby(TASK_KEYS + ["metric"], sort=False):
        hib = block["higher_is_better"].dropna()
        if not len(hib) or block["mean"].notna().sum() == 0:
            continue
        sign = -1.0 if bool(hib.iloc[0]) else 1.0
        ranks = (sign * block["mean"]).rank(method="average")
        out.loc[block.index, "rank"] = ranks
        best = block.loc[(sign * block["mean"]).idxmin(), "explainer"]
        row0 = block.iloc[0]
        mask = ((per_example["dataset"] == row0["dataset"]) & (per_example["model"] == row0["model"])
                & (per_example["metric"] == row0["metric"]) & (per_example["device"] == row0["device"]))
        wide = per_example[mask].pivot_table(index="example_id", columns="explainer", values="value", aggfunc="first")
        raw, idx = [], []
        for i, row in block.iterrows():
            if row["explainer"] == best or row["explainer"] not in wide or best not in wide:
                continue
            pair = wide[[best, row["explainer"]]].dropna()
            diff = pair[best] - pair[row["explainer"]]
            if len(pair) < 2 or np.allclose(diff, 0):
                p = 1.0 if len(pair) >= 2 else math.nan
            else:
                p = float(wilcoxon(pair[best], pair[row["explainer"]], zero_method="zsplit").pvalue)
            raw.append(p)
            idx.append(i)
        for i, p in zip(idx, holm(raw)):
            out.loc[i, "p_value_vs_best"] = p
    return out


def friedman_ranks(summary: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Average rank per explainer over (task, metric) blocks, and the Friedman test.

    Only blocks where every explainer has a mean enter the test (it needs complete blocks).
    """
    from scipy.stats import friedmanchisquare

    from xaibench.metrics.base import declared

    # Ranks compare explanation quality; cost has its own columns and would swamp the ranking.
    cost = [m for m in summary["metric"].unique() if declared(m, "family") == "cost"]
    ranked = summary[~summary["metric"].isin(cost)].dropna(subset=["mean", "higher_is_better"])
    if ranked.empty:
        return pd.DataFrame(columns=["explainer", "average_rank", "n_blocks"]), {}
    wide = ranked.assign(score=np.where(ranked["higher_is_better"].astype(bool), -ranked["mean"], ranked["mean"]))
    table = wide.pivot_table(index=TASK_KEYS + ["metric"], columns="explainer", values="score", aggfunc="first")
    table = table.dropna(axis=0, how="any")
    if table.empty:
        return pd.DataFrame(columns=["explainer", "average_rank", "n_blocks"]), {}
    ranks = table.rank(axis=1, method="average")
    avg = ranks.mean(axis=0).sort_values()
    result = pd.DataFrame({"explainer": avg.index, "average_rank": avg.values, "n_blocks": len(table)})
    test = {"n_blocks": int(len(table)), "n_explainers": int(table.shape[1])}
    if table.shape[1] >= 3 and len(table) >= 2:
        stat, p = friedmanchisquare(*[table[c].to_numpy() for c in table.columns])
        test.update({"chi2": float(stat), "p_value": float(p)})
    return result, test
