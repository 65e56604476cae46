"""Budgeted runs (``--xb-budget``, ``--xb-ci-target``): rounds over nested examples, each stop
condition, values identical to a fixed-n run of the examples reached, and what the run folder says."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from xaibench.core.errors import OptionError
from xaibench.harness.budget import BudgetedRun, budget_markdown, parse_ci_target, parse_duration, round_state
from xaibench.harness.cache import ResultCache
from xaibench.harness.config import RunConfig, Task, resolve
from xaibench.harness.run_record import metric_row
from xaibench.harness.session import BenchmarkSession
from xaibench.report.writer import write_run

METRICS = ["comprehensiveness", "sufficiency"]


def session_for(tiny_model, tmp_path, n=None, budget: BudgetedRun | None = None, cache="cache"):
    config = RunConfig(profile="smoke", tasks=[Task("reviews-en", "tiny")],
                       explainers={"random": {}, "occlusion": {}}, metrics=METRICS, n=n, seed=0,
                       out=str(tmp_path / "run"))
    session = BenchmarkSession(config, cache=ResultCache(tmp_path / cache))
    session.use_model("tiny", tiny_model)
    session.budgeted = budget
    return session


def run(session):
    outcomes = [session.run_cell(cell, progress=False) for cell in session.cells()]
    return outcomes


def values(session) -> dict:
    return {(r["explainer"], r["metric"], r["example_id"]): r["value"] for r in session.record.per_example}


@pytest.mark.parametrize("text, seconds", [("15m", 900), ("90s", 90), ("1.5h", 5400), ("1h30m", 5400),
                                           ("120", 120), (" 2m ", 120)])
def test_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["15 minutes", "m", "0s", "-5m", "15mm", "1x"])
def test_bad_durations_name_the_option(text):
    with pytest.raises(OptionError, match="--xb-budget"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["0", "-0.1", "wide", "nan"])
def test_bad_ci_targets_name_the_option(text):
    with pytest.raises(OptionError, match="--xb-ci-target"):
        parse_ci_target(text)


def test_options_resolve_and_a_budgeted_run_caps_n_only_when_asked():
    cfg = resolve({"profile": "quick", "explainers": "random", "budget": "15m"})
    assert cfg.budget_seconds == 900 and cfg.n is None  # the profile's 64 is not a cap
    cfg = resolve({"profile": "quick", "explainers": "random", "ci_target": "0.02", "n": "300"})
    assert cfg.ci_target == 0.02 and cfg.n == 300 and cfg.budget_seconds is None
    assert resolve({"profile": "quick", "explainers": "random"}).n == 64
    pytest.importorskip("ray")
    with pytest.raises(OptionError, match="do not combine with --xb-ray"):
        resolve({"explainers": "random", "budget": "5m", "ray": "local"})
    with pytest.raises(OptionError, match="--xb-explainer-settings"):
        resolve({"explainers": "lime", "explainer_settings": "cheapest"})
    cheap = resolve({"profile": "quick", "explainers": "lime"}).explainers["lime"]
    default = resolve({"profile": "quick", "explainers": "lime", "explainer_settings": "default"}).explainers["lime"]
    assert cheap and default == {}  # default settings: the constructor's (LIME 1000 samples)


def test_rounds_until_the_examples_run_out_equal_a_fixed_n_run(tiny_model, tmp_path):
    budget = BudgetedRun(ci_target=1e-9, max_n=40)  # a target no run reaches: only the cap ends it
    session = session_for(tiny_model, tmp_path, budget=budget)
    outcomes = run(session)
    report = budget.report
    assert report["stopped_because"] == "examples_exhausted"
    assert [r["examples_per_task"] for r in report["rounds"]] == [16, 32, 40]
    assert report["examples_per_task"] == {"reviews-en": 40}
    assert all(len(o.example_ids) == 40 for o in outcomes)
    # The same 40 examples as --xb-n 40 (nested sample), chunked alike: identical values, computed
    # afresh (another cache).
    fixed = session_for(tiny_model, tmp_path, n=40, cache="cache2")
    run(fixed)
    assert values(session) == values(fixed)
    assert session.record.dataset_info["reviews-en"]["fingerprint"] == \
        fixed.record.dataset_info["reviews-en"]["fingerprint"]
    assert session.record.dataset_info["reviews-en"]["n"] == 40


def test_a_met_target_ends_the_run_after_one_round(tiny_model, tmp_path):
    budget = BudgetedRun(ci_target=10.0)
    run(session_for(tiny_model, tmp_path, budget=budget))
    assert budget.report["stopped_because"] == "ci_target"
    assert [r["examples_per_task"] for r in budget.report["rounds"]] == [16]
    assert budget.report["rounds"][0]["widest_half_width"] <= 10.0


def test_a_spent_budget_ends_the_run_and_the_folder_says_why(tiny_model, tmp_path):
    budget = BudgetedRun(seconds=1e-6, ci_target=1e-9)
    session = session_for(tiny_model, tmp_path, budget=budget)
    run(session)
    assert budget.report["stopped_because"] == "budget"
    assert budget.report["examples_per_task"] == {"reviews-en": 16}
    out = write_run(session.record)
    with open(f"{out}/provenance.json", encoding="utf-8") as fh:
        provenance = json.load(fh)
    assert provenance["budget"]["stopped_because"] == "budget"
    assert provenance["datasets"]["reviews-en"]["n"] == 16 and provenance["datasets"]["reviews-en"]["n_available"] > 16
    with open(f"{out}/summary.md", encoding="utf-8") as fh:
        summary = " ".join(fh.read().split())  # prose is wrapped at 120 columns
    assert "**Budgeted run**" in summary and "time budget would not fit another round" in summary
    assert "`--xb-n 16` reruns the same examples" in summary
    assert len(pd.read_parquet(f"{out}/per_example.parquet")["example_id"].unique()) == 16
    with open(f"{out}/report.html", encoding="utf-8") as fh:
        page = fh.read()
    # Seen before any table: the subtitle names the examples reached and the stop reason.
    assert page.index("budgeted run: 16 examples per task, stopped because the time budget") < page.index("<table")


def test_a_rerun_reads_every_round_from_the_cache(tiny_model, tmp_path):
    first = BudgetedRun(ci_target=1e-9, max_n=32)
    run(session_for(tiny_model, tmp_path, budget=first))
    again = BudgetedRun(ci_target=1e-9, max_n=32)
    session = session_for(tiny_model, tmp_path, budget=again)
    calls = []
    original = session._explain_chunk

    def counting(model, explainer, chunk, chunk_key, columns, outcome, shared, out):
        computed, made = original(model, explainer, chunk, chunk_key, columns, outcome, shared, out)
        calls.append(computed)
        return computed, made

    session._explain_chunk = counting
    run(session)
    assert calls and not any(calls)  # every chunk of every round came from the cache


def _rows(means: dict, n: int = 12, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for explainer, mean in means.items():
        columns = {"dataset": "d", "model": "m", "explainer": explainer, "device": "cpu"}
        noise = rng.normal(0, 0.01, n)
        rows += [metric_row(columns, "comprehensiveness", f"e{i}", higher_is_better=True, value=mean + noise[i])
                 for i in range(n)]
    return pd.DataFrame(rows)


def test_a_ranking_is_resolved_only_when_the_leader_is_significantly_ahead():
    resolved = round_state(_rows({"a": 0.9, "b": 0.5, "c": 0.1}))
    assert (resolved["rankings"], resolved["rankings_resolved"]) == (1, 1)
    tied = round_state(_rows({"a": 0.9, "b": 0.9, "c": 0.1}))
    assert (tied["rankings"], tied["rankings_resolved"]) == (1, 0)
    assert tied["widest_half_width"] > 0 and tied["widest"].startswith("comprehensiveness / ")


def test_budget_markdown_lists_every_round():
    text = budget_markdown({"budget_seconds": 900, "ci_target": None, "max_n": None, "stopped_because": "budget",
                            "stop_reason": "the time budget would not fit another round", "seconds": 880,
                            "examples_per_task": {"a": 96, "b": 96},
                            "rounds": [{"examples_per_task": 16, "seconds": 60, "widest_half_width": 0.2,
                                        "widest": "x / y / a", "rankings": 4, "rankings_resolved": 1},
                                       {"examples_per_task": 96, "seconds": 700, "widest_half_width": 0.08,
                                        "widest": "x / y / a", "rankings": 4, "rankings_resolved": 3}]})
    assert "budget 15.0 min" in text and "stopped after 2 rounds" in text and "96 examples per task" in text
    assert "| 2 | 96 | 700 | ±0.08 | 3/4 |" in text
    assert "overran" not in text


def test_budget_markdown_says_when_the_first_round_overran():
    text = budget_markdown({"budget_seconds": 60, "ci_target": None, "max_n": None, "stopped_because": "budget",
                            "stop_reason": "the time budget would not fit another round", "seconds": 150,
                            "examples_per_task": {"a": 16},
                            "rounds": [{"examples_per_task": 16, "seconds": 150, "widest_half_width": 0.2,
                                        "widest": "x / y / a", "rankings": 4, "rankings_resolved": 1}]})
    assert "overran the budget by 90 s" in text and "the first round alone took 2.5 min" in text
