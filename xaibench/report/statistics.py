"""Statistics for the comparison tables: what a reader may conclude, and with what evidence.

Within a task (the unit a table shows):

- ``bootstrap_ci``: 95% percentile bootstrap interval of a mean (``scipy.stats.bootstrap``, seeded);
  ``wilson_ci``: the 95% Wilson score interval of a share, for metrics that declare ``proportion``
  (a hit rate such as 64/64 has a real interval, [0.943, 1], not "± 0").
- ``paired_tests_vs_best``: for each (task, metric), the best explainer by mean, a two-sided Wilcoxon
  signed-rank test of every other explainer against it, paired over the examples both scored,
  Holm-corrected over the explainers compared (Demšar 2006's "vs control" post-hoc procedure).
  Every explainer whose adjusted p is >= ``ALPHA`` is ``tied_best``: not significantly different
  from the best, so tables make all of them bold. A Friedman test over the examples
  (``friedman_p``) says whether the explainers differ on the metric at all.
- Cells that must not compete are left out of "best" and of every rank: circular pairs (the metric
  recomputes the explainer's own quantity, ``xaibench.metrics.circularity``), pairs the metric does
  not apply to (seed stability of a deterministic explainer), the removal variants (they re-measure
  a metric already ranked), and on cost metrics the ``control`` explainers (the random control is
  free by construction).

Across tasks (``task_ranks``): the unit of evidence is the task, not a (task, metric) block (the
metrics of one task are far from independent, and pooling them overstates the evidence). Each
explainer gets one average rank per task, over that task's ranked metrics; a metric where only m of
the task's k explainers compete has its ranks 1..m spread onto 1..k (``1 + (r − 1)(k − 1)/(m − 1)``)
so that being worst of three weighs like being worst of nine. Over tasks: the mean of the per-task
ranks, the Friedman test with tasks as blocks, and the Nemenyi critical difference (``figures``).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

TASK_KEYS = ["dataset", "model", "device"]
#: Significance level of the paired tests and of "tied with the best".
ALPHA = 0.05


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


def wilson_ci(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """95% Wilson score interval of a share ``successes / n`` (Wilson 1927):
    (p + z²/2n ± z·sqrt(p(1−p)/n + z²/4n²)) / (1 + z²/n); (nan, nan) for n = 0."""
    if n <= 0:
        return (math.nan, math.nan)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


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


def _explainer_family(name: str) -> str | None:
    from xaibench.core import registry

    return getattr(registry.explainers.spec(name), "family", None) if name in registry.explainers else None


def competes(summary: pd.DataFrame) -> pd.Series:
    """Per summary row: True when the cell may be "best" and enter ranks (see the module docstring)."""
    from xaibench.metrics.base import declared

    ok = summary["mean"].notna() & summary["higher_is_better"].notna()
    if "circular" in summary:
        ok &= summary["circular"].isna() | (summary["circular"].astype(str) == "")
    if "not_applicable" in summary:
        ok &= summary["not_applicable"].isna() | (summary["not_applicable"].astype(str) == "")
    cost = summary["metric"].map(lambda m: declared(m, "family") == "cost")
    control = summary["explainer"].map(lambda e: _explainer_family(e) == "control")
    return ok & ~(cost & control)


def ranked_metric(name: str) -> bool:
    """True for metrics that enter the across-task ranks: quality metrics, not cost, not a removal
    variant of another metric (that one is ranked already), not a metric about one explainer
    family only (the sentence metrics: they compare the sentence explainers among themselves, in
    their own table, not every explainer)."""
    from xaibench.metrics.base import declared

    return (declared(name, "family", "faithfulness") != "cost" and not declared(name, "variant_of", None)
            and not declared(name, "explainer_family", None))


def paired_tests_vs_best(per_example: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """``summary`` plus ``rank`` (1 = best mean within task x metric, among the cells that compete),
    ``p_value_vs_best`` (Holm-adjusted Wilcoxon), ``tied_best`` and ``friedman_p`` (see module docstring)."""
    from scipy.stats import friedmanchisquare, wilcoxon

    out = summary.copy()
    out["rank"] = math.nan
    out["p_value_vs_best"] = math.nan
    out["tied_best"] = False
    out["friedman_p"] = math.nan
    if summary.empty:
        return out
    eligible = competes(summary)
    for _, block in summary[eligible].groupby(TASK_KEYS + ["metric"], sort=False):
        sign = -1.0 if bool(block["higher_is_better"].iloc[0]) else 1.0
        out.loc[block.index, "rank"] = (sign * block["mean"]).rank(method="average")
        best_index = (sign * block["mean"]).idxmin()
        best = block.loc[best_index, "explainer"]
        out.loc[best_index, "tied_best"] = len(block) > 1
        row0 = block.iloc[0]
        mask = ((per_example["dataset"] == row0["dataset"]) & (per_example["model"] == row0["model"])
                & (per_example["metric"] == row0["metric"]) & (per_example["device"] == row0["device"]))
        wide = per_example[mask].pivot_table(index="example_id", columns="explainer", values="value", aggfunc="first")
        wide = wide[[e for e in block["explainer"] if e in wide.columns]]
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
            out.loc[i, "tied_best"] = bool(np.isfinite(p) and p >= ALPHA)
        complete = wide.dropna()
        if complete.shape[1] >= 3 and len(complete) >= 2 and np.ptp(complete.to_numpy()) > 0:
            out.loc[block.index, "friedman_p"] = float(friedmanchisquare(*[complete[c] for c in complete]).pvalue)
    return out


def task_ranks(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, explainer, metric family): the explainer's mean rank over that task's
    ranked metrics of the family (``family = "all"``: over all of them), ranks spread onto 1..k as
    in the module docstring. Columns: dataset, model, device, explainer, family, rank, n_metrics."""
    from xaibench.metrics.base import declared

    columns = TASK_KEYS + ["explainer", "family", "rank", "n_metrics"]
    if summary.empty:
        return pd.DataFrame(columns=columns)
    rows = summary[competes(summary) & summary["metric"].map(ranked_metric)]
    out = []
    for task, block in summary.groupby(TASK_KEYS, sort=False):
        k = block["explainer"].nunique()
        if k < 2:
            continue
        scaled: dict[tuple[str, str], list[float]] = {}
        task_rows = rows[(rows[TASK_KEYS] == pd.Series(task, index=TASK_KEYS)).all(axis=1)]
        for metric, cells in task_rows.groupby("metric", sort=False):
            m = len(cells)
            if m < 2:
                continue
            sign = -1.0 if bool(cells["higher_is_better"].iloc[0]) else 1.0
            ranks = (sign * cells["mean"]).rank(method="average")
            family = declared(metric, "family", "faithfulness")
            for explainer, r in zip(cells["explainer"], ranks):
                value = 1 + (r - 1) * (k - 1) / (m - 1)
                scaled.setdefault((explainer, family), []).append(value)
                scaled.setdefault((explainer, "all"), []).append(value)
        for (explainer, family), values in scaled.items():
            out.append({**dict(zip(TASK_KEYS, task)), "explainer": explainer, "family": family,
                        "rank": float(np.mean(values)), "n_metrics": len(values)})
    return pd.DataFrame(out, columns=columns)


