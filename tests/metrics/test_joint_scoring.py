"""The public joint scoring call (``xb.evaluate``) and ``Metric.score``: what each computes and
which model inputs each runs, counted with ``model.n_forward`` on the tiny random BERT."""
from __future__ import annotations

import numpy as np
import pytest

import xaibench as xb
from xaibench.core.registry import UnknownNameError
from xaibench.metrics.evaluation import plan_chunk

FOUR = ("comprehensiveness", "sufficiency", "deletion_auc", "insertion_auc")
ALL = (*FOUR, "loo_correlation")
TEXTS = ("the movie was not very good , i would never buy it again", "质量很好，物流快", "great", "",
         "this phone works fine but the price is bad", "i love it")
# The same inputs run in differently composed batches: float32 outputs agree to ~1e-9, not bitwise.
ATOL = 1e-7


@pytest.fixture(scope="module")
def tiny_model():
    """This module's own tiny model (the shared session one is never mutated): its tests reset and
    read the pass counters."""
    from xaibench.testing import tiny_classifier

    return tiny_classifier(num_labels=2, seed=0)


@pytest.fixture(scope="module")
def attrs(tiny_model):
    rng = np.random.default_rng(0)
    return [xb.attribution_from_scores(tiny_model, t, rng.normal(size=len(tiny_model.units(t)))) for t in TEXTS]


def distinct_inputs(model, metrics, attributions) -> set:
    """The distinct token sequences ``metrics`` need for ``attributions`` in one chunk: the engine
    runs each once, whether it was asked for as a text (x itself) or as token ids (a removal edit,
    ``xaibench.modeling.edits``; the empty edit of x is x's ids)."""
    _, inputs, _ = plan_chunk(model, metrics, attributions)
    return {tuple(x) if isinstance(x, tuple) else tuple(model.token_ids([x])[0]) for x in inputs}


def assert_same_result(got, want):
    np.testing.assert_allclose(got.values, want.values, rtol=0, atol=ATOL)
    if want.random_reference is None:
        assert got.random_reference is None
    else:
        np.testing.assert_allclose(got.random_reference, want.random_reference, rtol=0, atol=ATOL)
    assert got.notes == want.notes and got.params == want.params


def test_joint_call_equals_each_metric_evaluated_alone(tiny_model, attrs):
    res = xb.evaluate(tiny_model, attrs, metrics=ALL)
    assert list(res) == list(ALL)
    for name in ALL:
        assert_same_result(res[name], xb.get_metric(name).evaluate(tiny_model, attrs))
        assert res[name].random_reference is not None
        assert np.isnan(res[name].values[TEXTS.index("")]), name  # empty text: undefined, with a note


def test_joint_call_runs_each_distinct_input_once(tiny_model, attrs):
    metrics = [xb.get_metric(n) for n in ALL]
    tiny_model.reset_counters()
    xb.evaluate(tiny_model, attrs, metrics=metrics)
    joint = tiny_model.n_forward
    assert joint == len(distinct_inputs(tiny_model, metrics, attrs))
    # chunks of 4 examples: one pass per chunk, over that chunk's distinct inputs
    tiny_model.reset_counters()
    xb.evaluate(tiny_model, attrs, metrics=metrics, chunk_size=4)
    assert tiny_model.n_forward == sum(len(distinct_inputs(tiny_model, metrics, attrs[i:i + 4]))
                                       for i in range(0, len(attrs), 4))
    tiny_model.reset_counters()
    for m in metrics:
        m.evaluate(tiny_model, attrs)
    assert tiny_model.n_forward == sum(len(distinct_inputs(tiny_model, [m], attrs)) for m in metrics) > joint


@pytest.mark.parametrize("name", ALL)
def test_values_need_no_random_ordering_input(tiny_model, attrs, name):
    """With ``n_random=0`` each request is the with-reference request's values part: f(x) and the
    edits of the attribution's own ranking, with nothing for random orderings."""
    with_reference = xb.get_metric(name, n_random=3)
    values_only = with_reference.values_only()
    assert values_only.params() == {**with_reference.params(), "n_random": 0}
    assert with_reference.n_random == 3  # rebuilt, not changed
    for a in attrs:
        full, values = with_reference.requests(tiny_model, a), values_only.requests(tiny_model, a)
        if full.outcome is not None:
            assert values.outcome.random_reference is None and not values.inputs
            continue
        n_values = 1 + len(values_only.fractions) if name in FOUR else len(full.inputs)
        assert values.inputs == full.inputs[:n_values]
        assert values_only.shared_inputs(tiny_model, a.text) == (values.inputs[:1] if name in FOUR else
                                                                 values.inputs)


@pytest.mark.parametrize("name", ALL)
def test_score_runs_only_the_inputs_its_values_need(tiny_model, attrs, name):
    metric = xb.get_metric(name)
    tiny_model.reset_counters()
    values = metric.score(tiny_model, attrs)
    assert tiny_model.n_forward == len(distinct_inputs(tiny_model, [xb.get_metric(name, n_random=0)], attrs))
    tiny_model.reset_counters()
    full = metric.evaluate(tiny_model, attrs)
    if name in FOUR:  # the removal metrics' random orderings are inputs of their own
        assert tiny_model.n_forward > len(distinct_inputs(tiny_model, [xb.get_metric(name, n_random=0)], attrs))
    np.testing.assert_allclose(values, full.values, rtol=0, atol=ATOL)
    assert values.shape == (len(attrs),)


def test_score_keeps_every_other_parameter(tiny_model, attrs):
    metric = xb.get_metric("deletion_auc", mode="mask", fractions=(0.0, 0.3, 1.0), n_random=2, seed=5)
    np.testing.assert_allclose(metric.score(tiny_model, attrs), metric.evaluate(tiny_model, attrs).values,
                               rtol=0, atol=ATOL)
    plausibility = xb.get_metric("plausibility_iou")
    assert plausibility.values_only() is plausibility  # no reference parameter: nothing to drop


def test_metrics_given_as_names_or_instances(tiny_model, attrs):
    mixed = xb.evaluate(tiny_model, attrs, metrics=["comprehensiveness", xb.get_metric("insertion_auc", mode="mask")])
    assert list(mixed) == ["comprehensiveness", "insertion_auc"]
    assert mixed["insertion_auc"].params["mode"] == "mask"
    assert_same_result(mixed["comprehensiveness"], xb.evaluate(tiny_model, attrs, metrics="comprehensiveness")
                       ["comprehensiveness"])
    assert list(xb.evaluate(tiny_model, attrs)) == list(FOUR)


def test_bad_metrics_raise_clear_errors(tiny_model, attrs):
    with pytest.raises(UnknownNameError, match="did you mean 'comprehensiveness'"):
        xb.evaluate(tiny_model, attrs, metrics=["comprehensivenes"])
    with pytest.raises(TypeError, match="metric names .* or Metric instances"):
        xb.evaluate(tiny_model, attrs, metrics=[3])
    with pytest.raises(ValueError, match="repeated"):
        xb.evaluate(tiny_model, attrs, metrics=["sufficiency", xb.get_metric("sufficiency")])
