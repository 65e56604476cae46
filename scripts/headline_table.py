"""The README's headline table, from a results folder (by default ``results/reference``).

    python scripts/headline_table.py                      # results/reference
    python scripts/headline_table.py /tmp/run --tasks reviews-en,reviews-zh

Rows: explainers, best average rank first. Columns: the average rank over every task of the run and
the per-family ranks (``ranks.csv``), then the means of a few metrics that stand for the three
axes (faithfulness, stability and sanity, cost) from ``summary.csv``, one value per task of
``--tasks`` in each cell ("en / zh").
A cell is bold when the run marked it ``tied_best`` (the best explainer of that task and metric
and every explainer no paired test separates from it); "det." is a deterministic explainer's
seed stability (not applicable, never ranked); † marks a circular pair. Every number is read
from the folder, so the table can be rebuilt and checked against it.
"""
from __future__ import annotations

import argparse
import math
import os

import pandas as pd

#: (metric, column label) shown per task.
COLUMNS = (("comprehensiveness", "comprehensiveness ↑"), ("perturbation_stability", "perturbation stability ↑"),
           ("seed_stability", "seed stability ↑"), ("randomization_sanity", "randomization sanity ↑"),
           ("runtime_seconds", "s / explanation ↓"))
SHORT = {"deterministic": "det.", "not gradient-based": "n/a"}


def cell(row: pd.Series) -> str:
    if isinstance(row.get("not_applicable"), str) and row["not_applicable"]:
        return SHORT.get(row["not_applicable"], "n/a")
    mean = row["mean"]
    if not isinstance(mean, float) or math.isnan(mean):
        return "n/a"
    text = f"{mean:.3f}" if abs(mean) >= 0.01 or mean == 0 else f"{mean:.4f}"
    if isinstance(row.get("circular"), str) and row["circular"]:
        text += " †"
    return f"**{text}**" if bool(row.get("tied_best")) else text


def headline(folder: str, tasks: list[str]) -> str:
    ranks = pd.read_csv(os.path.join(folder, "ranks.csv"))
    summary = pd.read_csv(os.path.join(folder, "summary.csv"))
    summary = summary[summary["model"] == summary.groupby("dataset")["model"].transform("first")]
    table = ranks.rename(columns={"average_rank": "average rank"}).set_index("explainer")
    families = [c for c in table.columns if c not in ("average rank", "n_tasks")]
    out = table[["average rank", *families]].map(lambda v: f"{v:.2f}")
    out.columns = ["average rank", *[f"{f} rank" for f in families]]
    for metric, label in COLUMNS:
        per_task = []
        for task in tasks:
            rows = summary[(summary["dataset"] == task) & (summary["metric"] == metric)].set_index("explainer")
            per_task.append([cell(rows.loc[e]) if e in rows.index else "" for e in out.index])
        if any(any(values) for values in per_task):
            out[f"{label} ({' / '.join(tasks)})"] = [" / ".join(values) for values in zip(*per_task)]
    return out.reset_index().to_markdown(index=False, tablefmt="pipe", disable_numparse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", default="results/reference")
    parser.add_argument("--tasks", default="reviews-en,reviews-zh", help="datasets whose metric means are shown")
    args = parser.parse_args()
    print(headline(args.folder, [t for t in args.tasks.split(",") if t]))


if __name__ == "__main__":
    main()
