"""The benchmark matrix: one test per (dataset, model, explainer) cell.

Each cell explains the task's test examples and scores every selected metric in one batched pass;
the plugin (xaibench.plugin) collects the rows and writes results/<run-id>/. The assertions are the
invariants every explanation must satisfy, so a broken explainer fails its own cell while the rest of
the matrix completes.
"""
import numpy as np
import pytest

COST_KEYS = {"n_forward", "n_backward", "seconds", "peak_mem_bytes"}


def test_cell(xb_cell, xb_session):
    outcome = xb_session.run_cell(xb_cell)
    if outcome.status != "ok":
        pytest.fail(f"{xb_cell.id}: {outcome.error}")
    assert len(outcome.attributions) == len(outcome.example_ids)
    model = xb_session.model(xb_cell.task.model, xb_cell.device)
    for attribution in outcome.attributions:
        units = [u.text for u in model.units(attribution.text)]
        assert list(attribution.units) == units, "scores must refer to model.units(text)"
        assert len(attribution.scores) == len(units)
        assert np.all(np.isfinite(attribution.scores)), f"non-finite scores for {attribution.text!r}"
        assert COST_KEYS <= set(attribution.cost)
        assert attribution.cost["seconds"] >= 0
    assert not outcome.metric_errors, outcome.metric_errors
