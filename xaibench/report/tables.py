"""Turn per-example rows into the run folder's tables (formats in docs/api.md).

- ``per_example.parquet``: one row per (dataset, model, explainer, metric, example_id).
- ``summary.csv``: one row per (dataset, model, explainer, metric): family, mean over finite values,
  95% interval (percentile bootstrap, seeded; Wilson for shares), n, failures, the random-ordering
  reference mean, direction, and whether the metric does not apply / the pair is circular.
- ``summary.md``: per task, one table per metric family (faithfulness, ground truth, plausibility,
  stability, sanity, cost), explainers x metrics, "mean ± CI half-width", arrows for direction,
  the best explainer and those tied with it in bold (``xaibench.report.statistics``); tasks grouped
  by task type (classification, where f(x) is a class probability, before regression, where
  f(x) = ŷ/σ), since their values are in different units. Lines stay within ``MARKDOWN_WIDTH``
  (120) characters: a wide family table is cut into column groups; a metric without a value for
  any explainer of the task is left out and named under the task; runtimes show in milliseconds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from xaibench.report.statistics import bootstrap_ci, wilson_ci

SUMMARY_COLUMNS = ["dataset", "model", "explainer", "metric", "family", "mean", "ci_low", "ci_high", "ci_method",
                   "n", "n_failed", "median", "p95", "random_reference", "higher_is_better", "device", "task_type",
                   "not_applicable", "circular", "note"]
TASK_TYPE_ORDER = ("classification", "regression")
#: Footnote mark of a circular cell (the metric recomputes the explainer's own quantity).
DAGGER = "†"
#: The table of a family's removal variants is named "<family> (other removals)".
VARIANT_SUFFIX = " (other removals)"


def summarize(per_example: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """The long summary table from per-example rows.

    Interval (``ci_method``): ``wilson`` for metrics that declare ``proportion`` (every value 0 or
    1), ``none`` for ``amortised`` cost metrics (every example of a call has the same share: the
    mean only), else ``bootstrap``. ``not_applicable``: the reason when the metric does not apply to the
    explainer (every row ``status == "not_applicable"``, e.g. "deterministic"); ``circular``: why
    the pair is circular (``xaibench.metrics.circularity``); both empty otherwise.
    """
    from xaibench.metrics.base import declared

    if per_example.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    rows = []
    keys = ["dataset", "model", "explainer", "metric", "device"]
    for key, group in per_example.groupby(keys, sort=False, dropna=False):
        values = group["value"].to_numpy(dtype=float)
        finite = values[np.isfinite(values)]
        metric = key[3]
        proportion = declared(metric, "proportion", False) and bool(np.isin(finite, (0.0, 1.0)).all())
        amortised = bool(declared(metric, "amortised", False))
        if amortised:  # one share of a call per example: an interval over examples would be fake
            low, high = math.nan, math.nan
        elif proportion and len(finite):
            low, high = wilson_ci(int(finite.sum()), len(finite))
        else:
            low, high = bootstrap_ci(finite, seed=seed)
        ref = group["random_reference"].to_numpy(dtype=float) if "random_reference" in group else np.array([])
        ref = ref[np.isfinite(ref)]
        hib = group["higher_is_better"].dropna()
        task_types = group["task_type"].dropna() if "task_type" in group else ()
        status = group["status"] if "status" in group else pd.Series(dtype=str)
        inapplicable = len(status) and bool((status == "not_applicable").all())
        circular = group["circular"].dropna() if "circular" in group else ()
        # A cell without any value says why when all its rows say the same ("not measured on the CPU").
        notes = set(group["note"].dropna().astype(str)) if "note" in group and not len(finite) else set()
        rows.append({
            **dict(zip(keys, key)),
            "family": declared(metric, "family"),
            "mean": float(finite.mean()) if len(finite) else math.nan,
            "ci_low": low, "ci_high": high,
            "ci_method": "none" if amortised else ("wilson" if proportion else "bootstrap"),
            "n": int(len(finite)),
            "median": float(np.median(finite)) if len(finite) else math.nan,
            "p95": float(np.percentile(finite, 95)) if len(finite) else math.nan,
            "n_failed": int((status == "error").sum()),
            "random_reference": float(ref.mean()) if len(ref) else math.nan,
            "higher_is_better": bool(hib.iloc[0]) if len(hib) else None,
            "task_type": str(task_types.iloc[0]) if len(task_types) else None,
            "not_applicable": str(group["note"].iloc[0]) if inapplicable else None,
            "circular": str(circular.iloc[0]) if len(circular) and str(circular.iloc[0]) else None,
            "note": next(iter(notes)) if len(notes) == 1 else None,
        })
    return pd.DataFrame(rows)[SUMMARY_COLUMNS]


def _arrow(higher_is_better) -> str:
    if higher_is_better is None or (isinstance(higher_is_better, float) and math.isnan(higher_is_better)):
        return ""
    return " ↑" if higher_is_better else " ↓"


@dataclass(frozen=True)
class Cell:
    """One table cell before it is written as Markdown, HTML or LaTeX: ``text`` (numbers, "n/a",
    or why the metric does not apply), ``bold`` (best, or not significantly different from the
    best), ``mark`` (``DAGGER`` for a circular pair)."""

    text: str
    bold: bool = False
    mark: str = ""
    #: The single best explainer of the column (rank 1): LaTeX underlines it.
    best: bool = False


def _present(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value)) and str(value) != ""


#: Metrics shown in other units than they are stored in: ``{metric: (display name, factor)}``
#: (summary.csv keeps seconds; people read milliseconds).
DISPLAY_UNITS = {"runtime_seconds": ("runtime_ms", 1000.0)}
#: Cell texts that say "no value here"; a column made only of these is dropped from the tables.
EMPTY_TEXTS = ("", "n/a")


def display_name(metric: str) -> str:
    return DISPLAY_UNITS.get(metric, (metric, 1.0))[0]


def _cell(row, several: bool) -> Cell:
    if _present(row.get("not_applicable")):
        return Cell(str(row["not_applicable"]))
    factor = DISPLAY_UNITS.get(str(row.get("metric")), (None, 1.0))[1]
    mean, low, high = (float(row[k]) * factor if row[k] is not None else math.nan
                       for k in ("mean", "ci_low", "ci_high"))
    if row.get("ci_method") == "wilson":
        text = _format_share(mean, low, high)
    else:
        text = _format_mean_ci(mean, low, high)
    if row["n_failed"]:
        text += f" ({int(row['n_failed'])} failed)"
    circular = _present(row.get("circular"))
    bold = several and not circular and bool(row.get("tied_best", False))
    best = several and not circular and _present(row.get("rank")) and float(row["rank"]) == 1.0
    return Cell(text, bold, DAGGER if circular else "", best)


def reference_row(metric: str) -> str:
    """The label of a metric's reference row: "(random ordering)", or what the metric declares
    (``reference_label``: "(shuffled explanation)" for the sentence metrics)."""
    from xaibench.metrics.base import declared

    return f"({declared(metric, 'reference_label', 'random ordering')})"


def family_tables(task: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """One task's summary rows as ``[(family, explainers x "metric ↑/↓" table of Cell)]``, families
    in ``FAMILIES`` order; a reference row where a metric has one ("(random ordering)", or the
    metric's ``reference_label``). Explainers outside the explainer family its metrics are about
    (``explainer_family``) are left out; columns without a value for any explainer are dropped (named in
    ``table.attrs["dropped"]``; a family whose every column was dropped comes with no columns)."""
    from xaibench.metrics.base import FAMILIES, declared

    explainers = list(dict.fromkeys(task["explainer"]))
    # Removal variants (declared variant_of) get their own table after their family's.
    groups = task["family"].fillna("other").where(
        ~task["metric"].map(lambda m: bool(declared(m, "variant_of", None))),
        task["family"].fillna("other") + VARIANT_SUFFIX)
    families = list(dict.fromkeys(groups))
    families.sort(key=lambda f: (FAMILIES.index(f.removesuffix(VARIANT_SUFFIX)) if f.removesuffix(VARIANT_SUFFIX)
                                 in FAMILIES else len(FAMILIES), f.endswith(VARIANT_SUFFIX)))
    out = []
    for family in families:
        part = task[groups == family]
        table = pd.DataFrame(index=explainers)
        for metric in dict.fromkeys(part["metric"]):
            rows = part[part["metric"] == metric].set_index("explainer")
            hib = rows["higher_is_better"].dropna()
            header = f"{display_name(metric)}{_arrow(bool(hib.iloc[0]) if len(hib) else None)}"
            table[header] = pd.Series({e: _cell(rows.loc[e], len(explainers) > 1) if e in rows.index else Cell("")
                                       for e in explainers}, dtype=object)
            refs = rows["random_reference"].astype(float) * DISPLAY_UNITS.get(metric, (None, 1.0))[1]
            if refs.notna().any():
                label = reference_row(metric)
                if label not in table.index:
                    table.loc[label] = [Cell("")] * table.shape[1]
                table.loc[label, header] = Cell(_fmt(refs.mean()))
        table = table.map(lambda c: c if isinstance(c, Cell) else Cell(""))
        # An explainer outside the explainer family the family's metrics are about (an attribution
        # explainer in the sentence metrics' table) is left out of that table; a row that says why
        # one metric does not apply ("deterministic") stays.
        foreign = (part["not_applicable"].map(_present) if "not_applicable" in part
                   else pd.Series(False, index=part.index))
        foreign &= part["metric"].map(lambda m: bool(declared(m, "explainer_family", None)))
        shown = [e for e in explainers
                 if not ((part["explainer"] == e).any() and foreign[part["explainer"] == e].all())]
        table = table.drop(index=[e for e in explainers if e not in shown])
        # A metric without a value for any explainer of the task (plausibility on a task without
        # human rationales) is a column of "n/a": dropped, and named under the task's tables.
        empty = [c for c in table.columns if all(cell.text in EMPTY_TEXTS for cell in table.loc[shown, c])]
        table = table.drop(columns=empty)
        for label in [i for i in table.index if i not in explainers]:
            if all(c.text == "" for c in table.loc[label]):
                table = table.drop(index=label)
        table.index.name = family.replace("_", " ")
        table.attrs["dropped"] = [c.removesuffix(" ↑").removesuffix(" ↓") for c in empty]
        out.append((family, table))  # kept even when empty: the task's notes name what had no value
    return out


def dropped_note(tables: list[tuple[str, pd.DataFrame]], task: pd.DataFrame | None = None) -> str:
    """The sentence naming the metrics a task's tables leave out because no explainer has a value,
    with the reason the rows give where they all give the same one (``not_applicable``/notes)."""
    dropped = [name for _, table in tables for name in table.attrs.get("dropped", [])]
    if not dropped:
        return ""
    named, unexplained = [], False
    for name in dropped:
        reason = _common_reason(task, name) if task is not None else None
        named.append(f"{name} ({reason})" if reason else name)
        unexplained |= reason is None
    hint = " — e.g. plausibility needs human rationales, ground truth a planted cause" if unexplained else ""
    return f"No value on this task (left out of the tables): {', '.join(named)}{hint}."


def _common_reason(task: pd.DataFrame, display: str) -> str | None:
    metric = next((m for m, d in DISPLAY_UNITS.items() if d[0] == display), display)
    rows = task[task["metric"] == metric]
    reasons = set()
    for column in ("not_applicable", "note"):
        if column in rows:
            reasons |= set(rows[column].dropna().astype(str))
    return next(iter(reasons)) if len(reasons) == 1 else None


def markdown_parts(table: pd.DataFrame, max_width: int = 120) -> list[str]:
    """``table`` (of strings) as pipe tables whose lines fit ``max_width`` characters: columns are
    added to a part while its rendered lines fit (each part repeats the row labels)."""
    def widest(columns) -> int:
        return max(len(line) for line in table[columns].to_markdown(tablefmt="pipe").splitlines())

    parts, current = [], []
    for column in table.columns:
        if current and widest(current + [column]) > max_width:
            parts.append(current)
            current = []
        current.append(column)
    if current:
        parts.append(current)
    return [table[p].to_markdown(tablefmt="pipe") for p in parts] if parts else [table.to_markdown(tablefmt="pipe")]


def wrap_prose(markdown: str, width: int = 120) -> str:
    """Markdown with prose lines wrapped at ``width`` characters (tables, headings and code kept):
    Markdown joins the wrapped lines of a paragraph again, and the file stays readable as text."""
    import textwrap

    out, fenced = [], False
    for line in markdown.split("\n"):
        if line.startswith("```"):
            fenced = not fenced
        if fenced or len(line) <= width or line.lstrip().startswith(("|", "#", "```")):
            out.append(line)
            continue
        indent = "  " if line.startswith(("- ", "* ")) else ""
        out.append("\n".join(textwrap.wrap(line, width, subsequent_indent=indent, break_long_words=False,
                                            break_on_hyphens=False)))
    return "\n".join(out)


def circular_notes(task: pd.DataFrame) -> list[str]:
    """One sentence per circular pair of the task (the footnote of its ``DAGGER`` cells)."""
    rows = task[task["circular"].map(_present)] if "circular" in task else task.iloc[0:0]
    notes = dict.fromkeys(f"{DAGGER} {r['explainer']} × {r['metric']}: {r['circular']}; shown, not ranked."
                          for _, r in rows.iterrows())
    return list(notes)


def task_notes(task: pd.DataFrame) -> list[str]:
    """The sentences under a task's tables: its circular-pair footnotes, then a warning when it has
    too few examples for any paired test to reach significance (``statistics.too_few_examples_note``)."""
    from xaibench.report.statistics import too_few_examples_note

    power = too_few_examples_note(task)
    return circular_notes(task) + ([power] if power else [])


def render(table: pd.DataFrame, fmt: str = "markdown") -> pd.DataFrame:
    """A table of ``Cell`` as strings for ``fmt`` "markdown" (``**bold**``), "html" (escaped,
    ``<b>``) or "text" (bold dropped)."""
    import html

    def one(c: Cell) -> str:
        if fmt == "html":
            text = html.escape(c.text) + (f"<sup>{c.mark}</sup>" if c.mark else "")
            return f"<b>{text}</b>" if c.bold else text
        text = c.text + (f" {c.mark}" if c.mark else "")
        return f"**{text}**" if c.bold and fmt == "markdown" else text

    out = table.map(one)
    if fmt == "html":
        out.index = [html.escape(str(i)) for i in out.index]
        out.index.name = html.escape(str(table.index.name or ""))
        out.columns = [html.escape(str(c)) for c in out.columns]
    return out


def task_display(task: pd.DataFrame, cost: pd.DataFrame | None = None,
                 fmt: str = "markdown") -> tuple[list[tuple[str, pd.DataFrame]], list[str]]:
    """One task's tables and notes as shown in summary.md and report.html: ``[(family, table of
    strings in fmt)]`` for the families with at least one column (rows explainers, columns
    "metric ↑/↓" with "mean ± CI half-width", shares "mean [Wilson interval]", bold = best or tied
    with it, ``DAGGER`` = circular pair; the last table that lists every explainer carries the cost
    columns when the run did not select the cost metrics), and the sentences under them
    (``task_notes``, then the metrics left out for having no value)."""
    all_tables = family_tables(task)
    shown = [(family, table) for family, table in all_tables if table.shape[1]]
    # The cost columns go to the last table that lists every explainer of the task (the natural
    # language table lists the sentence explainers only).
    explainers = set(task["explainer"])
    complete = [i for i, (_, table) in enumerate(shown) if explainers <= set(table.index)]
    carrier = complete[-1] if complete else len(shown) - 1
    out = []
    for i, (family, table) in enumerate(shown):
        rendered = render(table, fmt)
        if i == carrier:
            rendered = _with_cost_columns(rendered, cost, task)
        out.append((family, rendered))
    dropped = dropped_note(all_tables, task)
    measured = cost_note(task, cost)
    return out, [*task_notes(task), *([measured] if measured else []), *([dropped] if dropped else [])]


def cost_note(task: pd.DataFrame, cost: pd.DataFrame | None) -> str:
    """What a task's cost numbers were measured with, and what they are: device, weights' dtype and
    torch threads, runtimes amortised per example (no interval) with the seconds per call."""
    if cost is None or cost.empty or "threads" not in cost or not (task["family"] == "cost").any():
        return ""
    rows = cost[(cost["dataset"] == task["dataset"].iloc[0]) & (cost["model"] == task["model"].iloc[0])]
    if rows.empty:
        return ""
    first = rows.iloc[0]
    per_call = ", ".join(f"{e} {ms:.0f}" for e, ms in zip(rows["explainer"], rows["ms_per_call"]) if np.isfinite(ms))
    return (f"Cost measured on {first['device']}, {first['dtype']} weights, {first['threads']} torch thread(s); "
            f"runtime and passes are per explained example, amortised over explain calls of "
            f"{float(first['examples_per_call']):.0f} examples (so no interval: every example of a call has the same "
            f"share); ms per call: {per_call}.")


def task_groups(summary: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """``[(title, summary rows of the task)]`` in display order (classification tasks first)."""
    out = []
    for (dataset, model, device), task in _tasks_by_type(summary):
        n = int(task["n"].max()) if len(task) else 0
        suffix = "" if device == "cpu" else f", device {device}"
        if task_type_of(task) == "regression":
            suffix += ", regression: f = ŷ/σ"
        out.append((f"{_short(dataset)} · {_short(model)}{suffix} (n = {n})", task))
    return out


def _with_cost_columns(table: pd.DataFrame, cost: pd.DataFrame | None, task: pd.DataFrame) -> pd.DataFrame:
    """The cost table's per-example columns, for runs that did not select the cost metrics."""
    if cost is None or cost.empty or "runtime_seconds" in set(task["metric"]):
        return table
    dataset, model = task["dataset"].iloc[0], task["model"].iloc[0]
    c = cost[(cost["dataset"] == dataset) & (cost["model"] == model)].set_index("explainer")
    table = table.copy()
    for col_name in ("ms_per_example", "forward_per_example", "backward_per_example"):
        if col_name in c:
            table[col_name] = pd.Series({e: f"{c.loc[e, col_name]:.1f}" for e in table.index if e in c.index})
    return table.fillna("")


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


