"""The benchmark matrix: one test per (dataset, model, explainer) cell.

Each cell explains the task's test examples and scores every selected metric in batched passes;
the plugin (xaibench.harness.plugin) collects the rows and writes results/<run-id>/. The assertions are the
invariants every explanation must satisfy, so a broken explainer fails its own cell while the rest of
the matrix completes (failed examples are also recorded as status=error rows in per_example.parquet).
"""
import numpy as np
import pytest

COST_KEYS = {"n_forward", "n_backward", "seconds", "peak_mem_bytes"}


def test_cell(xb_cell, xb_session):
    outcome = xb_session.run_cell(xb_cell)
    if outcome.not_run:  # e.g. a learned sentence generator trained for another model: nothing to check
        pytest.skip(outcome.not_run)
    model = xb_session.model(xb_cell.task.model, xb_cell.device)
    assert len(outcome.attributions) == len(outcome.example_ids)
    for attribution in outcome.attributions:
        if attribution is None:
            continue
        units = [u.text for u in model.units(attribution.text)]
        assert list(attribution.units) == units, "scores must refer to model.units(text)"
        assert len(attribution.scores) == len(units)
        assert np.all(np.isfinite(attribution.scores)), f"non-finite scores for {attribution.text!r}"
        assert COST_KEYS <= set(attribution.cost)
        assert attribution.cost["seconds"] >= 0
    if outcome.errors:
        first = next(iter(outcome.errors.items()))
        pytest.fail(f"{len(outcome.errors)} example(s) failed, e.g. {first[0]}: {first[1]}")
    assert not outcome.metric_errors, outcome.metric_errors
