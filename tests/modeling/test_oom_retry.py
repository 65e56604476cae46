"""GPU out of memory during a model pass: the engine halves the token budget and retries the batch
(same values, each text counted once); out of memory on a single text is reported, not retried.
CUDA's error is simulated on CPU by a wrapper that refuses batches above a token count."""
import warnings

import numpy as np
import pytest
import torch


class _OutOfMemoryAbove(torch.nn.Module):
    """Wraps a model; raises CUDA's out-of-memory error for batches of more than ``limit`` tokens."""

    def __init__(self, inner, limit):
        super().__init__()
        self.inner, self.limit, self.calls = inner, limit, []

    def forward(self, input_ids, attention_mask, **kwargs):
        self.calls.append(input_ids.numel())
        if input_ids.numel() > self.limit:
            raise torch.cuda.OutOfMemoryError(f"CUDA out of memory (simulated, {input_ids.numel()} tokens)")
        return self.inner(input_ids=input_ids, attention_mask=attention_mask, **kwargs)


def test_out_of_memory_halves_the_token_budget_and_retries():
    from xaibench.metrics.evaluation import forward_inputs
    from xaibench.testing import tiny_classifier

    model = tiny_classifier(num_labels=2, seed=0)
    vocab = "the movie was good bad great awful phone works nice poor fine".split()
    texts = [" ".join(vocab[(i + j) % len(vocab)] for j in range(3 + i % 9)) for i in range(40)]
    expected = model.logits(texts)
    model.n_forward = 0
    budget = model.token_budget
    model.hf_model = _OutOfMemoryAbove(model.hf_model, limit=300)
    with pytest.warns(RuntimeWarning, match=f"out of memory .* token budget of {budget}; retrying with"):
        got = model.logits(texts)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert model.token_budget <= 300 and model.n_oom_retries >= 1
    assert model.n_forward == len(set(texts))             # each distinct text counted once
    first, *retries = model.hf_model.calls
    assert first > 300 and retries and all(c <= 300 for c in retries)   # one failure, then smaller batches
    # The metric engine's path (token-id inputs) shares the retry.
    model.token_budget = budget
    ids = [tuple(x) for x in model.token_ids(texts)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        np.testing.assert_allclose(forward_inputs(model, ids), expected, rtol=1e-5, atol=1e-6)


def test_out_of_memory_on_a_single_text_is_reported():
    from xaibench.testing import tiny_classifier

    model = tiny_classifier(num_labels=2, seed=0)
    model.hf_model = _OutOfMemoryAbove(model.hf_model, limit=3)
    with pytest.raises(torch.cuda.OutOfMemoryError, match="out of memory on cpu with a single text of 6 tokens"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            model.logits(["good bad movie nice", "bad"])
