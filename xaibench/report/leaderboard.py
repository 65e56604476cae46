"""The compact table of a run: ``leaderboard.md`` and ``leaderboard.tex`` (the README quotes it).

Rows: explainers, best average rank first. Columns: the average rank over every task of the run and
the per-family ranks (``ranks.csv``: per task, the mean rank over the family's ranked metrics, then
the mean over tasks; 1 = best), then the means of a few metrics that stand for the three axes
(faithfulness, stability and sanity, cost) for the headline tasks, one value per task in each cell
("en / zh"). The headline tasks are reviews-en and reviews-zh when the run has them, else its first
two tasks. A cell is bold when the run marked it ``tied_best`` (the best explainer of that task and
metric and every explainer no paired test separates from it); "det." is a deterministic
explainer's seed stability (not applicable, never ranked); † marks a circular pair. Every number
is read from summary.csv and ranks.csv, so the table can be rebuilt and checked against them.
"""
from __future__ import annotations

import math

import pandas as pd

from xaibench.report import statistics
from xaibench.report.tables import _fmt

#: (metric, column label, display factor) shown per headline task.
COLUMNS = (("comprehensiveness", "comprehensiveness ↑", 1.0),
           ("perturbation_stability", "perturbation stability ↑", 1.0),
           ("seed_stability", "seed stability ↑", 1.0), ("randomization_sanity", "randomization sanity ↑", 1.0),
           ("runtime_seconds", "ms / explanation ↓", 1000.0))
#: Columns of the LaTeX leaderboard (a page is narrower than a README).
LATEX_COLUMNS = ("comprehensiveness", "seed_stability", "runtime_seconds")
SHORT = {"deterministic": "det.", "not gradient-based": "n/a"}
PREFERRED_TASKS = ("reviews-en", "reviews-zh")


def headline_tasks(summary: pd.DataFrame, limit: int = 2) -> list[str]:
    """reviews-en and reviews-zh when the run has them; otherwise its first ``limit`` datasets."""
    datasets = list(dict.fromkeys(summary["dataset"])) if len(summary) else []
    preferred = [t for t in PREFERRED_TASKS if t in datasets]
    return preferred if preferred else datasets[:limit]


def _cell(row: pd.Series, factor: float, bold: str = "**") -> str:
    if isinstance(row.get("not_applicable"), str) and row["not_applicable"]:
        return SHORT.get(row["not_applicable"], "n/a")
    mean = row["mean"]
    if not isinstance(mean, float) or math.isnan(mean):
        return "n/a"
    mean *= factor
    # summary.md's format, but 3 decimals below 0.01 too: a leaderboard cell is read at a glance.
    text = _fmt(mean, None if abs(mean) >= 0.01 else 3)
    if isinstance(row.get("circular"), str) and row["circular"]:
        text += " †"
    return f"{bold}{text}{bold}" if bool(row.get("tied_best")) and bold else text


def leaderboard(summary: pd.DataFrame, ranks: pd.DataFrame, tasks: list[str] | None = None,
                metrics=None, bold: str = "**") -> pd.DataFrame:
    """The leaderboard as a table of strings (index: explainer). ``tasks``: headline datasets
    (``headline_tasks`` when None); ``metrics``: names of ``COLUMNS`` to show (all that the run has
    when None); ``bold``: the Markdown marker around tied-best cells ("" for none)."""
    if ranks.empty:
        return pd.DataFrame()
    tasks = headline_tasks(summary) if tasks is None else tasks
    # One model per task: the first the run lists (a seed run's base model).
    summary = summary[summary["model"] == summary.groupby("dataset")["model"].transform("first")]
    table = ranks.rename(columns={"average_rank": "average rank"}).set_index("explainer")
    families = [c for c in table.columns if c not in ("average rank", "n_tasks")]
    out = table[["average rank", *families]].map(lambda v: "" if pd.isna(v) else f"{v:.2f}")
    for explainer in statistics.ranked_on_fewer_tasks(ranks)[0]:  # an average over other tasks: marked
        out.loc[explainer, "average rank"] += " ‡"
    out.columns = ["average rank", *[f"{f.replace('_', ' ')} rank" for f in families]]
    for metric, label, factor in COLUMNS:
        if metrics is not None and metric not in metrics:
            continue
        per_task = []
        for task in tasks:
            rows = summary[(summary["dataset"] == task) & (summary["metric"] == metric)].set_index("explainer")
            per_task.append([_cell(rows.loc[e], factor, bold) if e in rows.index else "" for e in out.index])
        if any(any(values) for values in per_task):
            out[f"{label} ({' / '.join(tasks)})"] = [" / ".join(values) for values in zip(*per_task)]
    out.index.name = "explainer"
    return out


