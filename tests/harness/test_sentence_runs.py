"""Sentence explainers in a benchmark run: the natural_language family in the tables with its
shuffled-explanation row, attribution explainers left out of that table, a generator without a
model recorded as not run, and the sentences in report.html."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from xaibench.report.writer import write_run
from xaibench.testing import bag_of_words_classifier

WEIGHTS = {"good": 3.0, "bad": -2.0, "not": -4.0, "the": 0.0, "food": 0.0, "is": 0.0, "was": 0.0, "great": 2.0}
TEXTS = ["the food is good", "the food was bad", "the food is not good", "great food", "bad bad food",
         "the food is great"]
SENTENCE_METRICS = ("comprehensiveness", "cited_comprehensiveness", "cited_sufficiency", "citation_precision",
                    "label_agreement")


def test_a_run_with_sentence_explainers(tmp_path, run_tiny_session):
    model = bag_of_words_classifier(WEIGHTS, 0.25)
    session = run_tiny_session(model, tmp_path, TEXTS, explainers=("occlusion", "nl_template", "nl_generator"),
                               metrics=SENTENCE_METRICS)
    outcomes = {o["cell"].rsplit("-", 1)[-1]: o for o in session.record.outcome_rows}
    assert outcomes["nl_generator"]["status"] == "not_run"
    assert "no built-in sentence generator explains 'bow'" in outcomes["nl_generator"]["not_run"]
    assert outcomes["nl_template"]["status"] == "ok" and outcomes["occlusion"]["status"] == "ok"
    rows = pd.DataFrame(session.per_example)
    assert set(rows["explainer"]) == {"occlusion", "nl_template"}  # the generator's cell wrote no rows
    occlusion = rows[(rows["explainer"] == "occlusion") & (rows["metric"] == "citation_precision")]
    assert (occlusion["status"] == "not_applicable").all() and (occlusion["note"] == "not natural language").all()

    out = Path(write_run(session.record))
    md = (out / "summary.md").read_text(encoding="utf-8")
    family = md[md.index("| natural language"):].split("\n\n")[0]
    assert "| nl_template" in family and "| occlusion" not in family  # the family applies to sentences only
    assert "(shuffled explanation)" in family and "(random ordering)" not in family
    assert "cited_comprehensiveness ↑" in family and "cited_sufficiency ↓" in family
    faithfulness = md[md.index("| faithfulness"):].split("\n\n")[0]
    assert "| occlusion" in faithfulness and "| nl_template" in faithfulness  # every metric applies to sentences
    assert "### Cells not run" in md and "nl\\_generator: no built-in sentence generator" in md
    summary = pd.read_csv(out / "summary.csv")
    nl = summary[(summary["explainer"] == "nl_template") & (summary["family"] == "natural_language")]
    assert set(nl["metric"]) == set(SENTENCE_METRICS) - {"comprehensiveness"}
    assert nl["random_reference"].notna().all()  # the shuffled control, per explainer
    html = (out / "report.html").read_text(encoding="utf-8")
    assert '<div class="nl">Predicted positive, mainly because of “good”.</div>' in html
    tex = (out / "summary.tex").read_text(encoding="utf-8")
    assert "(shuffled explanation)" in tex
    # Without the cost metrics the cost columns go to a table that lists every explainer.
    assert "ms_per_example" in faithfulness and "ms_per_example" not in family
