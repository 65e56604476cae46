"""CPU-vs-GPU comparison: speed-up and score parity per explainer (issue #8)."""
import numpy as np
import pytest
import torch

import xaibench as xb
from xaibench.report.devices import PARITY_RTOL, device_markdown, device_table
from xaibench.testing import tiny_classifier

TEXTS = ["the battery is great", "terrible screen, broke fast", "好评 很快 收到", "ok"]


def _rows(model, device_label: str, names=("occlusion", "saliency")):
    rows = []
    for name in names:
        for i, a in enumerate(xb.get_explainer(name).explain(model, TEXTS)):
            row = a.to_dict()  # the way BenchmarkSession stores it
            row["explainer_params"] = row.pop("explainer")
            rows.append({"dataset": "d", "model": "tiny", "explainer": name, "device": device_label,
                         "example_id": str(i), **row})
    return rows


def test_one_device_gives_no_table(tiny_model):
    assert device_table(_rows(tiny_model, "cpu")).empty
    assert device_markdown(device_table(_rows(tiny_model, "cpu"))) == ""


def test_same_scores_pass_parity_and_speedup_is_the_ratio_of_medians(tiny_model):
    cpu = _rows(tiny_model, "cpu")
    # The same explanations, as if a device had produced them in a quarter of the time.
    other = [{**r, "device": "cuda", "cost": {**r["cost"], "seconds": r["cost"]["seconds"] / 4}} for r in cpu]
    table = device_table(cpu + other)
    assert set(table["explainer"]) == {"occlusion", "saliency"}
    assert (table["n_examples"] == len(TEXTS)).all()
    assert np.allclose(table["max_abs_score_diff"], 0, atol=1e-12)
    assert table["parity_ok"].all()
    assert np.allclose(table["speedup"], 4.0)
    assert "speed-up and score parity" in device_markdown(table)


def test_a_changed_score_fails_parity_and_is_named(tiny_model):
    cpu = _rows(tiny_model, "cpu", names=("occlusion",))
    other = [{**r, "device": "cuda"} for r in cpu]
    scores = np.asarray(other[1]["scores"], dtype=float)
    scale = np.max(np.abs(scores))
    scores[0] += 10 * PARITY_RTOL * scale
    other[1]["scores"] = scores.tolist()
    table = device_table(cpu + other)
    row = table.iloc[0]
    assert not row["parity_ok"]
    assert row["max_rel_score_diff"] == pytest.approx(10 * PARITY_RTOL, rel=1e-6)
    assert "Parity above tolerance for: d/occlusion@cuda" in device_markdown(table)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", ["occlusion", "saliency", "integrated_gradients"])
def test_cuda_scores_match_cpu_within_the_parity_tolerance(name):
    cpu, gpu = tiny_classifier(), tiny_classifier(device="cuda")
    rows = _rows(cpu, "cpu", names=(name,)) + _rows(gpu, "cuda", names=(name,))
    table = device_table(rows)
    assert table["parity_ok"].all(), table.to_dict("records")
