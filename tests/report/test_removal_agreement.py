"""The removal-agreement table: Kendall τ between explainer rankings under two removals."""
from __future__ import annotations

import pandas as pd
import pytest
from scipy.stats import kendalltau

from xaibench.core import registry
from xaibench.metrics.base import Metric
from xaibench.report import removal_agreement as ra


@pytest.fixture
def variant_metric(monkeypatch):
    registry.metrics.names()
    monkeypatch.setattr(registry.metrics, "_factories", dict(registry.metrics._factories))
    monkeypatch.setattr(registry.metrics, "_specs", dict(registry.metrics._specs))

    class FakeSoftComprehensiveness(Metric):
        name = "fake_soft_comprehensiveness"
        family = "faithfulness"
        variant_of = "comprehensiveness"
        removal = "soft"
        in_default_runs = False

    registry.metrics.register(FakeSoftComprehensiveness)
    return FakeSoftComprehensiveness.name


def _summary(means: dict[str, dict[str, float]], dataset: str = "d") -> pd.DataFrame:
    return pd.DataFrame([{"dataset": dataset, "model": "m", "device": "cpu", "explainer": e, "metric": metric,
                          "mean": v, "higher_is_better": True, "circular": None, "not_applicable": None}
                         for metric, by_explainer in means.items() for e, v in by_explainer.items()])


def test_tau_compares_rankings_and_names_a_changed_best(variant_metric):
    base = {"lime": 0.5, "shap": 0.45, "ig": 0.4, "attention": 0.2, "random": 0.05}
    soft = {"lime": 0.30, "shap": 0.20, "ig": 0.35, "attention": 0.25, "random": 0.01}
    table = ra.removal_agreement(_summary({"comprehensiveness": base, variant_metric: soft}))
    assert len(table) == 1
    row = table.iloc[0]
    order = list(base)
    expected = kendalltau([base[e] for e in order], [soft[e] for e in order]).statistic
    assert row["kendall_tau"] == pytest.approx(expected)
    assert (row["metric"], row["variant"], row["removal"], row["variant_removal"]) == (
        "comprehensiveness", variant_metric, "delete", "soft")
    assert (row["best"], row["variant_best"]) == ("lime", "ig")
    sentences = ra.disagreements(table)
    assert len(sentences) == 1 and "the best explainer is ig, not lime" in sentences[0]
    section = ra.markdown_section(table, {"delete": ["lime", "shap"]})
    assert "comprehensiveness [soft]" in section and "lime, shap perturb text" in section


def test_identical_rankings_agree(variant_metric):
    base = {"a": 0.5, "b": 0.4, "c": 0.1}
    table = ra.removal_agreement(_summary({"comprehensiveness": base,
                                           variant_metric: {k: v / 2 for k, v in base.items()}}))
    assert table.iloc[0]["kendall_tau"] == pytest.approx(1.0)
    assert ra.disagreements(table) == []
    assert "Every variant agrees" in ra.markdown_section(table)


def test_lower_is_better_metrics_compare_rankings_not_raw_means(variant_metric, monkeypatch):
    summary = _summary({"comprehensiveness": {"a": 0.1, "b": 0.2, "c": 0.3},
                        variant_metric: {"a": 0.1, "b": 0.2, "c": 0.3}})
    summary["higher_is_better"] = False
    table = ra.removal_agreement(summary)
    assert table.iloc[0]["kendall_tau"] == pytest.approx(1.0) and table.iloc[0]["best"] == "a"


def test_no_variant_no_table():
    assert ra.removal_agreement(_summary({"comprehensiveness": {"a": 0.1, "b": 0.2}})).empty
    assert ra.markdown_section(ra.removal_agreement(_summary({"comprehensiveness": {"a": 0.1}}))) == ""
