"""Write a run folder atomically: everything goes to a hidden staging folder, then one rename.

Files: per_example.csv (the public contract's per-example file), the per-example data as Parquet
(per_example.parquet, curves.parquet, attributions.parquet, examples.parquet;
``xaibench.report.result_files``, read back with ``xb.read_results``), the tables
as CSV (summary.csv with rank and Holm-corrected p_value_vs_best, ranks.csv, task_ranks.csv,
cost.csv), summary.md and summary.tex (per task and family), leaderboard.md and leaderboard.tex (one
compact table of the run), provenance.json, figures/ (PNG, PDF, SVG), report.html; model_seeds.csv
when tasks ran on several model seeds (``xaibench.report.model_seeds``).
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pandas as pd

from xaibench.core.storage import atomic_write_json
from xaibench.report import figures, leaderboard, model_seeds, provenance, removal_agreement, result_files, scaling_sweep, statistics
from xaibench.report import tables as reporting
from xaibench.report.devices import device_markdown, device_table
from xaibench.report.html import write_report
from xaibench.report.latex import latex_tables
from xaibench.report.quantities import task_quantities


#: Number format of the CSV tables (summary.csv, cost.csv, ...).
CSV_FLOATS = "%.12g"


def run_id(profile: str) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{profile}"


def build_tables(per_example: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """summary (with stats), across-task ranks and their Friedman test over tasks — everything
    recomputable from per_example.parquet (``statistics.task_ranks`` gives the per-task ranks)."""
    summary = reporting.summarize(per_example, seed=seed)
    summary = statistics.paired_tests_vs_best(per_example, summary)
    ranks, friedman = statistics.across_task_ranks(statistics.task_ranks(summary))
    return summary, ranks, friedman


def write_run(run, models: dict | None = None) -> str:
    """Write every output of a finished run; return the folder.

    ``run``: the run's ``RunRecord`` (``xaibench.harness.run_record``: config, rows, infos).
    ``models``: ``{(model name, device): Classifier}`` loaded in this process, for the attention
    pictures of the examples (optional: without them those pictures are skipped).
    """
    cfg = run.config
    root = Path(run.rootdir)
    final = Path(cfg.out) if cfg.out else root / "results" / run_id(cfg.profile)
    final = final if final.is_absolute() else Path.cwd() / final
    staging = final.parent / f".{final.name}.staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "figures").mkdir(parents=True)

    per_example = pd.DataFrame(run.per_example)
    # The public contract's file (docs/api.md): every value as CSV, beside the Parquet copy that
    # read_results uses (typed columns, a twentieth of the size).
    per_example.to_csv(staging / "per_example.csv", index=False)
    summary, ranks, friedman = build_tables(per_example, cfg.seed)
    # 12 significant digits: far below every interval, and a third smaller than repr() floats
    # (per_example.parquet keeps the full values the means are recomputed from).
    summary.to_csv(staging / "summary.csv", index=False, float_format=CSV_FLOATS)
    ranks.to_csv(staging / "ranks.csv", index=False)
    statistics.task_ranks(summary).to_csv(staging / "task_ranks.csv", index=False, float_format=CSV_FLOATS)
    agreement = removal_agreement.removal_agreement(summary, cfg.metric_params)
    if len(agreement):
        agreement.to_csv(staging / "removal_agreement.csv", index=False)
    import torch

    cost = reporting.cost_table(run.attribution_rows, run.model_info, run.torch_threads or torch.get_num_threads())
    cost.to_csv(staging / "cost.csv", index=False, float_format=CSV_FLOATS)
    curves = pd.DataFrame(run.curves)
    example_rows = getattr(run, "example_rows", [])
    result_files.write_data_files(staging, per_example, curves, run.attribution_rows, example_rows)
    friedman_text = _friedman_sentence(friedman)
    devices = device_table(run.attribution_rows, reference=cfg.devices[0])
    if len(devices):
        devices.to_csv(staging / "devices.csv", index=False)
    agreement_md = removal_agreement.markdown_section(agreement, _shared_removal(summary))
    seed_tables: list[tuple[str, pd.DataFrame]] = []
    seed_k = 0
    if model_seeds.has_model_seeds(per_example):  # --xb-model-seeds K > 1: spread and W over the seeds
        seeds = model_seeds.seed_table(per_example, summary)
        seeds.to_csv(staging / model_seeds.CSV, index=False, float_format=CSV_FLOATS)
        agreement_md += model_seeds.markdown_section(seeds)
        seed_tables = [(f"Model-seed variance: {title}", wide) for title, wide in model_seeds.wide_tables(seeds)]
        seed_k = int(seeds["k"].max())
    else:  # a seed run kept inside this folder (results/reference/model_seeds)
        kept_md, seed_tables, seed_k = model_seeds.from_subfolder(final)
        agreement_md += kept_md
    seeds_separate = bool(seed_tables) and not model_seeds.has_model_seeds(per_example)
    (staging / "summary.md").write_text(_markdown(cfg, summary, cost, ranks, friedman_text, run, agreement_md),
                                        encoding="utf-8")
    (staging / "summary.tex").write_text(
        latex_tables(summary, removal_agreement.headline_removal(summary, cfg.metric_params)), encoding="utf-8")
    (staging / "leaderboard.md").write_text(leaderboard.leaderboard_markdown(summary, ranks), encoding="utf-8")
    (staging / "leaderboard.tex").write_text(leaderboard.leaderboard_latex(summary, ranks), encoding="utf-8")
    atomic_write_json(staging / "provenance.json",
                      provenance.collect(cfg.to_dict(), str(root), run.model_info, run.dataset_info, run.started,
                                         torch_threads=run.torch_threads, cluster=getattr(run, "cluster", None),
                                         budget=getattr(run, "budget", None)))
    quantities = task_quantities(run.attribution_rows, run.model_info)
    curve_pictures = figures.curve_figures(curves, staging / "figures", quantities=quantities, seed=cfg.seed)
    rank_png = figures.rank_figure(ranks, staging / "figures")
    by_name = {p.name: p for p in curve_pictures}
    task_figures = {(d, m): [by_name[n]] for d, m in dict.fromkeys(zip(summary["dataset"], summary["model"]))
                    if (n := figures.task_figure_name("curves", d, m)) in by_name}
    for (dataset, model), picture in _attention_figures(run, models or {}, staging / "figures").items():
        task_figures.setdefault((dataset, model), []).append(picture)
    scaling_pictures, scaling_tables = _scaling_sweep(final / scaling_sweep.SWEEP_FOLDER)
    removal_text = _removal_sentence(removal_agreement.headline_removal(summary, cfg.metric_params))
    write_report(staging / "report.html", title=cfg.profile, subtitle=f"profile {cfg.profile}, seed {cfg.seed}, "
                 f"{_budget_subtitle(run)}{time.strftime('%Y-%m-%d %H:%M')}",
                 summary=summary, cost=cost, ranks=ranks, friedman=friedman_text,
                 attribution_rows=run.attribution_rows, example_rows=example_rows, quantities=quantities,
                 model_info=run.model_info,
                 task_figures=task_figures, global_figures=[rank_png] if rank_png else [],
                 extra_figures=scaling_pictures, leaderboard=_leaderboard_html(summary, ranks),
                 leaderboard_note=leaderboard.NOTE,
                 plain_tables=_agreement_table(agreement) + seed_tables + scaling_tables,
                 legend=reporting.LEGEND, reading=RANKS_READING,
                 notes=[*_budget_note(run), removal_text.replace("`", ""),
                        *removal_agreement.disagreements(agreement),
                        *([model_seeds.explanation(seed_k, seeds_separate)] if seed_tables else []),
                        *(line.removeprefix("- ") for line in _truncation_lines(run.attribution_rows, escape=str))])
    _publish(staging, final)
    return str(final)


def _scaling_sweep(folder: Path) -> tuple[list[Path], list[tuple[str, pd.DataFrame]]]:
    """The scaling benchmark's plot and fitted exponents, when a sweep was written into this run's
    folder (``pytest benchmarks/test_scaling.py --xb-out <same folder>``), for the HTML report."""
    pictures = [folder / scaling_sweep.SWEEP_PLOT] if (folder / scaling_sweep.SWEEP_PLOT).is_file() else []
    tables = []
    if (folder / scaling_sweep.SWEEP_EXPONENTS).is_file():
        exponents = pd.read_csv(folder / scaling_sweep.SWEEP_EXPONENTS)
        by_model = exponents.pivot(index="explainer", columns="model", values="exponent").round(2)
        tables.append(("Scaling: fitted exponent k of seconds ∝ tokensᵏ (explainer × model; "
                       "scaling/scaling_exponents.csv)", by_model))
    return pictures, tables


# Subfolders that other runs write into the same --xb-out folder (benchmarks/test_scaling.py writes
# scaling/; a seed run with --xb-out <folder>/model_seeds); they are not this run's output, so
# replacing the run folder keeps them, and its summary.md and report.html show their tables.
FOREIGN_SUBFOLDERS = (scaling_sweep.SWEEP_FOLDER, model_seeds.SUBFOLDER)


def _publish(staging: Path, final: Path) -> None:
    if final.exists():
        # Same --xb-out as an earlier run: replace it as a whole, never mix two runs' files.
        for name in FOREIGN_SUBFOLDERS:
            if (final / name).is_dir() and not (staging / name).exists():
                os.replace(final / name, staging / name)
        old = final.parent / f".{final.name}.old-{os.getpid()}"
        os.replace(final, old)
        os.replace(staging, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, final)


def _attention_figures(run, models: dict, folder: Path) -> dict[tuple[str, str], Path]:
    """The attention heatmap of each task's first example (seed 0), when the attention explainer ran
    and its model is loaded in this process: ``{(dataset, model): png}``. (The attributions
    themselves are shown as highlighted text in report.html, not as bar charts.)"""
    try:
        from xaibench.report.explanation_plots import plot_attention
    except ImportError:
        return {}
    written: dict = {}
    for row in run.attribution_rows:
        key = (row["dataset"], row["model"])
        if key in written or row.get("model_seed") or row["explainer"] != "attention":
            continue
        model = models.get((row["model"], row.get("device", "cpu")))
        if model is None:
            continue
        try:
            fig = plot_attention(model, row["text"])
            written[key] = figures.save_figure(fig, folder / figures.task_figure_name("attention", *key))
        except Exception:  # a picture must never cost the run its tables
            continue
    return written


def _leaderboard_html(summary: pd.DataFrame, ranks: pd.DataFrame) -> pd.DataFrame:
    """The leaderboard with HTML cells (escaped; bold parts as <b>)."""
    import html

    table = leaderboard.leaderboard(summary, ranks, bold="\x00")
    if table.empty:
        return table

    def cell(value: str) -> str:
        parts = []
        for part in str(value).split(" / "):
            text = html.escape(part.replace("\x00", ""))
            parts.append(f"<b>{text}</b>" if part.startswith("\x00") else text)
        return " / ".join(parts)

    out = table.map(cell)
    out.columns = [html.escape(c) for c in out.columns]
    out.index = [html.escape(str(i)) for i in out.index]
    out.index.name = "explainer"
    return out


def _friedman_sentence(test: dict) -> str:
    if "chi2" not in test:
        return (f"Friedman test over tasks not applicable ({test.get('n_explainers', 0)} explainers, "
                f"{test.get('n_tasks', 0)} complete tasks; it needs >= 3 explainers and >= 2 tasks).")
    left_out = test.get("left_out") or {}
    without = ("" if not left_out else
               " (left out, ranked on fewer tasks: " + ", ".join(f"{e}, {k} of {test.get('of_tasks', '?')}"
                                                             for e, k in left_out.items()) + ")")
    return (f"Friedman test over {test['n_tasks']} tasks (the unit of evidence; a task's metrics are not "
            f"independent) and {test['n_explainers']} explainers{without}: χ² = {test['chi2']:.2f}, "
            f"p = {test['p_value']:.3g}.")


#: What a reader may conclude from the ranks (also in the README).
RANKS_READING = ("A rank says how an explainer placed among those run, averaged over the metrics of a task "
                 "and then over tasks; with few tasks, a difference smaller than the critical difference "
                 "(figures/ranks.png) is not evidence that one explainer is better in general. Within a task, "
                 "trust the bold cells: they are the explainers that no paired test separates from the best.")


def _agreement_table(agreement: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    if agreement.empty:
        return []
    shown = agreement[["dataset", "model", "metric", "variant_removal", "kendall_tau", "best", "variant_best"]]
    return [("Does the ranking survive another removal? Kendall τ-b between the rankings under the delete "
             "removal and under each variant (removal_agreement.csv)", shown.round(3))]


def _shared_removal(summary: pd.DataFrame) -> dict[str, list[str]]:
    """``{removal rule: explainers of the run that perturb text with it}`` (declared ``removal``)."""
    from xaibench.core import registry

    out: dict[str, list[str]] = {}
    for name in dict.fromkeys(summary["explainer"]) if len(summary) else ():
        rule = getattr(registry.explainers.spec(name), "removal", None) if name in registry.explainers else None
        if rule:
            out.setdefault(rule, []).append(name)
    return out


def _removal_sentence(rules: list[str]) -> str:
    """Which removal the citable faithfulness tables used ("" when the run has none)."""
    if not rules:
        return ""
    return (f"Faithfulness metrics remove units with the `{'`, `'.join(rules)}` rule (docs/api.md, \"Removal\"); "
            "other removals, where run, are in their own tables and in \"Does the ranking survive another "
            "removal?\".")


def _markdown(cfg, summary, cost, ranks, friedman_text, run, agreement_md: str = "") -> str:
    lines = [f"## xaibench results — profile `{cfg.profile}`, seed {cfg.seed}\n"]
    if getattr(run, "budget", None):
        from xaibench.report.budget_text import budget_markdown

        lines.append(budget_markdown(run.budget) + "\n")
    sentence = _removal_sentence(removal_agreement.headline_removal(summary, cfg.metric_params))
    if sentence:
        lines.append(sentence + "\n")
    lines += [reporting.markdown_tables(summary, cost), agreement_md]
    if len(ranks):
        lines += ["\n### Average rank across tasks (1 = best)\n",
                  "Per task, an explainer's mean rank over the task's ranked metrics (per family in the family "
                  "columns; circular pairs, metrics that do not apply and removal variants left out); then the "
                  "mean over tasks.\n",
                  ranks.to_markdown(index=False, floatfmt=".2f"), "", friedman_text, "", RANKS_READING]
    lines.append(device_markdown(device_table(run.attribution_rows, reference=cfg.devices[0]), cfg.devices[0]))
    truncated = _truncation_lines(run.attribution_rows)
    if truncated:
        lines += ["\n### Truncated texts\n", *truncated]
    not_run = [o for o in run.outcome_rows if o.get("not_run")]
    if not_run:
        lines.append("\n### Cells not run\n")
        lines += [f"- {reporting.md_escape(o['cell'])}: {reporting.md_escape(o['not_run'])}" for o in not_run]
    failures = [o for o in run.outcome_rows if o["errors"] or o["metric_errors"]]
    if failures:
        lines.append("\n### Failures\n")
        for o in failures:
            cell = reporting.md_escape(o["cell"])  # holds the dataset name: a user's file name
            for example_id, err in list(o["errors"].items())[:5]:
                lines.append(f"- {cell} / example {reporting.md_escape(example_id)}: {reporting.md_escape(err)}")
            if len(o["errors"]) > 5:
                lines.append(f"- {cell}: ... {len(o['errors']) - 5} more failed examples (per_example.parquet)")
            for metric, err in o["metric_errors"].items():
                lines.append(f"- {cell} / {reporting.md_escape(metric)}: {reporting.md_escape(err)}")
    return reporting.wrap_prose("\n".join(lines)) + "\n"


def _budget_subtitle(run) -> str:
    """The page's subtitle part of a budgeted run, so the stop reason is seen before any table
    (the Notes repeat the full sentence)."""
    report = getattr(run, "budget", None)
    if not report:
        return ""
    counts = sorted(set(report.get("examples_per_task", {}).values()))
    reached = f"{counts[0]} examples per task" if len(counts) == 1 else "examples per task: " + ", ".join(map(str, counts))
    return f"budgeted run: {reached}, stopped because {report['stop_reason']}, "


def _budget_note(run) -> list[str]:
    """The budgeted run's sentence for the HTML page (plain text: the page escapes it)."""
    if not getattr(run, "budget", None):
        return []
    from xaibench.report.budget_text import budget_markdown

    return [budget_markdown(run.budget).split("\n")[0].replace("**", "").replace("`", "")]


def _truncation_lines(attribution_rows: list[dict], escape=reporting.md_escape) -> list[str]:
    """One Markdown list line per task whose texts were longer than the model's max length (names
    passed through ``escape``: Markdown by default; ``str`` for the HTML page, which escapes itself)."""
    counts: dict = {}
    for r in attribution_rows:
        dropped = int((r.get("metadata") or {}).get("n_units_truncated", 0) or 0)
        key = (r["dataset"], r["model"])
        seen = counts.setdefault(key, {})
        if dropped:
            seen[r["example_id"]] = dropped
    return [f"- {escape(d)} · {escape(m)}: {len(ex)} example(s) truncated to the model's max length, "
            f"{sum(ex.values())} unit(s) never seen by the model (scored 0; see the n_units_truncated column "
            "of per_example.parquet)"
            for (d, m), ex in counts.items() if ex]