NOTE = ("Ranks: per task, an explainer's mean rank over the task's ranked metrics (per family: over that "
        "family's), then the mean over tasks; 1 = best; ‡ = ranked on fewer tasks than the others. Metric "
        "columns: means on the headline tasks; bold = best or not significantly different from it (Wilcoxon "
        "signed-rank, Holm, α = 0.05); det. = deterministic explainer (seed stability does not apply); "
        "† = circular pair (not ranked).")


def leaderboard_markdown(summary: pd.DataFrame, ranks: pd.DataFrame, tasks: list[str] | None = None) -> str:
    """``leaderboard.md``: a heading, the table and one paragraph on how to read it."""
    table = leaderboard(summary, ranks, tasks)
    if table.empty:
        return "_no ranks: the run has fewer than two explainers or no ranked metric_\n"
    n_tasks = int(ranks["n_tasks"].max()) if "n_tasks" in ranks else 0
    tasks = headline_tasks(summary) if tasks is None else tasks
    return "\n".join([
        table.reset_index().to_markdown(index=False, tablefmt="pipe", disable_numparse=True), "",
        f"Ranks: average over {n_tasks} task(s) of the per-task mean rank (1 = best; per family: over that "
        f"family's ranked metrics). Metric columns: means on {' / '.join(tasks)}; bold = best or not "
        "significantly different from it (Wilcoxon signed-rank, Holm, α = 0.05); det. = deterministic "
        f"explainer (seed stability does not apply); † = circular pair (not ranked).{fewer_tasks_note(ranks)} "
        "From summary.csv and ranks.csv of this folder.", ""])


def fewer_tasks_note(ranks: pd.DataFrame) -> str:
    """' ‡ = ranked on fewer tasks: <explainer> (k of N) ...' for explainers that did not run on
    every task of the run (empty when every explainer did)."""
    fewer, most = statistics.ranked_on_fewer_tasks(ranks)
    if not fewer:
        return ""
    names = ", ".join(f"{e} ({k} of {most})" for e, k in fewer.items())
    return (f" ‡ = ranked on fewer tasks: {names}; that average is over its tasks only, and it is left out of "
            "the Friedman test and the critical-difference diagram.")


_SHORT = {"average rank": "avg.", "faithfulness rank": "faith.", "ground truth rank": "GT",
          "plausibility rank": "plaus.", "stability rank": "stab.", "sanity rank": "sanity", "cost rank": "cost",
          "diagnostic rank": "diag.", "complexity rank": "compl.",
          "comprehensiveness ↑": "compr. ↑", "seed stability ↑": "seed stab. ↑", "ms / explanation ↓": "ms ↓",
          "perturbation stability ↑": "pert. stab. ↑", "randomization sanity ↑": "rand. sanity ↑"}


def _short_header(column: str) -> str:
    """A leaderboard header for LaTeX: "compr. ↑" for "comprehensiveness ↑ (reviews-en / reviews-zh)"."""
    name = column.split(" (")[0]
    return _SHORT.get(name, name)


def leaderboard_latex(summary: pd.DataFrame, ranks: pd.DataFrame, tasks: list[str] | None = None) -> str:
    """``leaderboard.tex``: the same table as one booktabs float that fits a one-column page."""
    from xaibench.report import latex

    plain = leaderboard(summary, ranks, tasks, metrics=LATEX_COLUMNS, bold="")
    if plain.empty:
        return "% no ranks\n"
    marked = leaderboard(summary, ranks, tasks, metrics=LATEX_COLUMNS, bold="\x00")

    def tex(value: str) -> str:  # "\x00" marks bold parts of an "en / zh" cell
        parts = []
        for part in str(value).split(" / "):
            bold = part.startswith("\x00")
            part = latex._minus(latex.escape(part.replace("\x00", ""))) or "--"
            parts.append(f"\\textbf{{{part}}}" if bold else part)
        return " / ".join(parts)

    tasks = headline_tasks(summary) if tasks is None else tasks
    # A page is narrow: short headers, the tasks named once in the caption.
    short = {c: _short_header(c) for c in plain.columns}
    plain, marked = plain.rename(columns=short), marked.rename(columns=short)
    body = latex.tabular("explainer", [str(i) for i in plain.index], marked.map(tex), plain)
    caption = latex.escape(
        f"Leaderboard. Ranks (avg., per family: faith(fulness), GT = ground truth, plaus(ibility), stab(ility), "
        f"sanity, diag(nostic), compl(exity)): average over {int(ranks['n_tasks'].max())} task(s) of the per-task "
        f"mean rank (1 = best). "
        f"Metric columns (compr. = comprehensiveness, seed stab. = seed stability, ms per explanation): "
        f"means on {' / '.join(tasks)}; bold: best or not significantly different from it (Wilcoxon "
        "signed-rank, Holm, α = 0.05); det.: deterministic explainer." + fewer_tasks_note(ranks))
    return latex.PREAMBLE + latex.table_float(body, caption, "tab:xb:leaderboard")
