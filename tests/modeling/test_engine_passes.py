"""The engine's gradient, attention and embedding-substituted passes: counted by the engine, and
retried with a smaller token budget when a batch runs out of GPU memory (simulated on the CPU by a
model whose first call with more than one row raises ``torch.cuda.OutOfMemoryError``)."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import xaibench as xb
from xaibench.modeling import engine
from xaibench.modeling.attention import attention_weights
from xaibench.modeling.gradients import embedding_forward, input_gradients
from xaibench.testing import tiny_classifier

TEXTS = ["the product is very good !", "awful delivery , never again", "质量很好，物流快", "ok",
         "i really love this phone , it works great", "terrible book . would not buy again", "很好",
         "the movie was bad but the price was nice and fast delivery", "不 满意 太贵",
         "this is not a great film , it is a poor one , never recommend"]
TARGETS = [1, 0, 1, 0, 1, 0, 1, 0, 0, 1]
# A retry batches texts differently, so padding widths differ: the same arithmetic up to float32 rounding.
RTOL, ATOL = 1e-5, 1e-7
OOM_WARNING = r"out of memory on cpu with a token budget of 2048; retrying with"


def _out_of_memory_once(model, monkeypatch) -> list[int]:
    """Make the first ``hf_model`` call with more than one row raise CUDA's out-of-memory error;
    returns the rows of every call, in order."""
    forward, rows = model.hf_model.forward, []

    def flaky(*args, **kwargs):
        n = int(kwargs["input_ids"].shape[0])
        rows.append(n)
        if n > 1 and len([r for r in rows if r > 1]) == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return forward(*args, **kwargs)

    monkeypatch.setattr(model.hf_model, "forward", flaky)
    return rows


def _per_text(parts, token_ids):
    """(embeddings, gradients) of every text, unpadded, from ``input_gradients``' batches."""
    out = [None] * len(token_ids)
    for idx, embeddings, grads in parts:
        for row, i in enumerate(idx):
            n = len(token_ids[i])
            out[i] = (embeddings[row, :n].numpy(), grads[row, :n].numpy())
    return out


def _assert_retried_once(model, rows):
    """One failure, then smaller batches under a smaller budget."""
    assert model.n_oom_retries == 1 and model.token_budget < 2048
    failed = next(i for i, r in enumerate(rows) if r > 1)
    assert rows[failed + 1:] and max(rows[failed + 1:]) < rows[failed], rows


def test_gradient_batch_out_of_memory_is_retried_with_a_smaller_budget(monkeypatch):
    ids = tiny_classifier().token_ids(TEXTS)
    expected = _per_text(input_gradients(tiny_classifier(), ids, TARGETS, "prob"), ids)
    model = tiny_classifier()
    rows = _out_of_memory_once(model, monkeypatch)
    with pytest.warns(RuntimeWarning, match=OOM_WARNING):
        got = _per_text(input_gradients(model, ids, TARGETS, "prob"), ids)
    _assert_retried_once(model, rows)
    for (emb, grad), (emb_ref, grad_ref) in zip(got, expected):
        np.testing.assert_array_equal(emb, emb_ref)
        np.testing.assert_allclose(grad, grad_ref, rtol=RTOL, atol=ATOL)
    assert (model.n_forward, model.n_backward) == (len(TEXTS), len(TEXTS)), "the failed batch counts nothing"


def test_gradient_explainer_gives_the_same_scores_after_a_retry(monkeypatch):
    expected = xb.get_explainer("grad_x_input").explain(tiny_classifier(), TEXTS, targets=TARGETS)
    model = tiny_classifier()
    _out_of_memory_once(model, monkeypatch)
    with pytest.warns(RuntimeWarning, match=OOM_WARNING):
        got = xb.get_explainer("grad_x_input").explain(model, TEXTS, targets=TARGETS)
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a.scores, b.scores, rtol=RTOL, atol=ATOL)
    assert sum(a.cost["n_backward"] for a in got) == len(TEXTS)


