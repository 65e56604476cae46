"""Deterministic runs: the same configuration gives identical values, and adding an example to the
data set leaves every other example's values as they were (seeds are per explainer and example).
pytest-xdist, which splits a run over processes, ships with the test extra."""
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
DETERMINISM_PARAMS = {"lime": {"n_samples": 30}, "shap": {"max_evals": 20}, "integrated_gradients": {"n_steps": 4}}


def test_same_configuration_gives_identical_values(tiny_model, run_tiny_session, tmp_path):
    texts = ["the movie was great", "bad phone , never again", "质量很好", "i love this product"]
    explainers = ("random", "lime", "shap", "occlusion")
    first = run_tiny_session(tiny_model, tmp_path / "a", texts, explainers, explainer_params=DETERMINISM_PARAMS)
    second = run_tiny_session(tiny_model, tmp_path / "b", texts, explainers, explainer_params=DETERMINISM_PARAMS)
    pd.testing.assert_frame_equal(pd.DataFrame(first.per_example), pd.DataFrame(second.per_example),
                                  check_exact=True)


def test_adding_an_example_does_not_change_the_others(tiny_model, run_tiny_session, tmp_path):
    """Seeds are per (explainer, example): a new example leaves every other value as it was."""
    texts = ["the movie was great", "bad phone , never again", "质量很好", "i love this product"]
    extra = texts[:2] + ["an awful , slow delivery of a broken book"] + texts[2:]
    explainers = ("random", "lime", "shap")
    small = pd.DataFrame(run_tiny_session(tiny_model, tmp_path / "a", texts, explainers,
                                          explainer_params=DETERMINISM_PARAMS).per_example)
    large = pd.DataFrame(run_tiny_session(tiny_model, tmp_path / "b", extra, explainers,
                                          explainer_params=DETERMINISM_PARAMS).per_example)
    text_of = {f"e{i}": t for i, t in enumerate(texts)}
    id_in_large = {t: f"e{i}" for i, t in enumerate(extra)}
    small["example_id"] = small.example_id.map(lambda e: id_in_large[text_of[e]])
    key = ["explainer", "metric", "example_id"]
    merged = small.merge(large, on=key, suffixes=("_small", "_large"))
    assert len(merged) == len(small)
    # Same samples, same rankings; only the float rounding of differently padded batches may differ
    # (another seed would move these values by orders of magnitude more).
    np.testing.assert_allclose(merged.value_small, merged.value_large, rtol=1e-6, atol=1e-9)


def test_pytest_xdist_is_in_the_test_extra():
    import tomllib

    extra = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    assert any(req.replace(" ", "").startswith("pytest-xdist") for req in extra["test"])
