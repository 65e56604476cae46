"""Does the explainer ranking survive a different removal?

The deletion-family metrics (comprehensiveness, sufficiency, deletion/insertion curves) cut words out
of the text (the ``delete`` rule). LIME, SHAP and occlusion perturb text exactly that way, so those
metrics might favour them because both see the same out-of-distribution inputs, not because their
scores are more faithful. A run that also selects removal variants (metrics declaring
``variant_of``: the ``mask`` rule, which keeps the length and positions, and the soft removal of
Zhao & Aletras 2023, which scales embeddings instead of cutting words) gets, per task and per base
metric, Kendall's τ-b between the explainer rankings under the base removal and under each variant.

Reading: τ = 1 is the same order; τ near 0 is an unrelated order. A variant *disagrees* when τ <
``AGREEMENT_TAU`` or the best explainer changes; the summary then says so in a sentence.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

TASK_KEYS = ["dataset", "model", "device"]
#: Below this τ (or with another best explainer) a variant's ranking counts as disagreeing.
AGREEMENT_TAU = 0.6
COLUMNS = TASK_KEYS + ["metric", "removal", "variant", "variant_removal", "kendall_tau", "p_value",
                       "n_explainers", "best", "variant_best"]


def _removal(metric: str, params: dict | None) -> str:
    from xaibench.metrics.base import declared

    mode = (params or {}).get(metric, {}).get("mode")
    return str(mode or declared(metric, "removal", None) or "delete")


def headline_removal(summary: pd.DataFrame, metric_params: dict | None = None) -> list[str]:
    """The removal rules the run's ranked faithfulness metrics used (not their variants)."""
    from xaibench.metrics.base import declared

    metrics = [m for m in dict.fromkeys(summary["metric"]) if declared(m, "family") == "faithfulness"
               and not declared(m, "variant_of", None)] if len(summary) else []
    return sorted({_removal(m, metric_params) for m in metrics})


def removal_agreement(summary: pd.DataFrame, metric_params: dict | None = None) -> pd.DataFrame:
    """One row per (task, base metric, variant): τ-b between the explainers' means under both
    (direction-aware, so τ compares rankings), its p-value, and both best explainers. Circular and
    not-applicable cells are left out (``statistics.competes``); empty when no variant ran."""
    from scipy.stats import kendalltau

    from xaibench.metrics.base import declared
    from xaibench.report.statistics import competes

    if summary.empty:
        return pd.DataFrame(columns=COLUMNS)
    rows = []
    usable = summary[competes(summary)]
    for task, block in usable.groupby(TASK_KEYS, sort=False):
        present = list(dict.fromkeys(block["metric"]))
        for variant in present:
            base = declared(variant, "variant_of", None)
            if not base or base not in present:
                continue
            a = block[block["metric"] == base].set_index("explainer")
            b = block[block["metric"] == variant].set_index("explainer")
            shared = [e for e in a.index if e in b.index]
            sign = 1.0 if bool(a["higher_is_better"].iloc[0]) else -1.0
            x = sign * a.loc[shared, "mean"].to_numpy(dtype=float)
            y = sign * b.loc[shared, "mean"].to_numpy(dtype=float)
            if len(shared) >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0:
                result = kendalltau(x, y)
                tau, p = float(result.statistic), float(result.pvalue)
            else:
                tau, p = math.nan, math.nan
            rows.append({**dict(zip(TASK_KEYS, task)), "metric": base, "removal": _removal(base, metric_params),
                         "variant": variant, "variant_removal": _removal(variant, metric_params),
                         "kendall_tau": tau, "p_value": p, "n_explainers": len(shared),
                         "best": shared[int(np.argmax(x))] if len(shared) else None,
                         "variant_best": shared[int(np.argmax(y))] if len(shared) else None})
    return pd.DataFrame(rows, columns=COLUMNS)


def disagreements(agreement: pd.DataFrame) -> list[str]:
    """One sentence per variant whose ranking disagrees with its base metric's (see module docstring)."""
    out = []
    for _, r in agreement.iterrows():
        low = np.isfinite(r["kendall_tau"]) and r["kendall_tau"] < AGREEMENT_TAU
        if not (low or r["best"] != r["variant_best"]):
            continue
        best = (f"the best explainer is {r['variant_best']}, not {r['best']}" if r["best"] != r["variant_best"]
                else f"the best explainer stays {r['best']}")
        out.append(f"{r['dataset']} · {r['model']}: {r['metric']} under the {r['variant_removal']} removal ranks "
                   f"the explainers differently (τ = {r['kendall_tau']:.2f}); {best}.")
    return out


def markdown_section(agreement: pd.DataFrame, shared_removal: dict[str, list[str]] | None = None) -> str:
    """``summary.md``'s section: one row per task, one column per (metric, variant removal) with τ,
    then the disagreement sentences and which explainers share the headline removal."""
    if agreement.empty:
        return ""
    table = agreement.assign(task=agreement["dataset"] + " · " + agreement["model"],
                             column=agreement["metric"] + " [" + agreement["variant_removal"] + "]")
    wide = table.pivot_table(index="task", columns="column", values="kendall_tau", aggfunc="first", sort=False)
    wide = wide.map(lambda v: "n/a" if not np.isfinite(v) else f"{v:.2f}")
    wide.index.name = "Kendall τ vs delete"
    removal = sorted(set(agreement["removal"]))
    lines = ["\n### Does the ranking survive another removal?\n",
             f"The faithfulness tables above use the `{'`, `'.join(removal)}` removal (docs/api.md). Each cell is "
             "Kendall's τ-b between the explainer rankings under that removal and under the variant in brackets "
             "(1 = same order, 0 = unrelated).\n", wide.to_markdown(tablefmt="pipe"), ""]
    sentences = disagreements(agreement)
    lines += [f"- {s}" for s in sentences] if sentences else [
        f"Every variant agrees (τ ≥ {AGREEMENT_TAU} and the same best explainer on every task)."]
    for rule, explainers in (shared_removal or {}).items():
        if explainers:
            lines.append(f"\n{', '.join(explainers)} perturb text with the `{rule}` removal themselves, so the "
                         f"`{rule}` metrics see inputs of the kind these explainers were fitted on.")
    return "\n".join(lines) + "\n"
