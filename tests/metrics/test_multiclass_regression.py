"""Beyond binary sentiment: three-class and regression models through the same explainers, metrics,
data files, tables and pictures.

- planted-cause checks: a tiny BERT trained in seconds where one planted word pushes ŷ up (or
  down), or selects one of three classes; faithful explainers rank that word first;
- hand-computed metric values on a transparent linear regression model, f(x) = ŷ(x)/σ;
- every registered explainer on a tiny regression model and a tiny three-class model;
- user files with a numeric ``target`` column (regression) or more than two classes;
- the built-in recipes, task grouping in tables, and the names of the explained quantity.
"""
from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

import xaibench as xb
from xaibench.core.errors import DataValidationError
from xaibench.metrics.evaluation import evaluate_metrics
from xaibench.modeling import engine
from xaibench.modeling.classifier import Classifier
from xaibench.modeling.tokenization import vocab_tokenizer
from xaibench.testing import OFFLINE_PARAMS, offline_explainer_names, tiny_classifier

FILLER = ("the a this that it is was and but very movie film book phone product price delivery "
          "quality works really would buy again we they you").split()
FAITHFULNESS = ("comprehensiveness", "sufficiency", "deletion_auc", "insertion_auc", "loo_correlation")
# Cheap settings: these tests are about plumbing and sign conventions, not estimator quality.
CHEAP = {"integrated_gradients": {"n_steps": 8}, "lime": {"n_samples": 60}, "shap": {"max_evals": 40},
         **OFFLINE_PARAMS}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ---- planted causes ----------------------------------------------------------------------------
PLANTED = {"blick": 0, "mip": 1, "zorb": 2}  # word -> class (three-class model)
PUSH = {"blick": -2.0, "zorb": 2.0}          # word -> target (regression model)


def sentences(n: int, seed: int, words, with_unplanted: bool = False):
    """(text, planted word or None, its unit position): filler words plus at most one planted word."""
    rng = np.random.default_rng(seed)
    choices = list(words) + ([None] if with_unplanted else [])
    out = []
    for _ in range(n):
        text = list(rng.choice(FILLER, rng.integers(4, 9)))
        word = choices[int(rng.integers(len(choices)))]
        position = int(rng.integers(len(text) + 1))
        if word is not None:
            text.insert(position, word)
        out.append((" ".join(text), word, position))
    return out