LEGEND = ("Cells: mean ± half-width of the 95% bootstrap CI over examples; shares (hit rates) as "
          "mean [95% Wilson interval]. ↑ higher is better, ↓ lower is better. Bold: the best explainer and "
          "every explainer not significantly different from it (two-sided Wilcoxon signed-rank test paired "
          "over examples, Holm-corrected, α = 0.05). '(random ordering)': the same metric for random unit "
          "orderings of the same examples; '(shuffled explanation)': a sentence metric for each text given "
          "another text's sentence; the Holm-adjusted p-value of each explainer against the best is "
          "the p_value_vs_best column of summary.csv. 'deterministic' / 'not gradient-based': the metric does not "
          "apply to that explainer. † circular pair (the metric recomputes the explainer's own quantity): "
          "shown, never bold, not ranked. Cost: per explained example; the random control is never best on "
          "cost.")


def markdown_tables(summary: pd.DataFrame, cost: pd.DataFrame | None = None) -> str:
    """The task tables as Markdown (pipe tables, via tabulate): under one heading per task type
    ("### Classification tasks", "### Regression tasks", saying what f(x) is there), one level-4
    heading per task, then one table per metric family (the family names the first column) and the
    task's circular-pair footnotes."""
    from xaibench.report.quantities import TASK_TYPE_OUTPUT

    if summary.empty:
        return "_no results_\n"
    parts, current = [], object()
    for title, task in task_groups(summary):
        kind = task_type_of(task)
        if kind is not None and kind != current:
            parts.append(f"### {kind.capitalize()} tasks\n\n{TASK_TYPE_OUTPUT.get(kind, '')}.\n")
        current = kind
        level = "####" if kind is not None else "###"
        # Titles carry user-chosen names (a data file called "a_b|c.csv"): escape them.
        parts.append(f"{level} {md_escape(title)}\n")
        tables, notes = task_display(task, cost)
        for _, rendered in tables:
            parts.extend(part + "\n" for part in markdown_parts(rendered, MARKDOWN_WIDTH))
        parts.extend(md_escape(note) + "\n" for note in notes)
    return "\n".join(parts) + "\n" + LEGEND + "\n"


