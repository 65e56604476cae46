"""``xaibench device-report``: its CPU half (what CI can run) on a tiny model, and the one-sentence
refusal without CUDA."""
from __future__ import annotations

import pandas as pd
import pytest
import torch

from xaibench.cli import main
from xaibench.harness.device_report import NO_CUDA, run_device_report


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    from xaibench.testing import save_tiny_task

    folder = tmp_path_factory.mktemp("device")
    save_tiny_task(folder, ["the movie was good", "bad phone never again", "great book", "awful delivery",
                            "nice phone", "poor quality"], seed=0)
    return folder


def test_the_cpu_half(task, tmp_path, monkeypatch):
    monkeypatch.setenv("XAIBENCH_CACHE", str(tmp_path / "cache"))
    table = run_device_report(str(tmp_path / "report"), n=6, datasets=[str(task / "reviews.csv")],
                              models=[str(task / "model")], explainers=["occlusion", "saliency"], cpu_only=True,
                              progress=False)
    assert set(table["variant"]) == {"cpu"} and set(table["explainer"]) == {"occlusion", "saliency"}
    assert (table["tokens_per_s"] > 0).all() and (table["texts_per_s"] > 0).all()
    assert table["speedup_vs_cpu"].tolist() == pytest.approx([1.0, 1.0])
    assert table["comprehensiveness"].notna().all()
    saved = pd.read_csv(tmp_path / "report" / "device_report.csv")
    assert len(saved) == 2
    md = (tmp_path / "report" / "device_report.md").read_text(encoding="utf-8")
    assert "Wall time per variant" in md and "tokens_per_s" in md


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_without_cuda_it_refuses_in_one_sentence(capsys):
    assert main(["device-report", "--out", "unused"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"xaibench: {NO_CUDA}" and "\n" not in err
