"""Sentence explainers: the verbalizer's templates (English, Chinese, regression, nothing to cite),
scores read back from the sentence, your own function (``nl_callable``), and the learned
generator's availability and cache identity."""
from __future__ import annotations

import numpy as np
import pytest

import xaibench as xb
from xaibench.core.units import split_units
from xaibench.explainers.nl_template import top_pieces, verbalize
from xaibench.testing import bag_of_words_classifier, keyword_sentences

WEIGHTS = {"good": 3.0, "bad": -2.0, "not": -4.0, "great": 2.0, "the": 0.0, "food": 0.0, "is": 0.0, "very": 0.5,
           "好": 1.5, "差": -2.5, "不": -1.0, "菜": 0.0, "很": 0.0, ",": 0.0}


@pytest.fixture(scope="module")
def bow():
    return bag_of_words_classifier(WEIGHTS, 0.25)


def test_top_pieces_join_adjacent_units_and_follow_the_ranking():
    text = "the food is not good at all"
    units = split_units(text)
    scores = [0, 0.1, 0, 0.9, 0.8, -1, 0.05]
    assert top_pieces(text, units, scores, 3) == ["not good", "food"]
    assert top_pieces(text, units, scores, 1) == ["not"]
    # Only units that support the output are quoted.
    assert top_pieces(text, units, [-1.0] * 7, 3) == []


def test_templates_in_english_and_chinese():
    text = "the battery died and the screen is awful"
    units = split_units(text)
    scores = np.zeros(len(units))
    scores[[2, 7]] = [0.5, 0.9]
    assert verbalize(text, units, scores, "negative", 3, "en") == \
        "Predicted negative, mainly because of “awful” and “died”."
    zh = "质量很差，非常失望"
    zh_units = split_units(zh)
    zh_scores = np.zeros(len(zh_units))
    zh_scores[[3, 7, 8]] = [0.9, 0.5, 0.4]
    assert verbalize(zh, zh_units, zh_scores, "negative", 3, "zh") == "模型判断为差评，主要因为“差”和“失望”。"
    assert verbalize(zh, zh_units, zh_scores, "positive", 1, "zh") == "模型判断为好评，主要因为“差”。"
    assert verbalize(zh, zh_units, -zh_scores, "negative", 3, "zh") == "模型判断为差评，没有特别突出的字词。"
    assert verbalize(text, units, -scores, "negative", 3, "en") == "Predicted negative; no single word stands out."
    three = np.zeros(len(units))
    three[[2, 5, 7]] = [0.7, 0.6, 0.9]
    assert verbalize(text, units, three, "negative", 3, "en") == \
        "Predicted negative, mainly because of “awful”, “died” and “screen”."


def test_nl_template_verbalizes_occlusion_and_reads_its_scores_back(bow):
    texts = ["the food is not good", "the food is very good", "好菜", "菜很差"]
    attrs = xb.get_explainer("nl_template", k=2).explain(bow, texts)
    sentences = [a.metadata["explanation"] for a in attrs]
    occlusion = xb.get_explainer("occlusion").explain(bow, texts)
    assert sentences[0] == "Predicted negative, mainly because of “not”."  # "good" opposes p(negative)
    assert sentences[1] == "Predicted positive, mainly because of “very good”."  # adjacent: one piece
    assert sentences[2] == "模型判断为好评，主要因为“好”。"
    assert sentences[3] == "模型判断为差评，主要因为“差”。"
    for a, o in zip(attrs, occlusion):
        assert a.units == o.units and a.target == o.target
        assert a.explainer["name"] == "nl_template"
        top = int(np.argmax(a.scores))
        assert a.units[top] == a.metadata["cited_pieces"][0].split()[0]
        assert set(np.flatnonzero(a.scores)) == set(a.metadata["cited_units"])
    assert attrs[1].scores[attrs[1].units.index("good")] == attrs[1].scores[attrs[1].units.index("very")] == 1.0
    # The source's cost is the template's cost (templates are free).
    assert attrs[0].cost["n_forward"] >= len(bow.units(texts[0]))


def test_nl_template_checks_its_parameters(bow):
    with pytest.raises(ValueError, match="k must be a positive integer"):
        xb.get_explainer("nl_template", k=0).explain(bow, ["good"])
    with pytest.raises(ValueError, match="not the sentence explainer"):
        xb.get_explainer("nl_template", source="nl_generator").explain(bow, ["good"])
    with pytest.raises(ValueError, match="unknown explainer 'occlusoin'"):
        xb.get_explainer("nl_template", source="occlusoin").explain(bow, ["good"])
    assert xb.get_explainer("nl_template").deterministic
    assert not xb.get_explainer("nl_template", source="lime").deterministic