#: Finest precision printed: quality metrics are differences of probabilities, where digits past the
#: fourth decimal are numerical noise (0.00000012 prints as 0.0000).
MAX_DECIMALS = 4
#: Longest line of a summary.md table (wider tables are cut into column groups).
MARKDOWN_WIDTH = 120


def _decimals(x: float) -> int:
    """Decimals shown for ``x``: quality metrics live in [-1, 1] (3 decimals); pass counts and
    milliseconds need fewer; values under 0.01 keep 3 significant digits (never scientific notation)."""
    a = abs(x)
    if a >= 100:
        return 0
    if a >= 10:
        return 1
    if a >= 0.01 or a == 0 or not math.isfinite(a):
        return 3
    return min(MAX_DECIMALS, 2 - math.floor(math.log10(a)))


def _fmt(x: float, decimals: int | None = None) -> str:
    if not math.isfinite(x):
        return "n/a"
    out = f"{x:.{_decimals(x) if decimals is None else decimals}f}"
    return out[1:] if out.startswith("-") and not out.strip("-0.") else out  # no "-0.000"


def _fmt_halfwidth(half: float, decimals: int) -> str:
    """A CI half-width at the mean's precision; one significant digit when that would print 0."""
    if half > 0 and round(half, decimals) == 0:
        return f"{half:.{min(MAX_DECIMALS, -math.floor(math.log10(half)))}f}"
    return f"{half:.{decimals}f}"


