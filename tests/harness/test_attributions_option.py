"""``pytest benchmarks/ --xb-attributions FILE.jsonl``: explanations made elsewhere are scored from
the command line next to the built-in explainers and appear in the tables; the metrics that would
re-explain or time them say why they do not apply; a text the file lacks is a failed example."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import xaibench as xb
from xaibench.core.errors import DataValidationError, OptionError
from xaibench.harness.config import resolve
from xaibench.report.result_files import read_per_example

ROOT = Path(__file__).resolve().parents[2]
TEXTS = ["the movie was good", "bad phone , never again", "great book", "awful delivery but nice phone"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from xaibench.testing import save_tiny_task

    folder = tmp_path_factory.mktemp("attributions")
    model = save_tiny_task(folder, TEXTS, ids=[f"r{i}" for i in range(len(TEXTS))], seed=0)
    # Occlusion's scores, written as another library would, for all texts but the last.
    lines = [{"text": a.text, "units": a.units, "scores": a.scores.tolist(), "explainer": "outside_occlusion"}
             for a in xb.get_explainer("occlusion").explain(model, TEXTS[:3])]
    (folder / "scores.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    return folder


def test_the_option_adds_the_files_explainers(files):
    config = resolve({"dataset": str(files / "reviews.csv"), "model": str(files / "model"), "explainers": "occlusion",
                      "attributions": str(files / "scores.jsonl")})
    assert list(config.explainers) == ["occlusion", "outside_occlusion"]
    assert config.explainer_sources == {"outside_occlusion": "attributions_file"}
    assert config.explainer("outside_occlusion").name == "attributions_file"
    bad = files / "bad.jsonl"
    bad.write_text('{"text": "great book", "scores": [1]}\n', encoding="utf-8")
    with pytest.raises(DataValidationError, match="line 1: 1 scores for the text's 2 units"):
        resolve({"dataset": str(files / "reviews.csv"), "model": str(files / "model"), "attributions": str(bad)})
    with pytest.raises(OptionError, match="explainer 'outside_occlusion' is in"):
        resolve({"dataset": str(files / "reviews.csv"), "model": str(files / "model"),
                 "attributions": f"{files / 'scores.jsonl'},{files / 'scores.jsonl'}"})


@pytest.mark.slow
def test_scored_from_the_command_line_next_to_the_builtins(files, tmp_path):
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "benchmarks/test_explainer_matrix.py", "-q", "-p", "no:cacheprovider",
         "--xb-model", str(files / "model"), "--xb-dataset", str(files / "reviews.csv"), "--xb-n", "all",
         "--xb-explainers", "occlusion", "--xb-attributions", str(files / "scores.jsonl"),
         "--xb-metrics", "comprehensiveness,sufficiency,perturbation_stability,runtime_seconds", "--xb-out", str(out)],
        cwd=ROOT, env={**os.environ, "XAIBENCH_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"},
        capture_output=True, text=True, timeout=600)
    # The file lacks the last text: that example of its cell fails, the rest is scored.
    assert result.returncode == 1 and "1 failed, 1 passed" in result.stdout, result.stdout[-3000:]
    rows = read_per_example(out)
    ours = rows[rows["explainer"] == "outside_occlusion"].set_index(["metric", "example_id"])
    theirs = rows[rows["explainer"] == "occlusion"].set_index(["metric", "example_id"])
    for eid in ("r0", "r1", "r2"):  # the same scores as occlusion: the same comprehensiveness
        assert ours.loc[("comprehensiveness", eid), "value"] == pytest.approx(theirs.loc[("comprehensiveness", eid),
                                                                                          "value"])
    assert ours.loc[("comprehensiveness", "r3"), "status"] == "error"
    assert "no attribution in" in ours.loc[("comprehensiveness", "r3"), "note"]
    assert set(ours.loc["perturbation_stability", "note"].iloc[:3]) == {"not re-explainable"}
    assert set(ours.loc["runtime_seconds", "note"].iloc[:3]) == {"computed elsewhere"}
    summary = pd.read_csv(out / "summary.csv")
    assert "outside_occlusion" in set(summary["explainer"])
    assert "| outside_occlusion" in (out / "summary.md").read_text(encoding="utf-8")
