"""Tables for humans and papers: summary.md lines fit 120 characters, all-n/a columns are dropped,
runtimes read in ms; summary.tex and leaderboard.tex fit a one-column page (compiled with pdflatex
when it is installed, else checked by the width estimate), with labels and real minus signs."""
from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from xaibench.report import latex, leaderboard, tables
from xaibench.report.writer import build_tables

EXPLAINERS = ("integrated_gradients", "attention_rollout", "grad_x_input", "occlusion", "random")
#: metric -> (higher is better, mean per explainer index)
METRICS = {"comprehensiveness": True, "sufficiency": False, "deletion_auc": False, "insertion_auc": True,
           "loo_correlation": True, "comprehensiveness_mask": True, "sufficiency_mask": False,
           "deletion_auc_mask": False, "insertion_auc_mask": True, "soft_comprehensiveness": True,
           "runtime_seconds": False, "plausibility_auprc": True, "seed_stability": True}


def per_example(task: str = "reviews-en", model: str = "minilm-reviews-en", n: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for e, explainer in enumerate(EXPLAINERS):
        for metric, hib in METRICS.items():
            for i in range(n):
                value = rng.normal(0.1 * e - 0.15, 0.05)  # negative means: minus signs to typeset
                if metric == "runtime_seconds":
                    value = 0.002 * (e + 1) + rng.normal(0, 1e-4)
                status, note = "ok", None
                if metric == "plausibility_auprc":  # no human rationales: every value NaN
                    value, status, note = np.nan, "nan", "no rationale"
                if metric == "seed_stability" and explainer != "random":
                    value, status, note = np.nan, "not_applicable", "deterministic"
                rows.append({"dataset": task, "model": model, "device": "cpu", "explainer": explainer,
                             "metric": metric, "example_id": str(i), "value": value, "random_reference": np.nan,
                             "status": status, "note": note, "higher_is_better": hib,
                             "task_type": "classification", "circular": None})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def run_tables():
    rows = pd.concat([per_example(), per_example("reviews-zh", "charbert-reviews-zh")], ignore_index=True)
    return build_tables(rows, seed=0)


def test_markdown_lines_fit_and_empty_columns_are_dropped(run_tables):
    summary, _, _ = run_tables
    md = tables.wrap_prose(tables.markdown_tables(summary))
    assert max(len(line) for line in md.splitlines()) <= tables.MARKDOWN_WIDTH
    assert "plausibility_auprc ↑" not in md  # n/a on every explainer: no column ...
    assert "No value on this task (left out of the tables): plausibility\\_auprc" in md  # ... but named
    assert "runtime_ms ↓" in md and "runtime_seconds" not in md
    runtime = summary[(summary.metric == "runtime_seconds") & (summary.explainer == "random")].iloc[0]
    # Seconds stored, milliseconds shown (10.0 ms); amortised over calls, so without an interval.
    assert runtime["ci_method"] == "none" and f"| {runtime['mean'] * 1000:.1f} " in md
    assert f"{runtime['mean'] * 1000:.1f} ±" not in md
    assert "e-0" not in md and "-0.000" not in md and "**" in md  # no scientific notation or minus zero


def test_number_format_follows_the_interval():
    assert tables._format_mean_ci(-0.00992, -0.035, 0.015) == "-0.010 ± 0.025"
    assert tables._format_mean_ci(0.930, 0.9216, 0.9383) == "0.930 ± 0.008"
    assert tables._format_mean_ci(177.4, 165.0, 190.0) == "177 ± 12"
    assert tables._format_mean_ci(1e-9, -1e-9, 3e-9) == "0.000 ± 0.000"


def _compile(tex: str, tmp_path) -> str:
    (tmp_path / "doc.tex").write_text(tex, encoding="utf-8")
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                   capture_output=True, timeout=240)
    log = (tmp_path / "doc.log").read_text(encoding="latin-1")
    assert (tmp_path / "doc.pdf").is_file(), log[-3000:]
    return log


def test_latex_fits_the_page_with_labels_and_minus_signs(run_tables, tmp_path):
    summary, ranks, _ = run_tables
    tex = latex.latex_tables(summary, ["delete"])
    board = leaderboard.leaderboard_latex(summary, ranks)
    labels = re.findall(r"\\label\{([^}]+)\}", tex + board)
    assert len(labels) == tex.count("\\begin{table}") + board.count("\\begin{table}") and len(set(labels)) == len(labels)
    assert "tab:xb:reviews-zh:charbert-reviews-zh:faithfulness" in labels and "tab:xb:leaderboard" in labels
    assert "$-$0." in tex and not re.search(r"(&|^) *-\d", tex, re.M)  # every negative number has a real minus
    assert "\\underline{" in tex and "\\textbf{" in tex and "0.000 $\\pm$ 0.000" not in tex
    # the 11-metric faithfulness family does not fit one tabular: it is cut into stacked groups
    assert max(t.count("\\begin{tabular}") for t in tex.split("\\begin{table}")) >= 2
    for block in re.findall(r"\\begin\{tabular\}.*?\\end\{tabular\}", tex + board, re.S):
        head = block.splitlines()[0]
        assert head.count("r") <= 8
    for _, task in tables.task_groups(summary):  # every group's estimated width fits the page
        for _, cells in tables.family_tables(task):
            plain = cells.map(lambda c: c.text)
            labels = [cells.index.name or "", *map(str, cells.index)]
            for group in latex.column_groups(labels, list(plain.columns), plain):
                assert latex.group_width(labels, group, plain) <= latex.TEXT_WIDTH_PT or len(group) == 1
    if shutil.which("pdflatex") is None:  # the structure above is the check on machines without TeX
        return
    log = _compile(latex.document(tex, board), tmp_path)
    assert "Overfull \\hbox" not in log, re.findall(r"Overfull \\hbox.*", log)
    assert "! " not in log


def test_leaderboard_markdown_orders_by_rank_and_reads_the_summary(run_tables):
    summary, ranks, _ = run_tables
    md = leaderboard.leaderboard_markdown(summary, ranks)
    lines = [line for line in md.splitlines() if line.startswith("|")]
    assert "average rank" in lines[0] and "comprehensiveness ↑ (reviews-en / reviews-zh)" in lines[0]
    order = [line.split("|")[1].strip() for line in lines[2:]]
    assert order == ranks.sort_values("average_rank")["explainer"].tolist()
    assert "ms / explanation ↓" in lines[0] and "det. / det." in md
