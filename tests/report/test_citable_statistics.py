"""The statistics of the citable table: Wilson intervals for shares, ties sharing bold, circular
pairs and inapplicable metrics out of "best" and ranks, ranks with the task as the unit."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from xaibench.metrics.base import Metric
from xaibench.metrics.circularity import circular_reason, shares_removal
from xaibench.report import statistics, tables


# ---- Wilson ------------------------------------------------------------------------------------
def test_wilson_interval_matches_hand_values():
    # 64/64: p = 1, z = 1.96 -> low = 1 / (1 + z²/n) = 64 / (64 + 3.8415) = 0.9434, high = 1.
    low, high = statistics.wilson_ci(64, 64)
    assert low == pytest.approx(64 / (64 + 1.959963984540054 ** 2), abs=1e-9) and high == 1.0
    # 8/20 (Agresti & Coull 1998's worked form): centre (0.4 + 0.096)/1.192 = 0.4161,
    # half = 1.96·sqrt(0.012 + 0.0024)/1.192 = 0.1974 -> [0.2188, 0.6134].
    low, high = statistics.wilson_ci(8, 20)
    assert (round(low, 4), round(high, 4)) == (0.2188, 0.6134)
    assert all(math.isnan(x) for x in statistics.wilson_ci(0, 0))


# ---- a synthetic run ---------------------------------------------------------------------------
def _rows(explainer, metric, values, **extra):
    return [{"dataset": "d", "model": "m", "device": "cpu", "explainer": explainer, "metric": metric,
             "example_id": str(i), "value": float(v), "random_reference": np.nan, "status": "ok",
             "note": None, "higher_is_better": True, "task_type": "classification", "circular": None, **extra}
            for i, v in enumerate(values)]


@pytest.fixture
def per_example():
    rng = np.random.default_rng(0)
    rows = []
    # comprehensiveness: a and b indistinguishable, c clearly worse.
    base = rng.uniform(0.4, 0.6, 40)
    rows += _rows("a", "comprehensiveness", base)
    rows += _rows("b", "comprehensiveness", base + rng.normal(0, 0.01, 40))
    rows += _rows("c", "comprehensiveness", base - 0.3)
    # loo_correlation: c "wins" by construction (circular) and must not be best.
    rows += _rows("a", "loo_correlation", np.full(40, 0.3) + rng.normal(0, 0.05, 40))
    rows += _rows("b", "loo_correlation", np.full(40, 0.1) + rng.normal(0, 0.05, 40))
    rows += _rows("c", "loo_correlation", np.ones(40), circular="c computes leave-one-out drops")
    # ground_truth_top1: a share.
    rows += _rows("a", "ground_truth_top1", [1] * 40)
    rows += _rows("b", "ground_truth_top1", [1] * 30 + [0] * 10)
    rows += _rows("c", "ground_truth_top1", [0] * 40)
    # seed_stability: a is deterministic (not applicable).
    rows += [{**r, "value": np.nan, "status": "not_applicable", "note": "deterministic"}
             for r in _rows("a", "seed_stability", [0] * 40)]
    rows += _rows("b", "seed_stability", rng.uniform(0.7, 0.9, 40))
    rows += _rows("c", "seed_stability", rng.uniform(0.0, 0.2, 40))
    return pd.DataFrame(rows)


def test_summary_marks_shares_inapplicable_and_circular_cells(per_example):
    summary = tables.summarize(per_example)
    cell = summary.set_index(["explainer", "metric"])
    assert cell.loc[("a", "ground_truth_top1"), "ci_method"] == "wilson"
    assert cell.loc[("a", "ground_truth_top1"), "ci_low"] == pytest.approx(statistics.wilson_ci(40, 40)[0])
    assert cell.loc[("a", "comprehensiveness"), "ci_method"] == "bootstrap"
    assert cell.loc[("a", "seed_stability"), "not_applicable"] == "deterministic"
    assert cell.loc[("c", "loo_correlation"), "circular"].startswith("c computes")
    assert cell.loc[("a", "comprehensiveness"), "family"] == "faithfulness"


def test_ties_share_bold_and_circular_cells_never_win(per_example):
    summary = statistics.paired_tests_vs_best(per_example, tables.summarize(per_example))
    tied = summary.set_index(["explainer", "metric"])["tied_best"]
    # a and b differ by noise only: both bold; c is 0.3 lower on every example: not bold.
    assert tied[("a", "comprehensiveness")] and tied[("b", "comprehensiveness")]
    assert not tied[("c", "comprehensiveness")]
    # c's 1.0 is circular: a is best, c gets no rank.
    assert tied[("a", "loo_correlation")] and not tied[("c", "loo_correlation")]
    assert math.isnan(summary.set_index(["explainer", "metric"]).loc[("c", "loo_correlation"), "rank"])
    text = tables.markdown_tables(summary)
    assert "1.000 ± 0.000 †" in text and "**1.000 ± 0.000 †**" not in text
    assert "† c × loo\\_correlation" in text
    assert "deterministic" in text and "1.000 [0.91, 1.00]" in text


def test_ranks_use_the_task_as_unit_and_spread_partial_blocks(per_example):
    summary = statistics.paired_tests_vs_best(per_example, tables.summarize(per_example))
    per_task = statistics.task_ranks(summary)
    overall = per_task[per_task["family"] == "all"].set_index("explainer")
    # comprehensiveness and ground truth: ranks from the means (a and b are within noise).
    means = summary.set_index(["explainer", "metric"])["mean"]
    comp = pd.Series({e: means[(e, "comprehensiveness")] for e in "abc"}).rank(ascending=False)
    gt = pd.Series({e: means[(e, "ground_truth_top1")] for e in "abc"}).rank(ascending=False)
    # loo: c left out, a > b among two -> spread onto 1..3: a = 1, b = 3.
    # seed stability: a left out, b > c -> b = 1, c = 3.
    expected = {"a": np.mean([comp["a"], gt["a"], 1.0]), "b": np.mean([comp["b"], gt["b"], 3.0, 1.0]),
                "c": np.mean([comp["c"], gt["c"], 3.0])}
    for e, value in expected.items():
        assert overall.loc[e, "rank"] == pytest.approx(value)
    ranks, test = statistics.across_task_ranks(per_task)
    assert list(ranks["n_tasks"]) == [1, 1, 1] and "chi2" not in test  # one task: no test over tasks


def test_friedman_over_tasks_counts_tasks_not_blocks(per_example):
    two = pd.concat([per_example, per_example.assign(dataset="e")])
    summary = statistics.paired_tests_vs_best(two, tables.summarize(two))
    ranks, test = statistics.across_task_ranks(statistics.task_ranks(summary))
    assert test["n_tasks"] == 2 and test["n_explainers"] == 3 and "p_value" in test


def test_an_explainer_on_fewer_tasks_is_left_out_of_the_friedman_test_not_the_tasks():
    """A sentence generator that exists for 2 of 6 tasks must not cut the test to those 2 tasks."""
    from xaibench.report.leaderboard import leaderboard, leaderboard_latex, leaderboard_markdown

    per_task = []
    for t in range(6):
        explainers = ["good", "mid", "bad", "random"] + (["nl"] if t < 2 else [])
        for r, e in enumerate(explainers, start=1):
            per_task.append({"dataset": f"t{t}", "model": "m", "device": "cpu", "explainer": e, "family": "all",
                             "rank": float(r), "n_metrics": 1})
    ranks, test = statistics.across_task_ranks(pd.DataFrame(per_task))
    assert test["n_tasks"] == 6 and test["n_explainers"] == 4 and test["left_out"] == {"nl": 2}
    assert test["p_value"] < 0.01  # the same order in six tasks; with two tasks it could not be
    assert dict(zip(ranks["explainer"], ranks["n_tasks"]))["nl"] == 2
    # The leaderboard marks the average over fewer tasks and says why; so does the LaTeX caption.
    summary = pd.DataFrame([{"dataset": "t0", "model": "m", "explainer": e, "metric": "comprehensiveness",
                             "mean": 0.1, "tied_best": False} for e in ranks["explainer"]])
    table = leaderboard(summary, ranks, ["t0"])
    assert table.loc["nl", "average rank"].endswith(" ‡") and not table.loc["good", "average rank"].endswith("‡")
    assert "‡ = ranked on fewer tasks: nl (2 of 6)" in leaderboard_markdown(summary, ranks, ["t0"])
    tex = leaderboard_latex(summary, ranks, ["t0"])
    assert "$^\\ddagger$" in tex and "‡" not in tex


# ---- circularity -------------------------------------------------------------------------------
class _LeaveOneOutExplainer:
    name = "my_loo"
    computes = "leave_one_out"
    removal = "delete"


class _MaskedLeaveOneOutExplainer(_LeaveOneOutExplainer):
    removal = "mask"


class _GradientExplainer:
    name = "my_gradient"
    computes = None
    removal = None


class _RecomputingMetric(Metric):
    name = "my_loo_metric"
    recomputes = "leave_one_out"

    def __init__(self, mode: str = "delete") -> None:
        self.mode = mode


def test_a_new_explainer_sharing_a_metric_quantity_is_caught_by_the_generic_rule():
    reason = circular_reason(_LeaveOneOutExplainer, _RecomputingMetric())
    assert reason and "my_loo" in reason and "my_loo_metric" in reason
    assert circular_reason(_GradientExplainer, _RecomputingMetric()) is None
    # Same quantity, another removal rule: the metric measures something the explainer did not compute.
    assert circular_reason(_MaskedLeaveOneOutExplainer, _RecomputingMetric()) is None
    assert circular_reason(_MaskedLeaveOneOutExplainer, _RecomputingMetric(mode="mask"))
    assert shares_removal(_LeaveOneOutExplainer, _RecomputingMetric())


def test_the_built_in_occlusion_loo_pair_is_circular_and_lime_is_not():
    import xaibench as xb

    loo = xb.get_metric("loo_correlation")
    assert circular_reason(xb.get_explainer("occlusion"), loo)
    assert circular_reason(xb.get_explainer("lime"), loo) is None
    assert circular_reason(xb.get_explainer("occlusion"), xb.get_metric("comprehensiveness")) is None
    assert shares_removal(xb.get_explainer("shap"), xb.get_metric("comprehensiveness"))
    assert not shares_removal(xb.get_explainer("shap"), xb.get_metric("comprehensiveness", mode="mask"))


# ---- through a real session --------------------------------------------------------------------
def test_a_session_records_circular_and_inapplicable_pairs_and_the_tables_show_them(tiny_model, run_tiny_session,
                                                                                    tmp_path):
    from xaibench.report.writer import write_run

    texts = ["the screen is great", "awful battery and slow", "it works fine", "not good at all"]
    session = run_tiny_session(tiny_model, tmp_path, texts, explainers=("random", "occlusion"),
                               metrics=("loo_correlation", "seed_stability"))
    rows = pd.DataFrame(session.record.per_example).set_index(["explainer", "metric"])
    assert set(rows.loc[("occlusion", "seed_stability"), "status"]) == {"not_applicable"}
    assert set(rows.loc[("occlusion", "seed_stability"), "note"]) == {"deterministic"}
    assert rows.loc[("occlusion", "loo_correlation"), "circular"].notna().all()
    assert rows.loc[("random", "loo_correlation"), "circular"].isna().all()
    folder = write_run(session.record)
    md = open(f"{folder}/summary.md", encoding="utf-8").read()
    assert "| stability" in md and "deterministic" in md and "†" in md
    tex = open(f"{folder}/summary.tex", encoding="utf-8").read()
    assert "$^\\dagger$" in tex and "deterministic" in tex
    summary = pd.read_csv(f"{folder}/summary.csv")
    assert {"family", "tied_best", "ci_method", "not_applicable", "circular", "friedman_p"} <= set(summary.columns)


def test_the_smallest_holm_p_bounds_what_a_test_can_show():
    from scipy.stats import wilcoxon

    from xaibench.report.statistics import smallest_holm_p

    # every one of 8 paired differences positive: the exact two-sided p is 2 / 2^8
    assert wilcoxon(np.arange(1.0, 9.0), np.zeros(8)).pvalue == pytest.approx(2 / 256)
    assert smallest_holm_p(8, 8) == pytest.approx(8 * 2 / 256)  # 0.0625: nothing can be separated
    assert smallest_holm_p(64, 8) < 1e-15 and smallest_holm_p(1, 3) == 1.0


def test_a_task_too_small_to_separate_anyone_says_so():
    from xaibench.report.tables import task_notes

    def task(n):
        return pd.DataFrame({"dataset": "d", "model": "m", "device": "cpu", "metric": "comprehensiveness",
                             "explainer": [f"e{i}" for i in range(9)], "mean": np.linspace(0, 1, 9), "n": n,
                             "higher_is_better": True, "family": "faithfulness"})

    notes = task_notes(task(8))
    assert len(notes) == 1 and notes[0].startswith("n = 8: too few paired examples")
    assert "8 comparisons is 0.0625" in notes[0]
    assert task_notes(task(16)) == []  # 8 * 2 / 2^16 < 0.05: a test can separate them
