import numpy as np
import pytest

from xaibench.modeling.engine import plan_batches


@pytest.fixture(scope="module")
def tiny_model():
    """This module's own tiny model (the shared session one is never mutated): its tests reset and
    read the pass counters."""
    from xaibench.testing import tiny_classifier

    return tiny_classifier(num_labels=2, seed=0)


def test_predict_proba_batched_equals_one_at_a_time(tiny_model):
    texts = ["this product is great !", "bad", "质量很好，物流也快！", "", "i love this phone 👍",
             "the delivery was very slow and the quality is poor"] * 3
    batched = tiny_model.predict_proba(texts)
    single = np.stack([tiny_model.predict_proba([t])[0] for t in texts])
    assert batched.shape == (len(texts), 2)
    np.testing.assert_allclose(batched, single, atol=1e-5)
    np.testing.assert_allclose(batched.sum(axis=1), 1.0, atol=1e-9)


def test_order_is_restored_and_duplicates_counted_once(tiny_model):
    texts = ["good", "bad product", "good", "the quality is terrible and slow"]
    tiny_model.reset_counters()
    p = tiny_model.predict_proba(texts)
    assert tiny_model.n_forward == 3  # "good" evaluated once
    np.testing.assert_allclose(p[0], p[2])
    reversed_p = tiny_model.predict_proba(texts[::-1])
    np.testing.assert_allclose(reversed_p[::-1], p, atol=1e-6)


def test_small_token_budget_gives_same_probabilities(tiny_model, monkeypatch):
    texts = [f"the product is {'very ' * i}good" for i in range(12)]
    ref = tiny_model.predict_proba(texts)
    monkeypatch.setattr(tiny_model, "token_budget", 40)
    np.testing.assert_allclose(tiny_model.predict_proba(texts), ref, atol=1e-5)


@pytest.mark.parametrize("text", ["the product is great !", "质量很好，物流也快！", "iPhone 手机 😀 ok", "x"])
def test_every_token_maps_to_a_unit(tiny_model, text):
    units = tiny_model.units(text)
    mapping = tiny_model.token_units(text)
    ids = tiny_model.token_ids([text])[0]
    assert len(mapping) == len(ids)
    assert mapping[0] == -1 and mapping[-1] == -1  # [CLS], [SEP]
    inner = mapping[1:-1]
    assert set(inner.tolist()) == set(range(len(units)))  # every unit has >= 1 token


def test_explained_output_matches_probabilities(tiny_model):
    texts = ["good", "bad product"]
    p = tiny_model.predict_proba(texts)
    np.testing.assert_allclose(tiny_model.explained_output(texts, [1, 0]), [p[0, 1], p[1, 0]])
    logits = tiny_model.logits(texts)
    np.testing.assert_allclose(tiny_model.explained_output(texts, [1, 0], "logit"), [logits[0, 1], logits[1, 0]])
    with pytest.raises(ValueError, match="output"):
        tiny_model.explained_output(texts, [1, 0], "value")


def test_regression_model_explains_scaled_value():
    from xaibench.testing import tiny_classifier

    reg = tiny_classifier(regression=True)
    reg.target_std = 2.0
    assert reg.task_type == "regression" and reg.default_output == "value"
    y = reg.predict(["good", "bad"])
    np.testing.assert_allclose(reg.explained_output(["good", "bad"], [0, 0]), y / 2.0)
    with pytest.raises(TypeError, match="regression"):
        reg.predict_proba(["good"])


def test_plan_batches_respects_budget_and_covers_all():
    lengths = [5, 50, 7, 12, 50, 3, 30, 8]
    batches = plan_batches(lengths, token_budget=100, max_batch=3)
    seen = np.concatenate(batches)
    assert sorted(seen.tolist()) == list(range(len(lengths)))
    for b in batches:
        assert len(b) <= 3
        assert max(lengths[i] for i in b) * len(b) <= 100 or len(b) == 1
    # longest first: padding waste stays small
    firsts = [max(lengths[i] for i in b) for b in batches]
    assert firsts == sorted(firsts, reverse=True)


def test_cuda_request_without_gpu_is_a_clear_error():
    import torch

    from xaibench.modeling.classifier import resolve_device

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        resolve_device("cuda")
