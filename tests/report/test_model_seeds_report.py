"""The model-seed report (``xaibench.report.model_seeds``): Kendall's W checked by hand, the table
and Markdown on a synthetic run of 3 seeds × 3 explainers, and the run folder of a tiny 3-seed run."""
from __future__ import annotations

import itertools
import json
import math
import os

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2, friedmanchisquare, spearmanr

from xaibench.report.model_seeds import COLUMNS, has_model_seeds, kendall_w, markdown_section, seed_table
from xaibench.report.result_files import read_per_example


# ---- Kendall's W ------------------------------------------------------------------------------
def test_kendall_w_worked_example_without_ties():
    # 3 judges (rows) rank 4 objects (columns); with higher_is_better=False a score is its rank.
    #   judge 1: 1 2 3 4     judge 2: 2 1 3 4     judge 3: 1 3 2 4
    # Rank sums R = (4, 6, 8, 12); mean rank sum m(n+1)/2 = 3·5/2 = 7.5;
    # S = (−3.5)² + (−1.5)² + 0.5² + 4.5² = 12.25 + 2.25 + 0.25 + 20.25 = 35;
    # W = 12 S / (m²(n³ − n)) = 12·35 / (9·60) = 420/540 = 7/9;
    # χ² = m(n − 1)W = 3·3·7/9 = 7 on n − 1 = 3 degrees of freedom.
    ranks = [[1, 2, 3, 4], [2, 1, 3, 4], [1, 3, 2, 4]]
    result = kendall_w(ranks, higher_is_better=False)
    assert result["w"] == pytest.approx(7 / 9)
    assert result["chi2"] == pytest.approx(7.0) and result["df"] == 3
    assert result["p_value"] == pytest.approx(chi2.sf(7.0, 3))
    assert (result["m"], result["n"]) == (3, 4)
    # Scores instead of ranks, higher = better: the same rankings give the same W.
    assert kendall_w(-np.asarray(ranks, dtype=float) * 0.1, higher_is_better=True)["w"] == pytest.approx(7 / 9)


def test_kendall_w_worked_example_with_ties():
    #   judge 1: 1   2   3   4
    #   judge 2: 1.5 1.5 3   4     (objects 1 and 2 tied: one group of t = 2, t³ − t = 6)
    #   judge 3: 1   2   3.5 3.5   (objects 3 and 4 tied: t³ − t = 6)
    # R = (3.5, 5.5, 9.5, 11.5); deviations from 7.5: −4, −2, 2, 4; S = 16 + 4 + 4 + 16 = 40.
    # Tie-corrected W = 12 S / (m²(n³ − n) − m ΣT) = 480 / (540 − 3·12) = 480/504 = 20/21
    # (uncorrected it would be 480/540 = 8/9); χ² = 3·3·20/21 = 60/7.
    ranks = [[1, 2, 3, 4], [1.5, 1.5, 3, 4], [1, 2, 3.5, 3.5]]
    result = kendall_w(ranks, higher_is_better=False)
    assert result["w"] == pytest.approx(20 / 21)
    assert result["chi2"] == pytest.approx(60 / 7)
    # χ² = m(n − 1)W is Friedman's tie-corrected statistic (objects = treatments, judges = blocks).
    friedman = friedmanchisquare(*np.asarray(ranks, dtype=float).T)
    assert result["chi2"] == pytest.approx(friedman.statistic)
    assert result["p_value"] == pytest.approx(friedman.pvalue)


def test_kendall_w_is_the_mean_spearman_identity_on_untied_data():
    # W = (r̄ (m − 1) + 1) / m, r̄ the mean Spearman ρ over the m(m − 1)/2 pairs of raters.
    rng = np.random.default_rng(7)
    for m, n in [(3, 3), (5, 7), (4, 9)]:
        scores = rng.normal(size=(m, n)) + np.linspace(0, 1.5, n)  # some agreement, no ties
        rhos = [spearmanr(scores[a], scores[b]).statistic for a, b in itertools.combinations(range(m), 2)]
        expected = (np.mean(rhos) * (m - 1) + 1) / m
        assert kendall_w(scores)["w"] == pytest.approx(expected, abs=1e-12)


def test_kendall_w_limits():
    assert kendall_w([[1, 2, 3]] * 4)["w"] == pytest.approx(1.0)
    assert math.isnan(kendall_w([[1, 2, 3]])["w"])               # one rater
    assert math.isnan(kendall_w([[1], [2]])["w"])                 # one object
    assert math.isnan(kendall_w([[1, 1, 1], [2, 2, 2]])["w"])     # nothing is ranked
    # Perfect disagreement of two raters on 2 objects: R = (3, 3), S = 0.
    assert kendall_w([[1, 2], [2, 1]])["w"] == pytest.approx(0.0)


