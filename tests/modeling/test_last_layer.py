"""The last layer's first-token shortcut (xaibench.modeling.last_layer): same logits and gradients as the
full forward, installed only where it is verified, never used for the attention explainers."""
import numpy as np
import pytest
import torch

import xaibench as xb
from xaibench.modeling import last_layer
from xaibench.testing import tiny_classifier

TEXTS = ["the product is great and the delivery was fast", "bad quality , never buy again",
         "质量很好，物流也快！", "ok"]


@pytest.fixture(scope="module")
def pair():
    """The same tiny BERT twice: with the shortcut (the default) and without."""
    return tiny_classifier(seed=3), tiny_classifier(seed=3, last_layer_shortcut=False)


def test_installed_on_bert_and_logits_agree(pair):
    fast, full = pair
    assert fast.info["last_layer_shortcut"] is True and full.info["last_layer_shortcut"] is False
    np.testing.assert_allclose(fast.logits(TEXTS), full.logits(TEXTS), atol=1e-5)


def test_shortcut_really_computes_one_row(pair):
    fast, _ = pair
    layer = fast.hf_model.base_model.encoder.layer[-1]
    seen = []
    handle = layer.intermediate.register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape)))
    try:
        fast.logits(["the product is great"])
    finally:
        handle.remove()
    assert seen and seen[0][1] == 1  # the feed-forward block ran on one token per text


@pytest.mark.parametrize("name", ["saliency", "grad_x_input", "integrated_gradients", "attention",
                                  "attention_rollout"])
def test_explanations_do_not_change(pair, name):
    fast, full = pair
    params = {"n_steps": 8} if name == "integrated_gradients" else {}
    a = xb.get_explainer(name, **params).explain(fast, TEXTS, targets=[1, 0, 1, 0])
    b = xb.get_explainer(name, **params).explain(full, TEXTS, targets=[1, 0, 1, 0])
    for x, y in zip(a, b):
        np.testing.assert_allclose(x.scores, y.scores, atol=1e-6)


def test_not_installed_when_the_probe_disagrees(monkeypatch):
    monkeypatch.setattr(last_layer, "_first_token_forward",
                        lambda layer, hidden, mask: torch.zeros_like(hidden[:, :1]))
    with pytest.warns(RuntimeWarning, match="does not reproduce"):
        model = tiny_classifier(seed=4)
    assert model.info["last_layer_shortcut"] is False
    model.logits(TEXTS)  # the full layer runs


def test_not_installed_for_unsupported_architectures():
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    from xaibench.modeling.classifier import Classifier
    from xaibench.modeling.tokenization import vocab_tokenizer

    tokenizer = vocab_tokenizer("the a good bad product".split())
    config = DistilBertConfig(vocab_size=len(tokenizer.get_vocab()), dim=32, n_layers=1, n_heads=2, hidden_dim=64,
                              max_position_embeddings=32, pad_token_id=tokenizer.pad_token_id)
    model = Classifier(DistilBertForSequenceClassification(config), tokenizer, max_length=32)
    assert model.info["last_layer_shortcut"] is False
    assert np.isfinite(model.logits(["the good product"])).all()