@pytest.mark.parametrize("name", ["attention", "attention_rollout"])
def test_attention_batch_out_of_memory_is_retried_with_a_smaller_budget(name, monkeypatch):
    expected = xb.get_explainer(name).explain(tiny_classifier(), TEXTS, targets=TARGETS)
    model = tiny_classifier()
    rows = _out_of_memory_once(model, monkeypatch)
    with pytest.warns(RuntimeWarning, match=OOM_WARNING):
        got = xb.get_explainer(name).explain(model, TEXTS, targets=TARGETS)
    _assert_retried_once(model, rows)
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a.scores, b.scores, rtol=RTOL, atol=ATOL)
    assert (model.n_forward, model.n_backward) == (len(TEXTS), 0)


def test_integrated_gradients_batch_out_of_memory_is_retried_with_a_smaller_budget(monkeypatch):
    explainer = xb.get_explainer("integrated_gradients", n_steps=4)
    expected = explainer.explain(tiny_classifier(), TEXTS, targets=TARGETS)
    model = tiny_classifier()
    _out_of_memory_once(model, monkeypatch)
    with pytest.warns(RuntimeWarning, match=OOM_WARNING):
        got = explainer.explain(model, TEXTS, targets=TARGETS)
    assert model.n_oom_retries == 1
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a.scores, b.scores, rtol=RTOL, atol=ATOL)
        assert a.metadata["convergence_delta"] == pytest.approx(b.metadata["convergence_delta"], abs=1e-6)
    # n_steps path rows and 2 endpoint rows per text, each counted once; the path rows are differentiated.
    assert (model.n_forward, model.n_backward) == (6 * len(TEXTS), 4 * len(TEXTS))


def test_out_of_memory_on_a_single_text_is_reported_by_the_gradient_pass(monkeypatch):
    model = tiny_classifier()

    def always(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")

    monkeypatch.setattr(model.hf_model, "forward", always)
    ids = model.token_ids(["good bad movie nice"])
    with pytest.raises(torch.cuda.OutOfMemoryError, match="out of memory on cpu with a single text of 6 tokens"):
        input_gradients(model, ids, [0], "prob")
    assert (model.n_forward, model.n_backward) == (0, 0)


def test_a_model_without_attention_weights_is_refused_with_the_remedy(monkeypatch):
    model = tiny_classifier()
    monkeypatch.setattr(model.hf_model, "forward", lambda *args, **kwargs: SimpleNamespace(attentions=None))
    with pytest.raises(RuntimeError, match="returned no attention weights; load it with attn_implementation='eager'"):
        attention_weights(model, model.token_ids(TEXTS[:2]), lambda attentions, pooled: None)


def test_attention_weights_reduce_each_batch_and_count_its_texts():
    model = tiny_classifier(token_budget=40)  # several batches
    ids = model.token_ids(TEXTS)
    shapes = attention_weights(model, ids, lambda attentions, pooled: (len(attentions), tuple(attentions[-1].shape)))
    assert len(shapes) > 1
    assert sorted(i for idx, _ in shapes for i in idx) == list(range(len(TEXTS)))
    for idx, (n_layers, (batch, heads, queries, keys)) in shapes:
        width = max(len(ids[i]) for i in idx)
        assert (n_layers, batch, heads, queries, keys) == (2, len(idx), 2, width, width)
    assert (model.n_forward, model.n_backward) == (len(TEXTS), 0)


def test_embedding_forward_is_the_model_at_its_own_embeddings_and_counts_rows():
    model = tiny_classifier()
    ids = model.token_ids(TEXTS[:3])
    batch = engine.pad_batch(ids, model.pad_token_id, model.device)
    with torch.no_grad():
        embeddings = model.hf_model.get_input_embeddings()(batch["input_ids"])
        logits = embedding_forward(model, embeddings, batch["input_ids"], batch["attention_mask"])
    np.testing.assert_allclose(logits.double().numpy(), engine.batched_logits(model, ids), rtol=RTOL, atol=ATOL)
    assert (model.n_forward, model.n_backward) == (3, 0), "no backward without autograd"

    leaf = embeddings.clone().requires_grad_(True)
    logits = embedding_forward(model, leaf, batch["input_ids"], batch["attention_mask"])
    assert (model.n_forward, model.n_backward) == (6, 0), "a backward is counted when it runs"
    (grads,) = torch.autograd.grad(logits[:, 1].sum(), leaf)
    assert (model.n_forward, model.n_backward) == (6, 3)
    assert grads.abs().sum() > 0