# ---- the table on a synthetic run -------------------------------------------------------------
#: Per-seed means (seed 0, 1, 2) of each explainer. comprehensiveness (↑): every seed ranks
#: lime > occlusion > random, W = 1. sufficiency (↓): seed rankings (lime, occlusion, random) are
#: (1, 2, 3), (2, 1, 3), (1, 3, 2): R = (4, 6, 8), S = 4 + 0 + 4 = 8, W = 12·8 / (9·(27 − 3)) = 4/9.
MEANS = {
    "comprehensiveness": {"lime": [0.50, 0.45, 0.55], "occlusion": [0.40, 0.42, 0.35], "random": [0.10, 0.05, 0.12]},
    "sufficiency": {"lime": [0.10, 0.20, 0.10], "occlusion": [0.20, 0.10, 0.30], "random": [0.30, 0.30, 0.20]},
    "runtime_seconds": {"lime": [2.0, 2.1, 1.9], "occlusion": [0.5, 0.6, 0.4], "random": [0.01, 0.02, 0.01]},
}
HIGHER = {"comprehensiveness": True, "sufficiency": False, "runtime_seconds": False}


def synthetic_per_example() -> pd.DataFrame:
    rows = []
    for metric, by_explainer in MEANS.items():
        for explainer, means in by_explainer.items():
            for seed, mean in enumerate(means):
                model = "minilm-reviews-en" if seed == 0 else f"minilm-reviews-en-seed{seed}"
                for i, offset in enumerate([-0.01, 0.01, -0.005, 0.005]):
                    rows.append({"dataset": "reviews-en", "model": model, "explainer": explainer, "device": "cpu",
                                 "base_model": "minilm-reviews-en", "model_seed": seed,
                                 "task_type": "classification", "metric": metric, "example_id": f"e{i}",
                                 "value": mean + offset, "random_reference": np.nan, "status": "ok", "note": None,
                                 "higher_is_better": HIGHER[metric], "circular": None})
    return pd.DataFrame(rows)


def test_seed_table_on_a_synthetic_run():
    per_example = synthetic_per_example()
    assert has_model_seeds(per_example)
    table = seed_table(per_example)
    assert list(table.columns) == COLUMNS and len(table) == 3 * 3
    row = table.set_index(["metric", "explainer"]).loc[("comprehensiveness", "lime")]
    assert row["mean"] == pytest.approx(0.5) and row["sd"] == pytest.approx(0.05)
    assert (row["min"], row["max"], row["k"]) == (pytest.approx(0.45), pytest.approx(0.55), 3)
    w = table.groupby("metric")["kendall_w"].first()
    assert w["comprehensiveness"] == pytest.approx(1.0)
    assert w["sufficiency"] == pytest.approx(4 / 9)
    assert math.isnan(w["runtime_seconds"])  # cost: no W
    suff = table[table["metric"] == "sufficiency"].iloc[0]
    assert suff["w_chi2"] == pytest.approx(3 * 2 * 4 / 9) and suff["w_df"] == 2
    assert suff["w_p_value"] == pytest.approx(math.exp(-(8 / 3) / 2))  # χ² with 2 df: sf(x) = e^(−x/2)
    assert (suff["w_n_explainers"], suff["w_n_seeds"]) == (3, 3)

    md = markdown_section(table)
    assert md.startswith("\n### Model-seed variance (3 seeds)\n")
    assert "#### reviews-en · minilm-reviews-en" in md
    assert "0.500 ± 0.050" in md and "comprehensiveness ↑" in md and "sufficiency ↓" in md
    assert "| Kendall's W" in md and "1.00 (p = 0.05)" in md and "0.44 (p = 0.26)" in md
    assert "runtime_seconds" not in md


def test_explainer_missing_under_one_seed_is_no_object_of_w():
    per_example = synthetic_per_example()
    drop = (per_example["model_seed"] == 1) & (per_example["explainer"] == "random")
    per_example.loc[drop, ["value", "status"]] = [np.nan, "error"]
    table = seed_table(per_example)
    suff = table[table["metric"] == "sufficiency"]
    # Left: lime and occlusion ranked (1, 2), (2, 1), (1, 2) -> R = (4, 5), S = 0.5, W = 6 / (9·6) = 1/9.
    assert suff["kendall_w"].iloc[0] == pytest.approx(1 / 9) and suff["w_n_explainers"].iloc[0] == 2
    assert suff.set_index("explainer").loc["random", "k"] == 2


def test_one_seed_runs_have_no_seed_report():
    per_example = synthetic_per_example()
    one = per_example[per_example["model_seed"] == 0]
    assert not has_model_seeds(one) and seed_table(one).empty and markdown_section(seed_table(one)) == ""
    assert not has_model_seeds(one.drop(columns=["base_model", "model_seed"]))


