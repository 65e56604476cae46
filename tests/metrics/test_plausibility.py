"""Plausibility metrics (ERASER AUPRC, token F1, token IOU) and the VADER-lexicon proxy against
hand-computed values, and rationales travelling from a user file through the benchmark session."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import xaibench as xb
from xaibench.core.records import Example
from xaibench.core.references import rationale_spans, with_references
from xaibench.datasets.vader_lexicon import vader_lexicon
from xaibench.harness.cache import ResultCache
from xaibench.harness.config import RunConfig, Task
from xaibench.metrics.plausibility import auprc

TEXT = "a good movie but bad acting"  # units: a good movie but bad acting


def with_rationale(model, scores, rationale=("good", "bad acting"), text=TEXT):
    a = xb.attribution_from_scores(model, text, scores, target=1)
    return with_references([a], [Example("x", text, 1, tuple(rationale))])[0]


def test_rationale_pieces_mark_every_occurrence():
    assert rationale_spans("good and good, not bad", ["good", "bad"]) == [(0, 4), (9, 13), (19, 22)]
    assert rationale_spans("abc", ["", "  "]) == []
    with pytest.raises(ValueError, match="rationale piece 'zz' is not a substring"):
        rationale_spans("abc", ["zz"])


def test_auprc_by_hand(tiny_model):
    metric = xb.get_metric("plausibility_auprc")
    # rationale units {good, bad, acting} ranked on top: precision 1 at every recall -> 1
    perfect = with_rationale(tiny_model, [0.1, 0.9, 0.2, 0.0, 0.8, 0.3])
    # ranked a, movie, but, bad, good, acting: PR points (0, 1), (0, 0), (1/3, 1/4), (2/3, 2/5), (1, 1/2);
    # trapezoids over recall: 1/3 * (0 + 1/4)/2 + 1/3 * (1/4 + 2/5)/2 + 1/3 * (2/5 + 1/2)/2 = 0.3
    late = with_rationale(tiny_model, [0.9, 0.1, 0.8, 0.7, 0.6, 0.0])
    values = metric.score(tiny_model, [perfect, late])
    assert values.tolist() == [pytest.approx(1.0), pytest.approx(0.3)]
    # points (0,1), (0,0), (1/2,1/2), (1/2,1/3), (1,1/2): the vertical steps add nothing
    assert auprc(np.array([0, 1, 0, 1]), np.array([0.4, 0.3, 0.2, 0.1])) == pytest.approx(
        0.5 * (0 + 0.5) / 2 + 0.5 * (1 / 3 + 0.5) / 2)


def test_token_f1_and_iou_by_hand(tiny_model):
    a = with_rationale(tiny_model, [0.9, 0.8, 0.1, 0.7, 0.6, 0.0])  # top 3: a, good, but; overlap 1 of 3
    f1, iou = xb.get_metric("plausibility_token_f1"), xb.get_metric("plausibility_iou")
    assert f1.score(tiny_model, [a]).tolist() == [pytest.approx(1 / 3)]  # k = |R| = 3: P = R = 1/3
    assert iou.score(tiny_model, [a]).tolist() == [pytest.approx(1 / 5)]  # 1 / |{a, good, but, bad, acting}|
    # fixed k = 2: top 2 = a, good: P = 1/2, R = 1/3, F1 = 2PR/(P+R) = 0.4; IOU = 1/4
    assert xb.get_metric("plausibility_token_f1", k=2).score(tiny_model, [a]).tolist() == [pytest.approx(0.4)]
    assert xb.get_metric("plausibility_iou", k=2).score(tiny_model, [a]).tolist() == [pytest.approx(0.25)]
    # random references: n = 6, m = k = 3; overlap ~ hypergeometric, P(x) = [1, 9, 9, 1] / 20
    assert f1.evaluate(tiny_model, [a]).random_reference[0] == pytest.approx(0.5)
    assert iou.evaluate(tiny_model, [a]).random_reference[0] == pytest.approx((9 / 5 + 9 / 2 + 1) / 20)
    with pytest.raises(ValueError, match="k must be a positive integer or None"):
        xb.get_metric("plausibility_iou", k=0)


def test_lexicon_agreement_uses_strong_vader_words(tiny_model):
    lexicon = vader_lexicon()
    assert lexicon["good"] >= 1.5 and lexicon["bad"] <= -1.5
    assert all(abs(lexicon.get(w, 0.0)) < 1.5 for w in ("a", "movie", "but", "acting"))
    metric = xb.get_metric("lexicon_agreement_auprc")
    on_top = xb.attribution_from_scores(tiny_model, TEXT, [0.1, 0.9, 0.2, 0.0, 0.8, 0.3])
    # ranked a, movie, but, bad, good, acting; reference {good, bad}: points (0,1), (0,0), (1/2,1/4),
    # (1,2/5), (1,1/3) -> 1/2 * (0 + 1/4)/2 + 1/2 * (1/4 + 2/5)/2 = 0.225
    late = xb.attribution_from_scores(tiny_model, TEXT, [0.9, 0.1, 0.8, 0.7, 0.6, 0.0])
    other = xb.attribution_from_scores(tiny_model, "这个很好", [1.0, 0.0, 0.0, 0.0])
    neutral = xb.attribution_from_scores(tiny_model, "the movie", [1.0, 0.0])
    result = metric.evaluate(tiny_model, [on_top, late, other, neutral])
    assert result.values[:2].tolist() == [pytest.approx(1.0), pytest.approx(0.225)]
    assert np.isnan(result.values[2:]).all()
    assert "English" in result.notes[2] and "valence" in result.notes[3]
    assert np.isnan(xb.get_metric("lexicon_agreement_auprc", min_valence=3.0).score(tiny_model, [on_top])[0])


def test_plausibility_is_nan_without_a_rationale(tiny_model):
    plain = xb.attribution_from_scores(tiny_model, TEXT, [0.1, 0.9, 0.2, 0.0, 0.8, 0.3])
    for name in ("plausibility_auprc", "plausibility_token_f1", "plausibility_iou"):
        result = xb.get_metric(name).evaluate(tiny_model, [plain])
        assert np.isnan(result.values[0]) and "rationale" in result.notes[0]


def test_rationales_from_a_user_file_reach_the_metrics_in_a_run(tiny_model, tmp_path):
    from xaibench.harness.session import BenchmarkSession
    from xaibench.report.writer import write_run

    path = tmp_path / "rated.csv"
    pd.DataFrame({"text": ["a good movie", "bad acting but fine", "the movie"], "label": [1, 0, 1],
                  "rationale": ["good", "bad acting", ""]}).to_csv(path, index=False)
    metrics = ["plausibility_auprc", "plausibility_iou", "ground_truth_top1", "comprehensiveness"]
    config = RunConfig(profile="quick", tasks=[Task(str(path), "tiny")], explainers={"random": {}, "occlusion": {}},
                       metrics=metrics, n=None, seed=0, out=str(tmp_path / "run"))
    session = BenchmarkSession(config, cache=ResultCache(tmp_path / "cache"))
    session.use_model("tiny", tiny_model)
    session.use_dataset(str(path), xb.load_dataset(str(path)))
    for cell in session.cells():
        session.run_cell(cell, progress=False)
    rows = pd.DataFrame(session.per_example)
    auprc_rows = rows[rows.metric == "plausibility_auprc"].set_index(["explainer", "example_id"])["value"]
    assert np.isfinite(auprc_rows[("occlusion", "row-2")]) and np.isfinite(auprc_rows[("random", "row-3")])
    assert np.isnan(auprc_rows[("occlusion", "row-4")])
    ground = rows[rows.metric == "ground_truth_top1"]
    assert ground["value"].isna().all() and (ground["status"] == "nan").all()
    out = write_run(session.record)  # an all-NaN metric neither crashes the tables nor enters the ranks
    summary = pd.read_csv(f"{out}/summary.csv")
    assert summary[summary.metric == "ground_truth_top1"]["mean"].isna().all()
    assert summary[summary.metric == "plausibility_auprc"]["mean"].notna().all()
    ranks = pd.read_csv(f"{out}/ranks.csv")
    assert set(ranks.explainer) == {"random", "occlusion"}
