"""``summary.tex`` and ``leaderboard.tex``: booktabs tables for papers that fit a one-column page.

Cells are those of ``summary.md`` (``xaibench.report.tables.family_tables``): "mean ± CI half-width",
**bold** for the best explainer and every explainer no paired test separates from it (two-sided
Wilcoxon signed-rank, Holm-corrected, α = 0.05), the single best (rank 1) also underlined; a dagger
on circular pairs (explained in the caption); headers carry $\\uparrow$ (higher is better) or
$\\downarrow$; negative numbers get a real minus sign. Every piece of text is LaTeX-escaped
(dataset names, metric names, user file names may contain ``_``, ``%``, ``&``...).

Width: a table whose columns would not fit ``TEXT_WIDTH_PT`` (the ``\\textwidth`` of a 10 pt
``article`` page, 345 pt) at ``\\footnotesize`` is cut into column groups stacked in the same
float (each group repeats the explainer column), so no table runs off the page. The widths are
estimated from the characters (``text_width_pt``); the test suite compiles the output with pdflatex
and checks that TeX reports no overfull box. Each table has a ``\\label`` (``tab:xb:<task>:<family>``).
Needs ``\\usepackage{booktabs}`` only.
"""
from __future__ import annotations

import re

import pandas as pd

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
            # Outside math mode OT1 fonts print these as other glyphs (¡ ¿ —).
            "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
            # Symbols the tables and captions use, which pdflatex's default encodings lack.
            "·": r"$\cdot$", "×": r"$\times$", "σ": r"$\sigma$", "ŷ": r"$\hat{y}$", "−": "$-$", "≥": r"$\geq$",
            "ρ": r"$\rho$", "τ": r"$\tau$", "†": r"$^\dagger$", "‡": r"$^\ddagger$", "±": r"$\pm$",
            "↑": r"$\uparrow$",
            "↓": r"$\downarrow$", "α": r"$\alpha$", "χ": r"$\chi$", "²": r"$^2$", "—": "---", "–": "--",
            "≈": r"$\approx$", "…": r"\ldots{}", "ᵏ": r"$^k$"}

#: ``\textwidth`` of a 10 pt article page (pt); tables are cut to fit it.
TEXT_WIDTH_PT = 345.0
#: Approximate advance widths (pt) at \footnotesize (8 pt Computer Modern): digits and most
#: lower-case letters are ~4 pt, capitals and m/w wider, punctuation narrower.
_NARROW, _WIDE = set(".,:;'!|()[]ilfjrt-"), set("mwMWQGOD%")
_TABCOLSEP_PT = 6.0
#: Share of the page the estimate may fill: bold cells are ~8% wider than the estimate.
WIDTH_MARGIN = 0.9


def escape(text: str) -> str:
    return "".join(_SPECIAL.get(ch, ch) for ch in str(text))


_MINUS = re.compile(r"(^|[\s(\[/])-(?=[\d.])")


def _minus(text: str) -> str:
    """Escaped text with a math minus sign for negative numbers ("-0.06" → "$-$0.06")."""
    return _MINUS.sub(lambda m: m.group(1) + "$-$", text)


def text_width_pt(text: str) -> float:
    """Estimated width of plain ``text`` at \\footnotesize (pt), for laying out columns."""
    width = 0.0
    for ch in str(text):
        if ch in _NARROW:
            width += 2.3
        elif ch in _WIDE or ch.isupper():
            width += 6.0
        elif ch in "±↑↓†‡×·":
            width += 6.5
        elif ord(ch) > 0x2E80:  # CJK in a task name (needs a CJK LaTeX setup anyway)
            width += 8.0
        else:
            width += 4.1
    return width


def _tex_cell(cell) -> str:
    """A ``tables.Cell`` as LaTeX: escaped text, minus signs, bold, underline for rank 1, dagger."""
    text = _minus(escape(cell.text)) if cell.text else "--"
    if cell.mark:
        text += "$^\\dagger$"
    if getattr(cell, "best", False) and cell.bold:
        text = f"\\underline{{{text}}}"
    return f"\\textbf{{{text}}}" if cell.bold else text


def _header(column: str) -> str:
    """A column header; a long metric name breaks at its underscores onto two lines."""
    column = str(column)
    arrow = ""
    if column.endswith((" ↑", " ↓")):
        column, arrow = column[:-2], column[-1]
    parts = column.split("_")
    if len(parts) > 1 and text_width_pt(column) > 60:
        cut = max(range(1, len(parts)), key=lambda i: -abs(len("_".join(parts[:i])) - len("_".join(parts[i:]))))
        top, bottom = "\\_".join(escape(p) for p in parts[:cut]) + "\\_", "\\_".join(escape(p) for p in parts[cut:])
        return f"\\shortstack[r]{{{top}\\\\{bottom}{(' ' + escape(arrow)) if arrow else ''}}}"
    return escape(column) + ((" " + escape(arrow)) if arrow else "")


def _header_width(column: str) -> float:
    column = str(column)
    if column.endswith((" ↑", " ↓")):
        column = column[:-2] + "xx"
    parts = column.split("_")
    if len(parts) > 1 and text_width_pt(column) > 60:
        return max(text_width_pt("_".join(parts[:i + 1])) for i in range(len(parts)))
    return text_width_pt(column)