def fit(model, rows, target_of, loss_of, steps: int = 150):
    """A few seconds of AdamW on random mini-batches of ``rows``; the model is left in eval mode."""
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.hf_model.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    model.hf_model.train()
    for _ in range(steps):
        batch_rows = [rows[i] for i in rng.choice(len(rows), 32)]
        batch = engine.pad_batch(model.token_ids([t for t, _, _ in batch_rows]), model.pad_token_id, model.device)
        loss = loss_of(model.hf_model(**batch).logits, torch.stack([target_of(w) for _, w, _ in batch_rows]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.hf_model.eval()
    return model


@pytest.fixture(scope="module")
def planted_regression():
    """ŷ = +2 with "zorb", −2 with "blick", 0 without a planted word; σ = 2 so f = ŷ/2."""
    model = tiny_classifier(words=[*FILLER, *PUSH], chars=[], seed=0, regression=True)
    model.target_std = 2.0
    fit(model, sentences(2000, seed=1, words=PUSH, with_unplanted=True),
        lambda w: torch.tensor(PUSH.get(w, 0.0)), lambda out, y: torch.nn.functional.mse_loss(out[:, 0], y))
    test = sentences(24, seed=2, words=PUSH)
    y_hat = model.predict([t for t, _, _ in test])
    assert all((y > 1.0) == (w == "zorb") for y, (_, w, _) in zip(y_hat, test))  # the model learned the rule
    return model, test


@pytest.fixture(scope="module")
def planted_three_class():
    """Class 0/1/2 caused by "blick"/"mip"/"zorb"; sentences without one are trained towards 1/3 each,
    so removing the planted word really removes the evidence."""
    model = tiny_classifier(words=[*FILLER, *PLANTED], chars=[], seed=0, num_labels=3)
    model.labels = ["negative", "neutral", "positive"]

    def target(word):
        return torch.full((3,), 1 / 3) if word is None else torch.nn.functional.one_hot(
            torch.tensor(PLANTED[word]), 3).float()

    fit(model, sentences(2000, seed=1, words=PLANTED, with_unplanted=True), target,
        lambda out, y: torch.nn.functional.cross_entropy(out, y, label_smoothing=0.1))
    test = sentences(24, seed=2, words=PLANTED)
    assert (model.predict([t for t, _, _ in test]) == [PLANTED[w] for _, w, _ in test]).all()
    return model, test


@pytest.mark.slow  # trains a model (planted_regression)
@pytest.mark.parametrize("name", ["occlusion", "integrated_gradients"])
def test_regression_planted_word_is_found(planted_regression, name):
    model, test = planted_regression
    texts = [t for t, _, _ in test]
    attrs = xb.get_explainer(name, **({"n_steps": 32} if name == "integrated_gradients" else {})).explain(model, texts)
    assert all(a.output == "value" and a.target == 0 for a in attrs)
    # Scores > 0 push ŷ up: "zorb" ranks first; "blick" pushes ŷ down: it has the lowest score.
    found = [(int(a.ranking()[0]) if w == "zorb" else int(np.argmin(a.scores))) == p
             for a, (_, w, p) in zip(attrs, test)]
    assert np.mean(found) >= 0.9


@pytest.mark.slow
def test_regression_occlusion_scores_are_prediction_drops_over_sigma(planted_regression):
    model, test = planted_regression
    text, _, position = test[0]
    a = xb.get_explainer("occlusion").explain(model, [text])[0]
    without = " ".join(u.text for j, u in enumerate(model.units(text)) if j != position)
    drop = (model.predict([text])[0] - model.predict([without])[0]) / 2.0
    assert a.scores[position] == pytest.approx(drop, rel=1e-5, abs=1e-6)


@pytest.mark.slow  # trains a model (planted_three_class)
@pytest.mark.parametrize("name", ["occlusion", "integrated_gradients"])
def test_three_class_planted_word_is_found_for_its_class(planted_three_class, name):
    model, test = planted_three_class
    texts, targets = [t for t, _, _ in test], [PLANTED[w] for _, w, _ in test]
    explainer = xb.get_explainer(name, **({"n_steps": 32} if name == "integrated_gradients" else {}))
    attrs = explainer.explain(model, texts)  # default target: the predicted class = the planted class
    assert [a.target for a in attrs] == targets
    found = [int(a.ranking()[0]) == p for a, (_, _, p) in zip(attrs, test)]
    assert np.mean(found) >= 0.9


@pytest.mark.slow
def test_three_class_any_class_can_be_explained(planted_three_class):
    """Explaining p(negative) on a sentence caused to be positive: the planted "zorb" is the unit that
    most lowers p(negative), so it gets the most negative score; neutral ("mip") works as a target."""
    model, test = planted_three_class
    zorb = [(t, p) for t, w, p in test if w == "zorb"]
    attrs = xb.get_explainer("occlusion").explain(model, [t for t, _ in zorb], targets=[0] * len(zorb))
    assert all(a.target == 0 for a in attrs)
    assert np.mean([int(np.argmin(a.scores)) == p for a, (_, p) in zip(attrs, zorb)]) >= 0.9
    mip = [(t, p) for t, w, p in test if w == "mip"]
    neutral = xb.get_explainer("occlusion").explain(model, [t for t, _ in mip], targets=[1] * len(mip))
    assert np.mean([int(a.ranking()[0]) == p for a, (_, p) in zip(neutral, mip)]) >= 0.9
    logits = xb.get_explainer("occlusion", output="logit").explain(model, [zorb[0][0]], targets=[1])[0]
    assert logits.output == "logit" and np.all(np.isfinite(logits.scores))
    with pytest.raises(ValueError, match="class index"):
        xb.get_explainer("occlusion").explain(model, [zorb[0][0]], targets=[3])


# ---- hand-computed metric values on a linear regression model --------------------------------
WEIGHTS = {"good": 1.0, "bad": -2.0, "great": 2.0}  # ŷ = BIAS + sum of the words' weights
BIAS, SIGMA = 0.5, 2.0


class LinearRegressor(torch.nn.Module):
    """Looks like a Hugging Face regressor: one output, ŷ = bias + sum of per-token weights."""

    def __init__(self, tokenizer):
        super().__init__()
        vocab = tokenizer.get_vocab()
        table = torch.zeros(len(vocab), 1, dtype=torch.float64)
        for word, weight in WEIGHTS.items():
            table[vocab[word], 0] = weight
        self.table = torch.nn.Parameter(table, requires_grad=False)
        self.config = SimpleNamespace(num_labels=1, id2label={0: "rating"}, problem_type="regression",
                                      max_position_embeddings=64, xaibench_target_std=SIGMA)

    def forward(self, input_ids, attention_mask=None, **kwargs):
        return SimpleNamespace(logits=(self.table[input_ids] * attention_mask[..., None]).sum(1) + BIAS)


@pytest.fixture(scope="module")
def linear():
    tokenizer = vocab_tokenizer(list(WEIGHTS))
    return Classifier(LinearRegressor(tokenizer), tokenizer, name="linear")


# "good bad great": f(x) = ŷ/σ = (0.5 + 1 − 2 + 2)/2 = 0.75. Occlusion drops (= weights/σ):
# good 0.5, bad −1.0, great 1.0, so the ranking is great > good > bad.
# n = 3: AOPC k = 1, 1, 1, 1, 2; curve k over q = 0, 0.1, ..., 1 = 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3.
# without top-1 (great): −0.5/2 = −0.25; without top-2: −1.5/2 = −0.75; without all: 0.5/2 = 0.25.
# only top-1: 2.5/2 = 1.25; only top-2 (good great): 3.5/2 = 1.75; only none (""): 0.25.
HAND = {
    "comprehensiveness": (4 * (0.75 + 0.25) + (0.75 + 0.75)) / 5,                # 1.1
    "sufficiency": (4 * (0.75 - 1.25) + (0.75 - 1.75)) / 5,                      # −0.6
    "deletion_auc": 0.1 * (0.75 - 3 * 0.25 - 3 * 0.75 + 4 * 0.25 - (0.75 + 0.25) / 2),  # −0.175
    "insertion_auc": 0.1 * (0.25 + 3 * 1.25 + 3 * 1.75 + 4 * 0.75 - (0.25 + 0.75) / 2),  # 1.175
    "loo_correlation": 1.0,
}


def test_linear_regression_model_wiring(linear):
    assert linear.task_type == "regression" and linear.target_std == SIGMA and linear.labels == ["rating"]
    assert linear.explained_output(["good bad great"], [0])[0] == pytest.approx(0.75)
    occlusion = xb.get_explainer("occlusion").explain(linear, ["good bad great"])[0]
    np.testing.assert_allclose(occlusion.scores, [0.5, -1.0, 1.0], atol=1e-12)


def test_metrics_match_hand_computation_on_a_linear_regressor(linear):
    a = xb.get_explainer("occlusion").explain(linear, ["good bad great"])[0]
    results = evaluate_metrics(linear, [xb.get_metric(n) for n in FAITHFULNESS], [a])
    for name, value in HAND.items():
        assert results[name].values[0] == pytest.approx(value, abs=1e-9), name
    assert HAND["comprehensiveness"] == pytest.approx(1.1) and HAND["sufficiency"] == pytest.approx(-0.6)
    assert HAND["deletion_auc"] == pytest.approx(-0.175) and HAND["insertion_auc"] == pytest.approx(1.175)
    # Same formulas for scores from elsewhere: good > bad > great gives one concordant pair of 3.
    other = xb.attribution_from_scores(linear, "good bad great", [1.0, -1.0, 0.5])
    assert other.output == "value" and other.target == 0
    tau = evaluate_metrics(linear, [xb.get_metric("loo_correlation")], [other])["loo_correlation"]
    assert tau.values[0] == pytest.approx(1 / 3)


def test_shap_recovers_the_linear_weights(linear):
    a = xb.get_explainer("shap", max_evals=40).explain(linear, ["good bad great"])[0]
    np.testing.assert_allclose(a.scores, [0.5, -1.0, 1.0], atol=1e-9)  # additive model: exact


def test_lime_local_fit_recovers_the_linear_model(linear):
    """LIME's local model on a linear model: R² ≈ 1, intercept ≈ f("") = BIAS/σ and the scores ≈ the
    weights/σ (its Ridge(alpha=1) shrinks them a little: 0.47, −0.98, 0.96 at 300 samples)."""
    a = xb.get_explainer("lime", n_samples=300).explain(linear, ["good bad great"])[0]
    assert a.metadata["lime_r2"] > 0.99
    assert a.metadata["lime_intercept"] == pytest.approx(BIAS / SIGMA, abs=0.05)
    np.testing.assert_allclose(a.scores, [0.5, -1.0, 1.0], atol=0.05)


# ---- every explainer on tiny regression and three-class models ---------------------------------
TEXTS = ["the movie was very good", "bad product , slow delivery", "质量很好，物流快", "ok"]


@pytest.fixture(scope="module")
def tiny_regression():
    model = tiny_classifier(regression=True, seed=3)
    model.target_std = 1.7
    return model


@pytest.fixture(scope="module")
def tiny_three_class():
    return tiny_classifier(num_labels=3, seed=4)


@pytest.mark.parametrize("name", offline_explainer_names())
def test_every_explainer_on_a_regression_model(tiny_regression, name):
    attrs = xb.get_explainer(name, **CHEAP.get(name, {})).explain(tiny_regression, TEXTS)
    for a, text in zip(attrs, TEXTS):
        assert a.output == "value" and a.target == 0
        assert len(a.scores) == len(tiny_regression.units(text)) and np.all(np.isfinite(a.scores))
    values = evaluate_metrics(tiny_regression, [xb.get_metric(n) for n in FAITHFULNESS], attrs)
    assert np.isfinite(values["comprehensiveness"].values).all()


@pytest.mark.parametrize("name", offline_explainer_names())
def test_every_explainer_on_a_three_class_model(tiny_three_class, name):
    explainer = xb.get_explainer(name, **CHEAP.get(name, {}))
    for targets in (None, [0, 1, 2, 1]):
        attrs = explainer.explain(tiny_three_class, TEXTS, targets=targets)
        expected = list(tiny_three_class.predicted_targets(TEXTS)) if targets is None else targets
        assert [a.target for a in attrs] == expected
        for a, text in zip(attrs, TEXTS):
            assert a.output == "prob" and len(a.scores) == len(tiny_three_class.units(text))
            assert np.all(np.isfinite(a.scores))
    values = evaluate_metrics(tiny_three_class, [xb.get_metric(n) for n in FAITHFULNESS], attrs)
    assert np.isfinite(values["sufficiency"].values).all()


def test_three_class_metrics_use_the_explained_class_probability(tiny_three_class):
    text = TEXTS[0]
    a = xb.get_explainer("occlusion").explain(tiny_three_class, [text], targets=[1])[0]
    result = evaluate_metrics(tiny_three_class, [xb.get_metric("deletion_auc")], [a])["deletion_auc"]
    p_neutral = tiny_three_class.predict_proba([text])[0, 1]
    assert result.curves[0]["f_x"] == pytest.approx(p_neutral) and result.curves[0]["values"][0] == pytest.approx(p_neutral)


def test_stability_and_sanity_metrics_run_on_a_regression_model(tiny_regression):
    attrs = xb.get_explainer("occlusion").explain(tiny_regression, TEXTS[:2])
    for name in ("randomization_sanity", "perturbation_stability", "seed_stability"):
        result = xb.get_metric(name).evaluate(tiny_regression, attrs)
        assert len(result.values) == 2
        assert all(np.isfinite(v) or note for v, note in zip(result.values, result.notes)), name


# ---- user files --------------------------------------------------------------------------------
def test_user_csv_with_a_target_column_is_a_regression_task(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text("id,text,target\na,great phone,3.5\nb,awful,-2\nc,fine,0\n", encoding="utf-8")
    ds = xb.load_dataset(str(path))
    assert ds.task_type == "regression" and ds.labels == [3.5, -2.0, 0.0] and ds.ids == ["a", "b", "c"]


def test_user_target_problems_are_all_reported_with_line_numbers(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("text,target\ngood,1.5\nbad,minus two\n,0.5\nok,\nfine,inf\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as err:
        xb.load_dataset(str(path))
    message = str(err.value)
    for expected in ("line 3: target 'minus two' is not a finite number", "line 4: empty text",
                     "line 5: missing target", "line 6: target 'inf' is not a finite number"):
        assert expected in message
    jsonl = tmp_path / "bad.jsonl"
    jsonl.write_text(json.dumps({"text": "a", "target": 1}) + "\n" + json.dumps({"text": "b", "target": True}) + "\n",
                     encoding="utf-8")
    with pytest.raises(DataValidationError, match="line 2: target True is not a finite number"):
        xb.load_dataset(str(jsonl))


def test_user_file_must_match_the_model_task(tmp_path):
    from xaibench.datasets.user_file import read_user_file

    both = tmp_path / "both.csv"
    both.write_text("text,label,target\ngood,1,2.0\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match="both 'label'"):
        read_user_file(str(both))
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("text,target\ngood,2.0\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match="line 1: a 'target' column makes this a regression"):
        read_user_file(str(ratings), label_names=["negative", "positive"], task_type="classification")
    labels = tmp_path / "labels.csv"
    labels.write_text("text,label\ngood,1\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match="the model is a regression model"):
        read_user_file(str(labels), task_type="regression")
    assert read_user_file(str(ratings), task_type="regression").task_type == "regression"


def test_run_options_check_a_target_file_against_a_builtin_classifier(tmp_path):
    from xaibench.harness.config import resolve

    ratings = tmp_path / "ratings.csv"
    ratings.write_text("text,target\ngood,2.0\n", encoding="utf-8")
    # Validated before any model is loaded or trained.
    with pytest.raises(DataValidationError, match="regression data set, but the model is a classifier"):
        resolve({"dataset": str(ratings), "model": "minilm-reviews-en"})
    three = tmp_path / "three.csv"
    three.write_text("text,label\ngood,positive\nmeh,neutral\nbad,negative\nhm,mixed\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match="line 5: label 'mixed' is not one of the classes"):
        resolve({"dataset": str(three), "model": "minilm-sentiment3-en"})


def test_user_labels_with_more_than_two_classes(tmp_path):
    named = tmp_path / "three.csv"
    named.write_text("text,label\ngood,positive\nmeh,Neutral\nbad,negative\n", encoding="utf-8")
    ds = xb.load_dataset(str(named), label_names=["negative", "neutral", "positive"])
    assert ds.task_type == "classification" and ds.labels == [2, 1, 0]
    numeric = tmp_path / "numeric.jsonl"
    numeric.write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in
                               [("a", 0), ("b", 3), ("c", 1), ("d", 2)]), encoding="utf-8")
    ds = xb.load_dataset(str(numeric))
    assert ds.label_names == ["0", "1", "2", "3"] and ds.labels == [0, 3, 1, 2]


# ---- built-in models, tasks and training -------------------------------------------------------
def test_builtin_regression_and_three_class_models_and_tasks():
    from xaibench.core import registry
    from xaibench.harness.config import builtin_tasks, profile_datasets
    from xaibench.modeling.loading import model_labels, model_task_type
    from xaibench.zoo import recipes

    assert builtin_tasks()["ratings-en"] == "minilm-ratings-en"
    assert builtin_tasks()["sentiment3-en"] == "minilm-sentiment3-en"
    for profile in ("quick", "full"):
        assert {"ratings-en", "sentiment3-en"} <= set(profile_datasets(profile))
    assert profile_datasets("smoke") == ["reviews-en", "reviews-zh"]  # CI time stays flat
    ratings, three = registry.models.create("minilm-ratings-en"), registry.models.create("minilm-sentiment3-en")
    assert ratings.task_type == "regression" and ratings.recipe["dataset"] == "ratings-en"
    assert three.labels == xb.load_dataset("sentiment3-en", split="test", n=1).label_names
    assert model_labels("minilm-ratings-en") is None and model_task_type("minilm-ratings-en") == "regression"
    assert model_labels("minilm-sentiment3-en") == ["negative", "neutral", "positive"]
    assert ratings.targets["test_pearson_r"] >= 0.75 and three.targets["test_accuracy"] >= 0.70
    assert max(ratings.targets["train_seconds"], three.targets["train_seconds"]) <= 300
    for recipe in (recipes.MINILM_RATINGS_EN, recipes.MINILM_SENTIMENT3_EN):
        assert json.loads(json.dumps(recipe)) == recipe and recipe["split"] == "train"
    # The binary recipes keep their keys (no "task_type"/"labels" fields): cached models stay valid.
    assert "task_type" not in recipes.MINILM_REVIEWS_EN and "labels" not in recipes.CHARBERT_REVIEWS_ZH


def test_training_loop_fits_float_targets_with_mse_reproducibly():
    from xaibench.zoo.training import train_classifier

    def run():
        model = tiny_classifier(regression=True, hidden=16, layers=1, seed=0)
        texts = ["good product", "bad product", "very good", "awful", "great", "hate it", "love it", "ok"]
        targets = [1.0, -1.0, 1.5, -1.5, 1.2, -1.2, 1.1, 0.0]
        ids = model.tokenizer(texts)["input_ids"]
        stats = train_classifier(model.hf_model, ids, targets, pad_token_id=model.pad_token_id, batch_size=4,
                                 lr=1e-2, epochs=8, seed=0, warmup_ratio=0.1)
        return model, stats, texts, targets

    model, stats, texts, targets = run()
    assert stats.steps == 16 and np.isfinite(stats.final_loss)
    assert np.corrcoef(model.predict(texts), targets)[0, 1] > 0.5
    again, _, _, _ = run()
    for a, b in zip(model.hf_model.parameters(), again.hf_model.parameters()):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="finite"):
        train_classifier(again.hf_model, [[2, 3]], [math.nan], pad_token_id=0, batch_size=1, lr=1e-3, epochs=1, seed=0)


def test_unstandardised_head_predicts_in_target_units(tmp_path):
    from xaibench.modeling.loading import from_folder
    from xaibench.zoo.builds import unstandardise_head

    model = tiny_classifier(regression=True, hidden=16, layers=1, seed=1)
    texts = ["good product", "awful delivery"]
    z = model.predict(texts)
    unstandardise_head(model.hf_model, mean=0.1, std=1.8)
    np.testing.assert_allclose(model.predict(texts), z * 1.8 + 0.1, rtol=1e-5)
    model.hf_model.config.xaibench_target_std = 1.8
    model.hf_model.save_pretrained(tmp_path)
    model.tokenizer.save_pretrained(tmp_path)
    reloaded = from_folder(str(tmp_path))
    assert reloaded.target_std == pytest.approx(1.8)
    np.testing.assert_allclose(reloaded.explained_output(texts, [0, 0]), (z * 1.8 + 0.1) / 1.8, rtol=1e-5)


def test_quality_measures_by_hand():
    from xaibench.zoo.model_card import classification_quality, regression_quality

    q = classification_quality([0, 1, 2, 2], [0, 2, 2, 2], 3)
    # F1: class 0 = 1, class 1 = 0 (never predicted), class 2 = 2*2/(2+3) = 0.8
    assert q["accuracy"] == 0.75 and q["macro_f1"] == pytest.approx((1 + 0 + 0.8) / 3)
    r = regression_quality([1.0, 2.0, 3.0], [1.5, 2.0, 2.5])
    assert r["pearson_r"] == pytest.approx(1.0) and r["mae"] == pytest.approx(1 / 3)
    assert r["rmse"] == pytest.approx(math.sqrt(0.5 / 3))


# ---- tables and pictures -----------------------------------------------------------------------
def test_tables_group_results_by_task_type():
    from xaibench.report import tables as reporting

    rows = []
    for dataset, model, kind in (("ratings-en", "minilm-ratings-en", "regression"),
                                 ("sentiment3-en", "minilm-sentiment3-en", "classification")):
        for explainer in ("random", "occlusion"):
            for i in range(4):
                rows.append({"dataset": dataset, "model": model, "explainer": explainer, "metric": "comprehensiveness",
                             "device": "cpu", "example_id": str(i), "value": 0.1 * i + (explainer == "occlusion"),
                             "random_reference": 0.0, "status": "ok", "higher_is_better": True, "task_type": kind})
    summary = reporting.summarize(pd.DataFrame(rows))
    assert set(summary["task_type"]) == {"regression", "classification"}
    text = reporting.markdown_tables(summary)
    assert text.index("### Classification tasks") < text.index("#### sentiment3-en") \
        < text.index("### Regression tasks") < text.index("#### ratings-en · minilm-ratings-en, regression: f = ŷ/σ")
    assert "ŷ(x)/σ" in text


def test_explained_quantity_names():
    from xaibench.report.quantities import quantity_name, shared_quantity, task_quantities

    assert quantity_name("prob", "neutral") == "p(neutral)"
    assert quantity_name("logit", "neutral") == "logit(neutral)"
    assert quantity_name("value", "rating") == "predicted rating / σ"
    assert quantity_name("value", "LABEL_0") == "predicted value / σ"
    assert shared_quantity(["prob"] * 3, [1, 1, 1], ["negative", "neutral", "positive"]) == "p(neutral)"
    assert shared_quantity(["prob"] * 2, [0, 2], ["negative", "neutral", "positive"]) == "p(explained class)"
    rows = [{"dataset": "ratings-en", "model": "m", "output": "value", "target": 0}]
    assert task_quantities(rows, {"m@cpu": {"labels": ["rating"]}}) == {("ratings-en", "m"): "predicted rating / σ"}


def test_plots_name_the_explained_quantity(linear, tiny_three_class):
    a = xb.get_explainer("occlusion").explain(linear, ["good bad great"])[0]
    fig = xb.plot_attribution(a, labels=linear.labels)
    assert "predicted rating / σ" in fig.axes[0].get_title() and "predicted rating / σ" in fig.axes[0].get_xlabel()
    b = xb.get_explainer("occlusion").explain(tiny_three_class, ["good movie"], targets=[1])[0]
    fig = xb.plot_attribution(b, labels=["negative", "neutral", "positive"])
    assert "p(neutral)" in fig.axes[0].get_title()
    assert "p(class 1)" in xb.plot_attribution(b).axes[0].get_title()


def test_curve_figure_axis_names_the_quantity(tmp_path, monkeypatch):
    from matplotlib.axes import Axes

    from xaibench.report import figures

    labels = []
    monkeypatch.setattr(Axes, "set_ylabel", lambda self, text, *a, **k: labels.append(text))
    curves = pd.DataFrame([{"dataset": "ratings-en", "model": "m", "explainer": "occlusion", "metric": metric,
                            "example_id": "0", "fraction": q, "value": 1 - q}
                           for metric in ("deletion_auc", "insertion_auc") for q in (0.0, 0.5, 1.0)])
    written = figures.curve_figures(curves, tmp_path, quantities={("ratings-en", "m"): "predicted rating / σ"})
    assert len(written) == 1 and written[0].is_file()
    assert labels == ["predicted rating / σ (mean)"] * 2
