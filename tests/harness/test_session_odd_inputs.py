"""Odd but valid texts through the whole harness: every script, emoji, invisible characters, HTML
entities, one-character and over-long texts give finite scores or a NaN with a reason, and a
truncated text is recorded per example and reported."""
from pathlib import Path

import numpy as np
import pandas as pd

from xaibench.report.writer import write_run
from xaibench.report.result_files import read_per_example

ODD_TEXTS = [
    "good " * 150,                                    # far past the tiny model's 64 tokens
    "great 👍🏽 phone 👨‍👩‍👧 ❤️",                           # emoji with modifiers and joiners
    "fast\u200bdelivery\u200d \u2060nice\ufeff",      # zero-width characters
    "مرحبا بك hello שלום 很好",                         # RTL and mixed scripts
    "&lt;b&gt;bad&lt;/b&gt; &amp; &#39;poor&#39;",    # HTML entities (kept as text)
    "x",                                              # one character
    "好",                                              # one CJK character
    "!!!",                                            # punctuation only
]


def test_odd_texts_give_finite_scores_or_an_explained_nan(tiny_model, run_tiny_session, tmp_path):
    session = run_tiny_session(tiny_model, tmp_path, ODD_TEXTS, explainers=("occlusion", "lime"),
                               metrics=["comprehensiveness", "sufficiency", "deletion_auc", "loo_correlation"],
                               explainer_params={"lime": {"n_samples": 20}})
    rows = pd.DataFrame(session.per_example)
    assert (rows.status != "error").all(), rows[rows.status == "error"].note.tolist()
    nan_rows = rows[~np.isfinite(rows.value.astype(float))]
    assert nan_rows.note.notna().all() and (nan_rows.status == "nan").all()
    # Only a ranking of one unit ("x", "好") has no correlation.
    assert set(nan_rows.metric) == {"loo_correlation"} and {"e5", "e6"} <= set(nan_rows.example_id)
    for row in session.attribution_rows:
        assert np.all(np.isfinite(row["scores"])) and len(row["scores"]) == len(row["units"]) > 0


def test_truncation_is_recorded_per_example_and_reported(tiny_model, run_tiny_session, tmp_path):
    texts = ["good " * 150, "a short and fine text"]
    session = run_tiny_session(tiny_model, tmp_path, texts, explainers=("occlusion",), dataset="long<b>_%.csv")
    out = Path(write_run(session.record))
    rows = read_per_example(out)
    dropped = rows.groupby("example_id")["n_units_truncated"].unique()
    assert list(dropped["e1"]) == [0]
    n = int(dropped["e0"][0])
    assert n == 150 - (tiny_model.max_length - 2)         # [CLS] + 62 words + [SEP] fit
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert f"1 example(s) truncated to the model's max length, {n} unit(s) never seen" in md
    assert "long\\<b\\>\\_%.csv" in md
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "long&lt;b&gt;_%.csv · tiny: 1 example(s) truncated" in html