def column_groups(labels: list[str], columns: list[str], cells: pd.DataFrame,
                  width: float = TEXT_WIDTH_PT) -> list[list[str]]:
    """Columns cut into groups whose estimated tabular width (the label column, then each column:
    its widest header line or cell, plus the column separation) fits ``width`` pt."""
    width *= WIDTH_MARGIN
    label_w = max(text_width_pt(x) for x in labels) + 2 * _TABCOLSEP_PT
    groups, current, used = [], [], label_w
    for column in columns:
        w = max([_header_width(column)] + [text_width_pt(str(v)) for v in cells[column]]) + 2 * _TABCOLSEP_PT
        if current and used + w > width:
            groups.append(current)
            current, used = [], label_w
        current.append(column)
        used += w
    if current:
        groups.append(current)
    return groups


def group_width(labels: list[str], columns: list[str], cells: pd.DataFrame) -> float:
    """Estimated width (pt) of one tabular: the label column and ``columns`` of ``cells``."""
    label_w = max(text_width_pt(x) for x in labels) + 2 * _TABCOLSEP_PT
    return label_w + sum(max([_header_width(c)] + [text_width_pt(str(v)) for v in cells[c]]) + 2 * _TABCOLSEP_PT
                         for c in columns)


def label_of(*parts: str) -> str:
    """A ``\\label`` key: ``tab:xb:`` + the parts, lower case, characters other than [a-z0-9-] as '-'."""
    return "tab:xb:" + ":".join(re.sub(r"[^a-z0-9]+", "-", str(p).lower()).strip("-") for p in parts)


def tabular(label_header: str, rows: list[str], table: pd.DataFrame, plain: pd.DataFrame | None = None,
            width: float = TEXT_WIDTH_PT) -> str:
    """One or more stacked booktabs tabulars of ``table`` (LaTeX cell strings; index = row labels
    as plain text), cut to fit ``width``; ``plain``: the same cells as plain text, for the width
    estimate (defaults to ``table``)."""
    plain = table if plain is None else plain
    blocks = []
    for group in column_groups([label_header, *rows], list(plain.columns), plain, width):
        lines = [f"\\begin{{tabular}}{{l{'r' * len(group)}}}", "\\toprule",
                 " & ".join([escape(label_header), *(_header(c) for c in group)]) + " \\\\", "\\midrule"]
        for row_label, (_, row) in zip(rows, table[group].iterrows()):
            if row_label.startswith("(") and (not lines[-1].startswith("\\midrule")):  # the reference rows
                lines.append("\\midrule")
            lines.append(" & ".join([escape(row_label), *row.tolist()]) + " \\\\")
        lines += ["\\bottomrule", "\\end{tabular}"]
        blocks.append("\n".join(lines))
    return "\n\n\\vspace{4pt}\n".join(blocks)


def table_float(body: str, caption: str, label: str) -> str:
    return "\n".join(["\\begin{table}[t]", "\\centering", "\\footnotesize", f"\\caption{{{caption}}}",
                      f"\\label{{{label}}}", body, "\\end{table}", ""])


#: How each removal rule treats the removed units, for captions (a pasted table must say it).
REMOVAL_WORDS = {"delete": "cut out of the text", "mask": "replaced by the mask token",
                 "soft": "embeddings partly zeroed"}

PREAMBLE = ("% Generated by xaibench. Requires \\usepackage{booktabs}. Each table fits the \\textwidth of a\n"
            "% one-column 10pt article page; wide ones are split into stacked column groups.\n")


def latex_tables(summary: pd.DataFrame, removal: list[str] | None = None) -> str:
    """One booktabs table per task and metric family (the cells and bold rule of ``summary.md``).
    ``removal``: the removal rules of the run's (ranked) faithfulness metrics, named in the
    faithfulness captions (``removal_agreement.headline_removal``)."""
    from xaibench.report.tables import circular_notes, family_tables, task_groups

    if summary.empty:
        return "% no results\n"
    blocks = [PREAMBLE]
    for title, task in task_groups(summary):
        footnote = " ".join(circular_notes(task))
        dataset, model = task["dataset"].iloc[0], task["model"].iloc[0]
        for family, cells in family_tables(task):
            if not cells.shape[1]:
                continue
            table = cells.map(_tex_cell)
            plain = cells.map(lambda c: (c.text or "--") + (" †" if c.mark else ""))
            caption = (escape(f"{title}, {family.replace('_', ' ')}") + ". Mean $\\pm$ half-width of the 95\\% "
                       "bootstrap CI over examples (shares: [Wilson 95\\% interval]). Bold: the best and every "
                       "explainer not significantly different from it (two-sided Wilcoxon signed-rank test, "
                       "Holm-corrected, $\\alpha = 0.05$); underlined: the best.")
            if family == "faithfulness" and removal:
                caption += " Removal: " + escape(", ".join(f"{r} ({REMOVAL_WORDS.get(r, r)})" for r in removal)) + "."
            if footnote and "$^\\dagger$" in "".join(table.to_numpy().ravel()):
                caption += " " + escape(footnote)
            body = tabular(family.replace("_", " "), [str(i) for i in cells.index], table, plain)
            blocks.append(table_float(body, caption, label_of(dataset, model, family)))
    return "\n".join(blocks)


def document(*bodies: str) -> str:
    """A complete article around generated tables (to compile or preview them)."""
    return ("\\documentclass[10pt]{article}\n\\usepackage{booktabs}\n"
            "\\begin{document}\n" + "\n".join(bodies).replace(PREAMBLE, "") + "\n\\end{document}\n")
