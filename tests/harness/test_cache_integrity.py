"""The result cache checks what it reads: an entry edited on disk (still valid JSON) is detected,
counted and recomputed, and the run gives the values of a clean run."""
import json

import pandas as pd


def test_a_corrupted_cache_entry_is_detected_and_recomputed(tiny_model, run_tiny_session, tmp_path):
    texts = ["the movie was great", "bad phone"]
    first = run_tiny_session(tiny_model, tmp_path, texts, explainers=("occlusion",), use_cache=True)
    for entry in (tmp_path / "cache").rglob("*.json"):   # flip one value, keep valid JSON
        data = json.loads(entry.read_text(encoding="utf-8"))
        if "attributions" in data["payload"]:
            data["payload"]["attributions"][0]["scores"][0] += 1.0
            entry.write_text(json.dumps(data), encoding="utf-8")
    second = run_tiny_session(tiny_model, tmp_path, texts, explainers=("occlusion",), use_cache=True)
    assert second.cache.corrupt == 1
    pd.testing.assert_frame_equal(pd.DataFrame(first.per_example), pd.DataFrame(second.per_example))
