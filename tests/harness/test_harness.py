"""The benchmark harness end to end on a tiny model: session -> rows -> run folder -> compare."""
import json
import os

import pandas as pd
import pytest

from xaibench.core.errors import OptionError
from xaibench.harness.cache import ResultCache
from xaibench.harness.config import RunConfig, Task, resolve
from xaibench.harness.session import BenchmarkSession
from xaibench.report.compare import compare
from xaibench.report.writer import write_run
from xaibench.report.result_files import read_per_example

METRICS = ["comprehensiveness", "sufficiency", "deletion_auc", "insertion_auc"]


def make_session(tiny_model, tmp_path, explainers=("random", "occlusion"), n=6, use_cache=True, metrics=METRICS):
    config = RunConfig(profile="smoke", tasks=[Task("reviews-en", "tiny")], explainers={e: {} for e in explainers},
                       metrics=list(metrics), n=n, seed=0, out=str(tmp_path / "run"), use_cache=use_cache)
    session = BenchmarkSession(config, cache=ResultCache(tmp_path / "cache", read=use_cache))
    session.use_model("tiny", tiny_model)
    return session


def run_all(session):
    for cell in session.cells():
        session.run_cell(cell, progress=False)
    return write_run(session.record)


def test_run_folder_has_every_output_and_recomputable_tables(tiny_model, tmp_path):
    session = make_session(tiny_model, tmp_path)
    out = run_all(session)
    for name in ["summary.md", "summary.csv", "summary.tex", "per_example.csv", "per_example.parquet", "provenance.json",
                 "curves.parquet", "attributions.parquet", "examples.parquet", "ranks.csv", "cost.csv", "report.html",
                 "leaderboard.md", "leaderboard.tex"]:
        assert os.path.getsize(os.path.join(out, name)) > 0, name
    per_example = read_per_example(out)
    # the contract's CSV holds the same rows as the Parquet file read_results uses
    pd.testing.assert_frame_equal(pd.read_csv(os.path.join(out, "per_example.csv"))[["metric", "value"]],
                                  per_example[["metric", "value"]])
    assert len(per_example) == 2 * len(METRICS) * 6
    summary = pd.read_csv(os.path.join(out, "summary.csv"))
    for _, row in summary.iterrows():  # the table is the mean of the stored per-example values
        values = per_example[(per_example.explainer == row.explainer) & (per_example.metric == row.metric)]["value"]
        assert row["mean"] == pytest.approx(values.mean(), abs=1e-12)
        assert row["ci_low"] <= row["mean"] <= row["ci_high"]
    assert {"rank", "p_value_vs_best", "random_reference"} <= set(summary.columns)
    prov = json.load(open(os.path.join(out, "provenance.json")))
    assert prov["packages"]["torch"] and prov["config"]["seed"] == 0 and "reviews-en" in prov["datasets"]
    md = open(os.path.join(out, "summary.md"), encoding="utf-8").read()
    assert "comprehensiveness ↑" in md and "sufficiency ↓" in md and "occlusion" in md
    tex = open(os.path.join(out, "summary.tex"), encoding="utf-8").read()
    assert "\\toprule" in tex and "deletion\\_auc" in tex and "\\textbf{" in tex
    # the removal a pasted faithfulness table used is in its caption, and in the page and summary.md
    assert "faithfulness. Mean" in tex and "Removal: delete (cut out of the text)." in tex
    assert "remove units with the `delete` rule" in md
    assert "remove units with the delete rule" in open(os.path.join(out, "report.html"), encoding="utf-8").read()


def test_rerun_reads_the_cache_and_gives_identical_values(tiny_model, tmp_path):
    start = tiny_model.n_forward
    first = make_session(tiny_model, tmp_path)
    run_all(first)
    assert tiny_model.n_forward > start, "the first run computes"
    before = tiny_model.n_forward, tiny_model.n_backward
    second = make_session(tiny_model, tmp_path)
    run_all(second)
    assert (tiny_model.n_forward, tiny_model.n_backward) == before, "a fully cached re-run must not call the model"
    a = pd.DataFrame(first.per_example)
    b = pd.DataFrame(second.per_example)
    pd.testing.assert_frame_equal(a, b)