def test_nl_template_over_a_seeded_source_uses_the_source_row_scores(bow):
    texts = ["the food is not good", "the food is very good"]
    template = xb.get_explainer("nl_template", source="random", k=1, seed=7).explain(bow, texts)
    random = xb.get_explainer("random", seed=7).explain(bow, texts)
    for t, r in zip(template, random):
        best = int(np.argmax(r.scores))
        assert t.metadata["cited_pieces"] == ([r.units[best]] if r.scores[best] > 0 else [])


def test_nl_callable_takes_a_function_or_its_import_path(bow):
    texts = ["the food is not good", "好菜"]
    by_object = xb.get_explainer("nl_callable", function=keyword_sentences)
    assert by_object.function == "xaibench.testing:keyword_sentences"  # stored as its path: rebuildable
    attrs = by_object.explain(bow, texts)
    assert [a.metadata["explanation"] for a in attrs] == [
        "Predicted negative, mainly because of “not” and “good”.", "Predicted positive, mainly because of “好”."]
    assert attrs[0].scores[attrs[0].units.index("not")] == 1.0
    assert attrs[0].scores[attrs[0].units.index("good")] == 0.5
    by_path = xb.get_explainer("nl_callable", function="xaibench.testing:keyword_sentences").explain(bow, texts)
    assert [a.scores.tolist() for a in by_path] == [a.scores.tolist() for a in attrs]
    # A lambda cannot be imported: it is kept as the object (works in this process only).
    lam = xb.get_explainer("nl_callable", function=lambda ts, ls: ["“good”"] * len(ts))
    assert callable(lam.function)
    assert lam.explain(bow, ["good good"])[0].scores.tolist() == [1.0, 1.0]


def test_nl_callable_errors_name_the_problem(bow):
    with pytest.raises(ValueError, match="needs function="):
        xb.get_explainer("nl_callable").explain(bow, ["good"])
    with pytest.raises(ValueError, match="cannot be imported"):
        xb.get_explainer("nl_callable", function="xaibench.testing:no_such_function").explain(bow, ["good"])
    with pytest.raises(RuntimeError, match="returned 1 sentences for 2 texts"):
        xb.get_explainer("nl_callable", function=lambda ts, ls: ["x"]).explain(bow, ["good", "bad"])
    with pytest.raises(TypeError, match="is a int, not a str"):
        xb.get_explainer("nl_callable", function=lambda ts, ls: [1] * len(ts)).explain(bow, ["good"])


def test_regression_models_state_the_predicted_value():
    model = bag_of_words_classifier({"good": 2.0, "bad": -1.0}, 0.5, regression=True, target_std=1.0)
    a = xb.get_explainer("nl_template", k=1).explain(model, ["good bad"])[0]
    assert a.metadata["explanation"] == "Predicted value 1.50, mainly because of “good”."


def test_the_learned_generator_is_unavailable_for_other_models(bow):
    explainer = xb.get_explainer("nl_generator")
    reason = explainer.unavailable_for(bow)
    assert "no built-in sentence generator explains 'bow'" in reason and "nlgen-reviews-en" in reason
    assert explainer.cache_identity(bow) == {}
    with pytest.raises(ValueError, match="no built-in sentence generator"):
        explainer.explain(bow, ["good"])
    with pytest.raises(ValueError, match="unknown generator 'nlgen-review-en'"):
        xb.get_explainer("nl_generator", generator="nlgen-review-en").check_params()


def test_the_built_in_generators_explain_the_built_in_review_models():
    from types import SimpleNamespace

    from xaibench.core import registry
    from xaibench.zoo.builds import recipe_key
    from xaibench.zoo.recipes import BUILTIN_MODELS

    explainer = xb.get_explainer("nl_generator")
    for name, classifier in (("nlgen-reviews-en", "minilm-reviews-en"), ("nlgen-reviews-zh", "charbert-reviews-zh")):
        model = SimpleNamespace(name=classifier)
        assert explainer.unavailable_for(model) is None
        built = registry.generators.create(name)
        # A retrained classifier (new recipe) means a new generator, and a new cache key for its sentences.
        assert built.recipe["classifier_key"] == recipe_key(BUILTIN_MODELS[classifier][0])
        assert explainer.cache_identity(model) == {"generator_key": built.key}
    assert explainer.unavailable_for(SimpleNamespace(name="minilm-reviews-en-seed1")) is not None
    # The sanity check's randomized copy keeps its original's generator.
    randomized = SimpleNamespace(name="minilm-reviews-en[randomized:all]", info={"randomized_from": "minilm-reviews-en"})
    assert explainer.unavailable_for(randomized) is None
    assert xb.list_generators() == ["nlgen-reviews-en", "nlgen-reviews-zh"]