def _format_share(mean, low, high) -> str:
    if mean is None or not np.isfinite(mean):
        return "n/a"
    return f"{_fmt(mean)} [{low:.2f}, {high:.2f}]"


def _format_mean_ci(mean, low, high) -> str:
    if mean is None or not np.isfinite(mean):
        return "n/a"
    if not (np.isfinite(low) and np.isfinite(high)):
        return _fmt(mean)
    if high == low:  # every example gave the same value
        return f"{_fmt(mean)} ± {0:.{_decimals(mean)}f}"
    half = (high - low) / 2
    # The interval sets the precision: the mean to the half-width's second significant digit, never
    # finer than the mean's own decimals ("-0.010 ± 0.025", not "-0.00992 ± 0.02494").
    big = _decimals(mean) if abs(mean) >= 10 else 3
    decimals = min(_decimals(mean), max(big, 1 - math.floor(math.log10(half)))) if half > 0 else _decimals(mean)
    if abs(mean) < 5e-4 and half < 5e-4:  # zero at the precision quality metrics are read at
        return f"{_fmt(mean, 3)} ± 0.000"
    return f"{_fmt(mean, decimals)} ± {_fmt_halfwidth(half, decimals)}"


def cost_table(attribution_rows: list[dict], model_info: dict | None = None, threads=None) -> pd.DataFrame:
    """Cost per (dataset, model, explainer, device): milliseconds per example (amortised) and per
    explain call, the calls' mean size, forward and backward passes per example (what the method
    needs on its own), how many of those passes the run served from its shared table instead of
    running them (``reused_*``; see ``xaibench.modeling.sharing``), and what the numbers were
    measured with: ``threads`` (torch's), ``dtype`` (of the weights) and the device."""
    if not attribution_rows:
        return pd.DataFrame(columns=["dataset", "model", "explainer", "device", "ms_per_example"])
    flat = pd.DataFrame([{"dataset": r["dataset"], "model": r["model"], "explainer": r["explainer"],
                          "device": r.get("device", "cpu"),
                          "seconds": r["cost"].get("seconds", math.nan),
                          # Each example carries 1/size of its call, so the sum per group counts calls.
                          "calls": 1.0 / max(1, r["cost"].get("call_size", 1) or 1),
                          "call_seconds": r["cost"].get("call_seconds", math.nan),
                          "call_size": r["cost"].get("call_size", math.nan),
                          "n_forward": r["cost"].get("n_forward", math.nan),
                          "n_backward": r["cost"].get("n_backward", math.nan),
                          "n_forward_reused": r["cost"].get("n_forward_reused", 0),
                          "n_backward_reused": r["cost"].get("n_backward_reused", 0)} for r in attribution_rows])
    keys = ["dataset", "model", "explainer", "device"]
    grouped = flat.groupby(keys, sort=False)
    g = grouped.mean(numeric_only=True).reset_index()
    g["ms_per_example"] = g.pop("seconds") * 1000
    calls = grouped["calls"].sum().to_numpy()
    g["calls"] = np.round(calls).astype(int)
    # Mean seconds per call: each call's time counted once (examples carry 1/size of it).
    per_call = (flat["call_seconds"] * flat["calls"]).groupby([flat[k] for k in keys], sort=False).sum().to_numpy()
    g["ms_per_call"] = np.where(calls > 0, per_call / np.maximum(calls, 1e-12), math.nan) * 1000
    g.pop("call_seconds")
    g["examples_per_call"] = g.pop("call_size")
    g["forward_per_example"] = g.pop("n_forward")
    g["backward_per_example"] = g.pop("n_backward")
    g["reused_forward_per_example"] = g.pop("n_forward_reused")
    g["reused_backward_per_example"] = g.pop("n_backward_reused")
    info = model_info or {}
    g["dtype"] = [(info.get(f"{m}@{d}") or {}).get("dtype", "float32") for m, d in zip(g["model"], g["device"])]
    g["threads"] = ", ".join(map(str, threads)) if isinstance(threads, (list, tuple)) else threads
    return g


def md_escape(text: str) -> str:
    """Escape text for a Markdown line or table cell (``|``, backticks, ``*``, ``_``, ``<``)."""
    out = str(text).replace("\\", "\\\\")
    for ch in "|`*_[]<>":
        out = out.replace(ch, "\\" + ch)
    return out.replace("\n", " ")
