"""Cost columns show only what was measured: no interval over amortised shares, CPU memory marked
as not measured (with the reason, never 0), and the cost table states device, dtype and threads."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from xaibench.report.writer import write_run

COST = ("runtime_seconds", "forward_passes", "backward_passes", "peak_memory_mb")


def test_a_run_reports_cost_honestly(tiny_model, run_tiny_session, tmp_path):
    texts = ["the screen is great", "awful battery and slow", "it works fine", "not good at all", "good"]
    session = run_tiny_session(tiny_model, tmp_path, texts, explainers=("saliency", "occlusion"),
                               metrics=("comprehensiveness", *COST))
    rows = pd.DataFrame(session.per_example)
    memory = rows[rows["metric"] == "peak_memory_mb"]
    assert memory["value"].isna().all() and memory["note"].str.startswith("not measured on the CPU").all()
    out = Path(write_run(session.record))
    summary = pd.read_csv(out / "summary.csv")
    cost = summary[summary["metric"].isin(COST)]
    assert set(cost["ci_method"]) == {"none"} and cost["ci_low"].isna().all()
    quality = summary[summary["metric"] == "comprehensiveness"]
    assert set(quality["ci_method"]) == {"bootstrap"}
    md = (out / "summary.md").read_text(encoding="utf-8")
    runtime_lines = [line for line in md.splitlines() if line.startswith("| saliency") and "±" in line]
    assert runtime_lines  # the quality cells keep their interval...
    cost_table = md[md.index("| cost"):].split("\n\n")[0]
    assert "±" not in cost_table and "peak_memory_mb" not in cost_table  # ...the cost cells do not
    assert "peak\\_memory\\_mb (not measured on the CPU" in md.replace("\n", " ")  # Markdown-escaped name
    assert "Cost measured on cpu, float32 weights," in md.replace("\n", " ")
    table = pd.read_csv(out / "cost.csv")
    assert {"device", "dtype", "threads", "ms_per_call", "calls", "examples_per_call"} <= set(table.columns)
    assert (table["calls"] == 1).all() and (table["examples_per_call"] == len(texts)).all()
    np.testing.assert_allclose(table["ms_per_call"], table["ms_per_example"] * len(texts), rtol=1e-6)