# ---- the run folder ---------------------------------------------------------------------------
def run_seeds(models: list, tmp_path, explainers=("random", "occlusion", "saliency")):
    from xaibench.core.records import Example
    from xaibench.datasets.base import Dataset
    from xaibench.harness.cache import ResultCache
    from xaibench.harness.config import RunConfig, Task
    from xaibench.harness.session import BenchmarkSession
    from xaibench.report.writer import write_run

    names = ["tiny" if s == 0 else f"tiny-seed{s}" for s in range(len(models))]
    config = RunConfig(profile="smoke", tasks=[Task("mine", name, s) for s, name in enumerate(names)],
                       explainers={e: {} for e in explainers}, metrics=["comprehensiveness", "sufficiency"],
                       n=None, seed=0, out=str(tmp_path / "run"), use_cache=False, model_seeds=len(models))
    session = BenchmarkSession(config, cache=ResultCache(tmp_path / "cache", read=False))
    for name, model in zip(names, models):
        session.use_model(name, model)
    texts = ["the product is very good", "awful quality , never again", "great price and fast delivery",
             "it was ok but slow"]
    session.use_dataset("mine", Dataset(name="mine", examples=[Example(f"e{i}", t, 1) for i, t in enumerate(texts)],
                                        label_names=["negative", "positive"]))
    for cell in session.cells():
        session.run_cell(cell, progress=False)
    return write_run(session.record)


def test_run_with_three_seeds_writes_model_seeds_csv(tmp_path, one_torch_thread):
    from xaibench.testing import tiny_classifier

    out = run_seeds([tiny_classifier(num_labels=2, seed=s) for s in range(3)], tmp_path)
    per_example = read_per_example(out)
    assert sorted(per_example["model_seed"].unique()) == [0, 1, 2]
    assert set(per_example["base_model"]) == {"tiny"}
    table = pd.read_csv(os.path.join(out, "model_seeds.csv"))
    assert list(table.columns) == COLUMNS and len(table) == 3 * 2
    assert set(table["k"]) == {3} and set(table["base_model"]) == {"tiny"}
    summary = pd.read_csv(os.path.join(out, "summary.csv"))
    expected = summary[(summary.explainer == "occlusion") & (summary.metric == "comprehensiveness")]["mean"]
    row = table[(table.explainer == "occlusion") & (table.metric == "comprehensiveness")].iloc[0]
    assert row["mean"] == pytest.approx(expected.mean()) and row["sd"] == pytest.approx(expected.std(ddof=1))
    md = open(os.path.join(out, "summary.md"), encoding="utf-8").read()
    assert "### Model-seed variance (3 seeds)" in md and "#### mine · tiny" in md
    html = open(os.path.join(out, "report.html"), encoding="utf-8").read()
    assert "Model-seed variance: mine · tiny" in html and "Kendall&#39;s W" in html
    # the cell a reader sees is the mean ± sd of the seeds' means, as in model_seeds.csv
    from xaibench.report.tables import _fmt

    assert f"{_fmt(row['mean'])} ± {_fmt(row['sd'])}" in html
    provenance = json.load(open(os.path.join(out, "provenance.json"), encoding="utf-8"))
    assert provenance["model_seeds"] == {"k": 3, "models": {"tiny": ["tiny", "tiny-seed1", "tiny-seed2"]}}
    assert provenance["config"]["model_seeds"] == 3


def test_one_seed_run_has_seed_columns_but_no_seed_report(tmp_path, tiny_model, one_torch_thread):
    out = run_seeds([tiny_model], tmp_path, explainers=("random", "occlusion"))
    per_example = read_per_example(out)
    assert set(per_example["model_seed"]) == {0} and set(per_example["base_model"]) == {"tiny"}
    assert not os.path.exists(os.path.join(out, "model_seeds.csv"))
    assert "Model-seed variance" not in open(os.path.join(out, "summary.md"), encoding="utf-8").read()
    assert "Model-seed variance" not in open(os.path.join(out, "report.html"), encoding="utf-8").read()


def test_a_seed_run_kept_inside_a_results_folder_survives_its_rerun_and_is_shown(tmp_path, tiny_model,
                                                                                 one_torch_thread):
    """results/reference/model_seeds: the seed run inside the reference folder, shown by it."""
    import shutil

    from xaibench.testing import tiny_classifier

    seeds_out = run_seeds([tiny_classifier(num_labels=2, seed=s) for s in range(3)], tmp_path / "seeds")
    parent = tmp_path / "run"
    first = run_seeds([tiny_model], tmp_path, explainers=("random", "occlusion"))
    assert first == str(parent)
    shutil.copytree(seeds_out, parent / "model_seeds")
    run_seeds([tiny_model], tmp_path, explainers=("random", "occlusion"))  # rerun into the same folder
    assert (parent / "model_seeds" / "model_seeds.csv").is_file(), "a rerun keeps the seed run"
    md = (parent / "summary.md").read_text(encoding="utf-8")
    assert "### Model-seed variance (3 seeds; a separate run: model_seeds/)" in md
    assert "a task of its own in model_seeds/summary.md" in md
    html = (parent / "report.html").read_text(encoding="utf-8")
    assert "Model-seed variance (model_seeds/): mine · tiny" in html
