"""Compact result files: Parquet data files with texts stored once, read back by ``read_results``,
which also reads folders in the older CSV/JSONL layout."""
import json

import numpy as np
import pandas as pd
import pytest

from xaibench.report import result_files
from xaibench.report.result_files import read_results, write_data_files


def _rows():
    attribution_rows, per_example, examples = [], [], []
    for explainer in ("lime", "occlusion"):
        for i, text in enumerate(["很好用，推荐", "battery died"]):
            units = list(text) if i == 0 else text.split()
            attribution_rows.append({
                "dataset": "t", "model": "m", "explainer": explainer, "device": "cpu", "base_model": "m",
                "model_seed": 0, "task_type": "classification", "example_id": f"e{i}", "text": text,
                "units": units, "scores": list(np.linspace(-1, 1, len(units))), "target": 1,
                "cost": {"seconds": 0.5, "n_forward": 3}, "spans": [[k, k + 1] for k in range(len(units))],
                "output": "prob", "metadata": {"lime_r2": 0.9} if explainer == "lime" else {},
                "explainer_params": {"name": explainer, "seed": 0}})
            per_example.append({"dataset": "t", "model": "m", "explainer": explainer, "metric": "comprehensiveness",
                                "example_id": f"e{i}", "value": 0.1 * i, "status": "ok", "note": None})
    for i, text in enumerate(["很好用，推荐", "battery died"]):
        examples.append({"dataset": "t", "model": "m", "device": "cpu", "model_seed": 0, "example_id": f"e{i}",
                         "text": text, "label": "positive", "predicted": "positive", "predicted_index": 1,
                         "probability": 0.9, "cause": [[0, 1]] if i == 0 else None, "rationale": None})
    return attribution_rows, pd.DataFrame(per_example), examples


def test_parquet_round_trip_stores_each_text_once(tmp_path):
    attribution_rows, per_example, examples = _rows()
    curves = pd.DataFrame({"dataset": ["t"] * 3, "metric": ["deletion_auc"] * 3, "fraction": [0, .5, 1],
                           "value": [.9, .5, .1]})
    names = write_data_files(tmp_path, per_example, curves, attribution_rows, examples)
    assert set(names) == {"per_example.parquet", "curves.parquet", "attributions.parquet", "examples.parquet"}
    stored = pd.read_parquet(tmp_path / "attributions.parquet")
    assert "text" not in stored.columns  # the text lives in examples.parquet, once per example
    assert len(pd.read_parquet(tmp_path / "examples.parquet")) == 2
    (tmp_path / "summary.csv").write_text("dataset,mean\nt,0.1\n")
    results = read_results(tmp_path)
    assert len(results.per_example) == 4 and results.per_example["value"].tolist() == per_example["value"].tolist()
    assert results.curves["value"].tolist() == pytest.approx([.9, .5, .1], rel=1e-6)  # float32
    got = results.attributions.sort_values(["explainer", "example_id"]).reset_index(drop=True)
    want = sorted(attribution_rows, key=lambda r: (r["explainer"], r["example_id"]))
    for (_, row), ref in zip(got.iterrows(), want):
        assert row["text"] == ref["text"] and row["units"] == ref["units"]
        assert row["scores"] == pytest.approx(ref["scores"], rel=1e-6)  # stored as float32
        assert row["cost"] == ref["cost"] and row["explainer_params"] == ref["explainer_params"]
        assert row["spans"] == ref["spans"] and row["metadata"] == ref["metadata"]
    zh = results.examples.set_index("example_id").loc["e0"]
    assert zh["predicted"] == "positive" and zh["probability"] == 0.9 and json.loads(zh["cause"]) == [[0, 1]]


def test_old_csv_jsonl_layout_is_read_the_same_way(tmp_path):
    attribution_rows, per_example, _ = _rows()
    per_example.to_csv(tmp_path / "per_example.csv", index=False)
    with open(tmp_path / "attributions.jsonl", "w", encoding="utf-8") as fh:
        for row in attribution_rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    results = read_results(tmp_path / "per_example.csv")  # any file of the folder names the folder
    assert len(results.per_example) == 4 and len(results.attributions) == 4
    assert set(results.examples["text"]) == {"很好用，推荐", "battery died"}
    assert results.summary.empty and "per_example=4" in repr(results)


def test_a_folder_without_results_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a results folder"):
        read_results(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_results(tmp_path / "missing")


def test_public_name_and_compression(tmp_path):
    import pyarrow.parquet as pq

    import xaibench as xb

    assert xb.read_results is result_files.read_results
    attribution_rows, per_example, examples = _rows()
    write_data_files(tmp_path, per_example, pd.DataFrame(), attribution_rows, examples)
    meta = pq.ParquetFile(tmp_path / "per_example.parquet").metadata
    assert meta.row_group(0).column(0).compression.lower() == "zstd"