def test_cached_metric_values_belong_to_the_explanations_they_score(tiny_model, tmp_path):
    """A run that recomputes the explanations without rescoring a metric (--xb-no-cache with other
    metrics) must not leave that metric's cached values paired with the new explanations: the
    runtime a later cached run reports is the runtime of the explanations it reports."""
    def runtime_vs_cost(session) -> tuple[list, list]:
        rows = pd.DataFrame(session.per_example)
        runtime = rows[(rows.explainer == "occlusion") & (rows.metric == "runtime_seconds")]
        costs = {r["example_id"]: r["cost"]["seconds"] for r in session.record.attribution_rows
                 if r["explainer"] == "occlusion"}
        return runtime["value"].tolist(), [costs[e] for e in runtime["example_id"]]

    def session_with(metrics, use_cache):
        return make_session(tiny_model, tmp_path, explainers=("occlusion",), use_cache=use_cache, metrics=metrics)

    first = session_with(["runtime_seconds", "comprehensiveness"], True)
    run_all(first)
    values, costs = runtime_vs_cost(first)
    assert values == pytest.approx(costs, rel=1e-12)
    # Recompute the explanations (the cache is written, not read) scoring another metric only.
    run_all(session_with(["sufficiency"], False))
    third = session_with(["runtime_seconds", "comprehensiveness"], True)
    run_all(third)
    values, costs = runtime_vs_cost(third)
    assert values == pytest.approx(costs, rel=1e-12), "runtime of the earlier explanations, paired with new ones"
    assert values != pytest.approx(runtime_vs_cost(first)[0], rel=1e-12), "timings of two computations differ"
    # A plain rerun still reads everything back: same explanations, same metric values.
    fourth = session_with(["runtime_seconds", "comprehensiveness"], True)
    before = tiny_model.n_forward
    run_all(fourth)
    assert tiny_model.n_forward == before
    assert runtime_vs_cost(fourth) == runtime_vs_cost(third)


def test_corrupted_cache_entry_is_recomputed(tiny_model, tmp_path):
    run_all(make_session(tiny_model, tmp_path))
    entries = sorted((tmp_path / "cache" / "explanations").rglob("*.json"))
    entries[0].write_text(entries[0].read_text()[:-20] + "garbage", encoding="utf-8")
    again = make_session(tiny_model, tmp_path)
    run_all(again)
    assert again.cache.corrupt == 1
    assert len(again.per_example) == 2 * len(METRICS) * 6


def test_a_failing_explainer_is_contained(tiny_model, tmp_path, monkeypatch):
    from xaibench.explainers.occlusion import Occlusion

    original = Occlusion.explain

    def flaky(self, model, texts, *args, **kwargs):
        if any("the" in t.lower().split() for t in texts):
            raise RuntimeError("boom on a 'the' sentence")
        return original(self, model, texts, *args, **kwargs)

    monkeypatch.setattr(Occlusion, "explain", flaky)
    session = make_session(tiny_model, tmp_path, use_cache=False)
    run_all(session)
    rows = pd.DataFrame(session.per_example)
    occ = rows[rows.explainer == "occlusion"]
    assert (occ.status == "error").any() and (occ.status != "error").any()
    assert occ[occ.status == "error"].note.str.contains("boom").all()
    assert (rows[rows.explainer == "random"].status != "error").all()


def test_compare_flags_regressions_beyond_the_baseline_ci():
    base = pd.DataFrame([{"dataset": "d", "model": "m", "explainer": "e", "metric": "comprehensiveness",
                          "mean": 0.30, "ci_low": 0.25, "ci_high": 0.35, "higher_is_better": True},
                         {"dataset": "d", "model": "m", "explainer": "e", "metric": "deletion_auc",
                          "mean": 0.40, "ci_low": 0.35, "ci_high": 0.45, "higher_is_better": False}])
    new = base.copy()
    new.loc[0, "mean"] = 0.24   # worse by more than the CI half-width
    new.loc[1, "mean"] = 0.44   # worse, but within the CI
    result = compare(base, new)
    assert result.regressions["metric"].tolist() == ["comprehensiveness"]
    assert compare(base, new, tolerance=0.1).regressions.empty
    assert "1 regression" in result.report()


def test_options_are_validated_with_clear_messages():
    with pytest.raises(OptionError, match="--xb-profile must be one of"):
        resolve({"profile": "fast"})
    with pytest.raises(OptionError, match="--xb-n must be a positive integer"):
        resolve({"n": "0"})
    with pytest.raises(KeyError, match="did you mean 'occlusion'"):
        resolve({"explainers": "occlusionn"})
    cfg = resolve({"profile": "quick", "explainers": "random,occlusion", "n": "all"})
    assert cfg.n is None and list(cfg.explainers) == ["random", "occlusion"]
    assert [t.model for t in cfg.tasks] == ["minilm-reviews-en", "charbert-reviews-zh", "minilm-ratings-en",
                                            "minilm-sentiment3-en", "minilm-planted-en", "charbert-planted-zh"]
    assert [t.dataset for t in resolve({}).tasks] == ["reviews-en", "reviews-zh"]  # smoke (CI) unchanged
