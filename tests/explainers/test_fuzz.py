"""Fuzzing: arbitrary text (every script, emoji, invisible and combining characters, odd whitespace)
through the unit split and through every registered explainer on the tiny model. Nothing may crash;
scores are finite, one per unit; metric values are finite or NaN with a reason.

Hypothesis runs derandomized (the same examples every run, so CI is reproducible) and without an
example database (nothing is written to the working tree).
"""
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import xaibench as xb  # noqa: E402
from xaibench.core.units import keep_units, normalize_space, remove_units, split_units  # noqa: E402
from xaibench.metrics.evaluation import evaluate_metrics  # noqa: E402
from xaibench.testing import OFFLINE_PARAMS, offline_explainer_names  # noqa: E402

WORDS = ["good", "bad", "movie", "phone", "great", "never", "don't", "well-made", "质量", "很好", "失望",
         "مرحبا", "שלום", "école", "👍🏽", "👨‍👩‍👧", "❤️", "&amp;", "&lt;b&gt;", "<script>", "100%", "a_b", "|"]
ODD_CHARS = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u200e", "\u200f", "\u202e", "\u0301", "\u3000",
             "\t", "\n", "\r\n", " ", "  ", "\u00a0", "。", "，", "!", "?", "'", "-", "\x00", "\U0001f600"]
SCRIPTS = st.characters(codec="utf-8", exclude_categories=("Cs",))  # every encodable code point

TEXT = st.lists(st.one_of(st.sampled_from(WORDS), st.sampled_from(ODD_CHARS), st.text(SCRIPTS, max_size=4)),
                max_size=12).map("".join)
SETTINGS = settings(deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def fuzz(max_examples: int):
    return settings(SETTINGS, max_examples=max_examples)
FAST = {"integrated_gradients": {"n_steps": 2}, "lime": {"n_samples": 10}, "shap": {"max_evals": 10}, **OFFLINE_PARAMS}


@fuzz(max_examples=200)
@given(TEXT)
def test_units_are_visible_ordered_spans_of_the_text(text):
    units = split_units(text)
    end = 0
    for u in units:
        assert text[u.start:u.end] == u.text and u.start >= end and u.end > u.start
        assert u.text.strip() and not u.text.isspace()
        end = u.end
    everything = list(range(len(units)))
    assert keep_units(text, units, everything) == normalize_space(text) == remove_units(text, units, [])
    # Without all its units a text has none left (insertion's q = 0 point is the empty text).
    assert split_units(remove_units(text, units, everything)) == []


@pytest.fixture(scope="module")
def explainers():
    # Without nl_endpoint (a server: tests/explainers/test_nl_endpoint.py) and nl_generator (no
    # generator for the tiny model: tests/zoo/test_sentence_generator.py).
    return [xb.get_explainer(name, seed=0, **FAST.get(name, {})) for name in offline_explainer_names()]


@pytest.fixture(scope="module")
def metrics():
    return [xb.get_metric("comprehensiveness", n_random=0), xb.get_metric("loo_correlation")]


@fuzz(max_examples=8)
@given(st.lists(TEXT, min_size=1, max_size=3))
def test_every_explainer_survives_any_text(tiny_model, explainers, metrics, texts):
    for explainer in explainers:
        attributions = explainer.explain(tiny_model, texts)
        assert len(attributions) == len(texts)
        for text, a in zip(texts, attributions):
            assert a.text == text
            assert list(a.units) == [u.text for u in tiny_model.units(text)]
            assert a.scores.shape == (len(a.units),) and np.all(np.isfinite(a.scores)), (explainer.name, text)
        results = evaluate_metrics(tiny_model, metrics, attributions)
        for result in results.values():
            for i, value in enumerate(result.values):
                assert np.isfinite(value) or result.notes[i], (explainer.name, result.name, texts[i])
