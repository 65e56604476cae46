"""Turn per-example rows into the run folder's tables (formats in docs/api.md).

- ``per_example.csv``: one row per (dataset, model, explainer, metric, example_id).
- ``summary.csv``: one row per (dataset, model, explainer, metric): mean over finite values,
  95% percentile-bootstrap CI (``scipy.stats.bootstrap``, seeded), n, failures, the random-ordering
  reference mean, direction.
- ``summary.md``: one table per task, explainers x metrics, "mean ± CI half-width", arrows for
  direction, the best mean per column in bold; tasks grouped by task type (classification, where
  f(x) is a class probability, before regression, where f(x) = ŷ/σ), since their values are in
  different units.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from xaibench.report.statistics import bootstrap_ci

SUMMARY_COLUMNS = ["dataset", "model", "explainer", "metric", "mean", "ci_low", "ci_high", "n",
                   "n_failed", "median", "p95", "random_reference", "higher_is_better", "device", "task_type"]
TASK_TYPE_ORDER = ("classification", "regression")


def summarize(per_example: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """The long summary table from per-example rows."""
    if per_example.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    rows = []
    keys = ["dataset", "model", "explainer", "metric", "device"]
    for key, group in per_example.groupby(keys, sort=False, dropna=False):
        values = group["value"].to_numpy(dtype=float)
        finite = values[np.isfinite(values)]
        low, high = bootstrap_ci(finite, seed=seed)
        ref = group["random_reference"].to_numpy(dtype=float) if "random_reference" in group else np.array([])
        ref = ref[np.isfinite(ref)]
        hib = group["higher_is_better"].dropna()
        task_types = group["task_type"].dropna() if "task_type" in group else ()
        rows.append({
            **dict(zip(keys, key)),
            "mean": float(finite.mean()) if len(finite) else math.nan,
            "ci_low": low, "ci_high": high, "n": int(len(finite)),
            "median": float(np.median(finite)) if len(finite) else math.nan,
            "p95": float(np.percentile(finite, 95)) if len(finite) else math.nan,
            "n_failed": int((group["status"] == "error").sum()),
            "random_reference": float(ref.mean()) if len(ref) else math.nan,
            "higher_is_better": bool(hib.iloc[0]) if len(hib) else None,
            "task_type": str(task_types.iloc[0]) if len(task_types) else None,
        })
    return pd.DataFrame(rows)[SUMMARY_COLUMNS]


def _arrow(higher_is_better) -> str:
    if higher_is_better is None or (isinstance(higher_is_better, float) and math.isnan(higher_is_better)):
        return ""
    return " ↑" if higher_is_better else " ↓"


def task_tables(summary: pd.DataFrame, cost: pd.DataFrame | None = None) -> list[tuple[str, pd.DataFrame]]:
    """One display table per (dataset, model, device): rows explainers, columns "metric ↑/↓" with
    "mean ± CI half-width" strings (best in bold), a "(random ordering)" reference row, cost columns."""
    out = []
    for (dataset, model, device), task in _tasks_by_type(summary):
        metrics = list(dict.fromkeys(task["metric"]))
        explainers = list(dict.fromkeys(task["explainer"]))
        table = pd.DataFrame(index=explainers)
        for metric in metrics:
            rows = task[task["metric"] == metric].set_index("explainer")
            hib = rows["higher_is_better"].dropna()
            hib = bool(hib.iloc[0]) if len(hib) else None
            means = rows["mean"].astype(float)
            best = (means.idxmax() if hib else means.idxmin()) if hib is not None and means.notna().any() else None
            col = {}
            for e in explainers:
                if e not in rows.index:
                    col[e] = ""
                    continue
                r = rows.loc[e]
                cell = _format_mean_ci(r["mean"], r["ci_low"], r["ci_high"])
                if r["n_failed"]:
                    cell += f" ({int(r['n_failed'])} failed)"
                col[e] = f"**{cell}**" if e == best and len(explainers) > 1 else cell
            table[f"{metric}{_arrow(hib)}"] = pd.Series(col)
            refs = rows["random_reference"].astype(float)
            if refs.notna().any():
                table.loc["(random ordering)", f"{metric}{_arrow(hib)}"] = _fmt(refs.mean())
        if cost is not None and not cost.empty and "runtime_seconds" not in metrics:
            c = cost[(cost["dataset"] == dataset) & (cost["model"] == model)].set_index("explainer")
            for col_name in ("ms_per_example", "forward_per_example", "backward_per_example"):
                if col_name in c:
                    table[col_name] = pd.Series({e: f"{c.loc[e, col_name]:.1f}" for e in explainers if e in c.index})
        table = table.fillna("")
        n = int(task["n"].max()) if len(task) else 0
        suffix = "" if device == "cpu" else f", device {device}"
        if task_type_of(task) == "regression":
            suffix += ", regression: f = ŷ/σ"
        out.append((f"{_short(dataset)} · {_short(model)}{suffix} (n = {n})", table))
    return out


def task_type_of(rows: pd.DataFrame) -> str | None:
    """The task type recorded for these summary rows (None for runs that did not record one)."""
    if "task_type" not in rows:
        return None
    known = rows["task_type"].dropna()
    return str(known.iloc[0]) if len(known) else None


def _tasks_by_type(summary: pd.DataFrame) -> list[tuple[tuple, pd.DataFrame]]:
    """(dataset, model, device) groups in run order, classification tasks before regression ones."""
    groups = list(summary.groupby(["dataset", "model", "device"], sort=False))

    def order(item):
        kind = task_type_of(item[1])
        return TASK_TYPE_ORDER.index(kind) if kind in TASK_TYPE_ORDER else len(TASK_TYPE_ORDER)

    return sorted(groups, key=order)  # stable: run order within a task type


def _short(name: str) -> str:
    """Display name: a file or folder path shows as its last component (provenance keeps the path)."""
    import os

    return os.path.basename(str(name).rstrip("/")) if os.sep in str(name) and os.path.exists(str(name)) else str(name)


LEGEND = ("mean ± half-width of the 95% bootstrap CI over examples; ↑ higher is better, ↓ lower is "
          "better; bold = best explainer per column; '(random ordering)' = the same metric for random "
          "unit orderings of the same examples; cost columns are per explained example.")


def markdown_tables(summary: pd.DataFrame, cost: pd.DataFrame | None = None) -> str:
    """The task tables as Markdown (pipe tables, via tabulate). When the run recorded task types,
    tables sit under one heading per type ("### Classification tasks", "### Regression tasks") that
    says what f(x) is there, and each table gets a level-4 heading."""
    from xaibench.report.quantities import TASK_TYPE_OUTPUT

    if summary.empty:
        return "_no results_\n"
    tables = task_tables(summary, cost)
    kinds = [task_type_of(task) for _, task in _tasks_by_type(summary)]
    parts, current = [], object()
    for kind, (title, table) in zip(kinds, tables):
        if kind is not None and kind != current:
            parts.append(f"### {kind.capitalize()} tasks\n\n{TASK_TYPE_OUTPUT.get(kind, '')}.\n")
        current = kind
        level = "####" if kind is not None else "###"
        # Titles carry user-chosen names (a data file called "a_b|c.csv"): escape them.
        parts.append(f"{level} {md_escape(title)}\n\n{table.to_markdown(tablefmt='pipe')}\n")
    return "\n".join(parts) + "\n" + LEGEND + "\n"


def _fmt(x: float) -> str:
    # Quality metrics live in [-1, 1] (3 decimals); pass counts and milliseconds need fewer.
    a = abs(x)
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 0.01 or a == 0:
        return f"{x:.3f}"
    return f"{x:.2e}"


def _format_mean_ci(mean, low, high) -> str:
    if mean is None or not np.isfinite(mean):
        return "n/a"
    if not (np.isfinite(low) and np.isfinite(high)):
        return _fmt(mean)
    return f"{_fmt(mean)} ± {_fmt((high - low) / 2)}"


def cost_table(attribution_rows: list[dict]) -> pd.DataFrame:
    """Mean cost per explained example for each (dataset, model, explainer): milliseconds, forward
    and backward passes (what the method needs on its own), and how many of those passes the run
    served from its shared table instead of running them (``reused_*``; see ``xaibench.modeling.sharing``)."""
    if not attribution_rows:
        return pd.DataFrame(columns=["dataset", "model", "explainer", "ms_per_example"])
    flat = pd.DataFrame([{"dataset": r["dataset"], "model": r["model"], "explainer": r["explainer"],
                          "device": r.get("device", "cpu"),
                          "seconds": r["cost"].get("seconds", math.nan),
                          "n_forward": r["cost"].get("n_forward", math.nan),
                          "n_backward": r["cost"].get("n_backward", math.nan),
                          "n_forward_reused": r["cost"].get("n_forward_reused", 0),
                          "n_backward_reused": r["cost"].get("n_backward_reused", 0)} for r in attribution_rows])
    g = flat.groupby(["dataset", "model", "explainer", "device"], sort=False).mean(numeric_only=True).reset_index()
    g["ms_per_example"] = g.pop("seconds") * 1000
    g["forward_per_example"] = g.pop("n_forward")
    g["backward_per_example"] = g.pop("n_backward")
    g["reused_forward_per_example"] = g.pop("n_forward_reused")
    g["reused_backward_per_example"] = g.pop("n_backward_reused")
    return g


def md_escape(text: str) -> str:
    """Escape text for a Markdown line or table cell (``|``, backticks, ``*``, ``_``, ``<``)."""
    out = str(text).replace("\\", "\\\\")
    for ch in "|`*_[]<>":
        out = out.replace(ch, "\\" + ch)
    return out.replace("\n", " ")