def across_task_ranks(per_task: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Average of the per-task ranks (``task_ranks``) per explainer, one column per metric family
    plus ``average_rank`` (all families) and ``n_tasks``; and the Friedman test over tasks as blocks
    (k >= 3 explainers, N >= 2 tasks; a complete design: ``friedman_blocks``; ``left_out`` names
    the explainers it leaves out, with the number of tasks each ran on, of ``of_tasks``)."""
    from scipy.stats import friedmanchisquare

    from xaibench.metrics.base import FAMILIES

    empty = pd.DataFrame(columns=["explainer", "average_rank", "n_tasks"])
    overall = per_task[per_task["family"] == "all"] if len(per_task) else per_task
    if overall.empty:
        return empty, {}
    wide = overall.pivot_table(index=TASK_KEYS, columns="explainer", values="rank", aggfunc="first")
    order = list(dict.fromkeys(overall["explainer"]))
    wide = wide[order]
    result = pd.DataFrame({"explainer": order, "average_rank": wide.mean(axis=0).to_numpy(),
                           "n_tasks": wide.notna().sum(axis=0).to_numpy()})
    for family in FAMILIES:
        part = per_task[per_task["family"] == family]
        if len(part):
            means = part.groupby("explainer")["rank"].mean()
            result[family] = result["explainer"].map(means)
    result = result.sort_values("average_rank", kind="stable").reset_index(drop=True)
    complete, left_out = friedman_blocks(wide)
    test = {"n_tasks": int(len(complete)), "n_explainers": int(complete.shape[1]),
            "left_out": {e: int(wide[e].notna().sum()) for e in left_out}, "of_tasks": int(len(wide))}
    if complete.shape[1] >= 3 and len(complete) >= 2:
        stat, p = friedmanchisquare(*[complete[c].to_numpy() for c in complete.columns])
        test.update({"chi2": float(stat), "p_value": float(p)})
    return result, test


def ranked_on_fewer_tasks(ranks: pd.DataFrame) -> tuple[dict[str, int], int]:
    """``({explainer: tasks it was ranked on}, most tasks any explainer was ranked on)`` for the
    explainers of ``ranks`` (``across_task_ranks``) ranked on fewer tasks than that most; their
    average ranks are over other tasks, so they are marked and kept off the rank diagram."""
    if "n_tasks" not in ranks or ranks.empty:
        return {}, 0
    most = int(ranks["n_tasks"].max())
    fewer = ranks[ranks["n_tasks"] < most]
    return {str(e): int(k) for e, k in zip(fewer["explainer"], fewer["n_tasks"])}, most


def friedman_blocks(wide: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The complete block design the Friedman test needs, from per-task ranks (rows: tasks,
    columns: explainers, NaN where an explainer did not run on a task), and the explainers left
    out of it. An explainer that ran on fewer tasks than the others (a sentence generator that
    exists for two tasks) is left out, rather than dropping every task it lacks: tasks are the
    unit of evidence, and cutting six to two would make any difference insignificant. When that
    leaves fewer than 3 explainers, the tasks where every explainer ran are used instead."""
    everywhere = [c for c in wide.columns if wide[c].notna().all()]
    if len(everywhere) >= 3:
        return wide[everywhere], [c for c in wide.columns if c not in everywhere]
    return wide.dropna(), []


def friedman_ranks(summary: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Across-task ranks and their Friedman test from a summary (``task_ranks`` then
    ``across_task_ranks``); kept under its earlier name for callers of the first API."""
    return across_task_ranks(task_ranks(summary))


def smallest_holm_p(n_examples: int, n_compared: int) -> float:
    """The smallest p-value a two-sided exact Wilcoxon signed-rank test over ``n_examples`` paired
    examples can give (every difference of one sign: 2 / 2^n), Holm-corrected over ``n_compared``
    tests (the smallest p is multiplied by their number). When it is >= α no explainer can be
    separated from the best, whatever the data."""
    if n_examples < 1 or n_compared < 1:
        return 1.0
    return min(1.0, n_compared * 2.0 * 0.5 ** int(n_examples))


def too_few_examples_note(task: pd.DataFrame, alpha: float = ALPHA) -> str | None:
    """A sentence for a task whose tests cannot reach ``alpha`` however large the differences
    (``smallest_holm_p`` with the task's largest n and number of explainers compared with the
    best); None otherwise."""
    if task.empty or "n" not in task:
        return None
    usable = task[competes(task)]
    if usable.empty:
        return None
    n = int(pd.to_numeric(usable["n"], errors="coerce").max())
    compared = int(usable.groupby("metric")["explainer"].nunique().max()) - 1
    p = smallest_holm_p(n, compared)
    if compared < 1 or p < alpha:
        return None
    return (f"n = {n}: too few paired examples for any test to separate an explainer from the best (the smallest "
            f"possible Holm-corrected p over {compared} comparisons is {p:.3g} ≥ {alpha}), so every competing cell "
            "is bold; run more examples (--xb-n).")
