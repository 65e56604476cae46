"""Failures stay contained in a benchmark session: a metric or an explainer that raises on one
example turns that example's rows into ``status=error`` rows with the error message; every other
example, metric and explainer keeps its values, and the run folder counts and names the failures."""
from pathlib import Path

import pandas as pd

from xaibench.report.writer import write_run
from xaibench.report.result_files import read_per_example


def test_a_metric_that_raises_on_one_example_is_contained(tiny_model, run_tiny_session, tmp_path, monkeypatch):
    from xaibench.metrics.faithfulness import Comprehensiveness

    original = Comprehensiveness.compute

    def flaky(self, model, attribution, request, outputs):
        if "awful" in attribution.text:
            raise RuntimeError("cannot score an awful text")
        return original(self, model, attribution, request, outputs)

    monkeypatch.setattr(Comprehensiveness, "compute", flaky)
    texts = ["the movie was great", "an awful phone", "nice price", "fast delivery"]
    session = run_tiny_session(tiny_model, tmp_path, texts)
    rows = pd.DataFrame(session.per_example)
    comp = rows[rows.metric == "comprehensiveness"]
    failed = comp[comp.status == "error"]
    assert sorted(failed.example_id.unique()) == ["e1"] and len(failed) == 2   # one per explainer
    assert failed.note.str.contains("RuntimeError: cannot score an awful text").all()
    assert (rows[rows.metric != "comprehensiveness"].status == "ok").all()      # other metrics untouched
    assert comp[comp.status != "error"].value.notna().all()
    out = Path(write_run(session.record))
    summary = pd.read_csv(out / "summary.csv")
    counts = summary.set_index(["explainer", "metric"])["n_failed"]
    assert counts[("occlusion", "comprehensiveness")] == 1 and counts[("occlusion", "sufficiency")] == 0
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert "### Failures" in md and "comprehensiveness: 1 example(s) failed, e.g. e1" in md


def test_an_explainer_that_raises_on_one_example_is_contained(tiny_model, run_tiny_session, tmp_path, monkeypatch):
    from xaibench.explainers.occlusion import Occlusion

    original = Occlusion.explain

    def flaky(self, model, texts, *args, **kwargs):
        if any("awful" in t for t in texts):
            raise ValueError("occlusion broke on purpose")
        return original(self, model, texts, *args, **kwargs)

    monkeypatch.setattr(Occlusion, "explain", flaky)
    session = run_tiny_session(tiny_model, tmp_path, ["great movie", "an awful phone", "nice price"])
    rows = read_per_example(Path(write_run(session.record)))
    occ = rows[rows.explainer == "occlusion"]
    assert set(occ[occ.status == "error"].example_id) == {"e1"}
    assert occ[occ.status == "error"].note.str.contains("ValueError: occlusion broke on purpose").all()
    assert (rows[rows.explainer == "random"].status == "ok").all()
