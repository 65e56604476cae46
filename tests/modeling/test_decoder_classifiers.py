"""Decoder sequence classifiers (GPT-2 and Llama configurations, random weights, no download):
last-token pooling, a pad token where the tokenizer has none, batched = one text at a time, units
without [CLS], every explainer, attention read at the pooled token, a planted cause found by
occlusion and Integrated Gradients on a tiny GPT-2 trained in seconds, and a run of
``pytest benchmarks/ --xb-model <folder>`` with a user CSV."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import xaibench as xb
from xaibench.modeling import engine
from xaibench.testing import OFFLINE_PARAMS, DECODERS, offline_explainer_names, tiny_classifier, tiny_decoder

ROOT = Path(__file__).resolve().parents[2]
TEXTS = ["the movie was good", "bad phone , never again !", "质量很好", "good", "I would never buy this again ."]
CHEAP = {"integrated_gradients": {"n_steps": 4}, "lime": {"n_samples": 20}, "shap": {"max_evals": 20},
         "gradient_shap": {"n_samples": 4}, "smoothgrad": {"n_samples": 4}, "kernel_shap": {"n_samples": 16},
         **OFFLINE_PARAMS}


@pytest.fixture(scope="module", params=DECODERS)
def decoder(request, one_torch_thread):
    return tiny_decoder(request.param)


def test_pooling_and_pad_token(decoder):
    assert decoder.pooling == "last" and tiny_classifier().pooling == "first"
    assert decoder.tokenizer.pad_token == decoder.tokenizer.eos_token  # the tokenizer had none
    assert decoder.hf_model.config.pad_token_id == decoder.pad_token_id
    assert decoder.info["last_layer_shortcut"] is False  # the first-token shortcut is for encoders
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]])
    assert decoder.pooled_positions(mask).tolist() == [2, 3]
    with pytest.raises(ValueError, match="pooling must be one of"):
        tiny_decoder("gpt2", pooling="mean")


def test_batched_equals_one_text_at_a_time(decoder):
    together = decoder.logits(TEXTS)
    alone = np.concatenate([decoder.logits([t]) for t in TEXTS])
    np.testing.assert_allclose(together, alone, atol=1e-6)
    # The engine pads on the right whatever the tokenizer says: left padding changes nothing.
    decoder.tokenizer.padding_side = "left"
    try:
        np.testing.assert_allclose(decoder.logits(TEXTS), together, atol=1e-6)
    finally:
        decoder.tokenizer.padding_side = "right"


def test_every_unit_has_tokens_and_special_tokens_none(decoder):
    ids, maps = decoder.encode(TEXTS)
    for text, row, units_of_tokens in zip(TEXTS, ids, maps):
        assert set(units_of_tokens[units_of_tokens >= 0]) == set(range(len(decoder.units(text))))
        for token, unit in zip(row, units_of_tokens):
            if token in decoder.tokenizer.all_special_ids and token != decoder.tokenizer.unk_token_id:
                assert unit == -1  # a Llama BOS is no unit


@pytest.mark.parametrize("name", offline_explainer_names())
def test_every_explainer_on_a_decoder(decoder, name):
    attrs = xb.get_explainer(name, **CHEAP.get(name, {})).explain(decoder, TEXTS)
    for a, text in zip(attrs, TEXTS):
        assert a.units == [u.text for u in decoder.units(text)]
        assert np.all(np.isfinite(a.scores)), (name, text)


def test_attention_is_read_at_the_last_token(decoder):
    text = TEXTS[4]
    a = xb.get_explainer("attention").explain(decoder, [text])[0]
    ids = torch.as_tensor(decoder.token_ids([text]))
    with torch.inference_mode():
        attentions = decoder.hf_model(input_ids=ids, attention_mask=torch.ones_like(ids), output_attentions=True).attentions
    last_row = attentions[-1][0].mean(0)[-1].double().numpy()  # heads averaged, query = last token
    token_units = decoder.token_units(text)
    expected = np.zeros(len(a.units))
    np.add.at(expected, token_units[token_units >= 0], last_row[token_units >= 0])
    np.testing.assert_allclose(a.scores, expected, atol=1e-6)


FILLER = ("the a this that it is was and but very movie film book phone product price delivery quality works "
          "really would buy again we they you").split()


def _planted(n: int, seed: int, with_unplanted: bool = False):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        words = list(rng.choice(FILLER, rng.integers(4, 9)))
        label = int(rng.integers(3 if with_unplanted else 2))
        position = int(rng.integers(len(words) + 1))
        if label < 2:
            words.insert(position, "zorb" if label == 1 else "blick")
        out.append((" ".join(words), label, position))
    return out


@pytest.fixture(scope="module")
def planted_gpt2(one_torch_thread):
    """A tiny GPT-2 classifier taught in ~200 steps that "zorb" means class 1 and "blick" class 0
    (sentences without either are trained towards 50/50, so the planted word is the cause)."""
    model = tiny_decoder("gpt2", words=[*FILLER, "zorb", "blick"], chars=["好"], seed=0)
    train = _planted(3000, seed=1, with_unplanted=True)
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.hf_model.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    model.hf_model.train()
    for _ in range(250):
        rows = [train[i] for i in rng.choice(len(train), 32)]
        batch = engine.pad_batch(model.token_ids([t for t, _, _ in rows]), model.pad_token_id, model.device)
        soft = torch.tensor([[1.0 - y, float(y)] if y < 2 else [0.5, 0.5] for _, y, _ in rows])
        loss = torch.nn.functional.cross_entropy(model.hf_model(**batch).logits, soft, label_smoothing=0.1)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.hf_model.eval()
    test = _planted(40, seed=2)
    texts, labels = [t for t, _, _ in test], np.array([y for _, y, _ in test])
    assert (model.predict(texts) == labels).mean() >= 0.95  # the model learned the rule
    return model, texts, labels, np.array([p for _, _, p in test])


@pytest.mark.parametrize("name, params", [("occlusion", {}), ("integrated_gradients", {"n_steps": 32})])
def test_a_planted_cause_is_ranked_first_on_a_decoder(planted_gpt2, name, params):
    model, texts, labels, positions = planted_gpt2
    attrs = xb.get_explainer(name, **params).explain(model, texts, targets=list(labels))
    top = np.array([int(a.ranking()[0]) for a in attrs])
    assert (top == positions).mean() >= 0.9


@pytest.mark.slow
def test_a_decoder_folder_runs_through_the_benchmark(tmp_path):
    model = tiny_decoder("llama")
    model.hf_model.save_pretrained(tmp_path / "model")
    model.tokenizer.save_pretrained(tmp_path / "model")
    with open(tmp_path / "reviews.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        for i, text in enumerate(TEXTS * 4):
            writer.writerow([text, i % 2])
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "benchmarks/test_explainer_matrix.py", "-q", "-p", "no:cacheprovider",
         "--xb-model", str(tmp_path / "model"), "--xb-dataset", str(tmp_path / "reviews.csv"), "--xb-n", "all",
         "--xb-explainers", "attention,integrated_gradients,occlusion", "--xb-param", "integrated_gradients.n_steps=4",
         "--xb-metrics", "comprehensiveness,sufficiency", "--xb-out", str(out)],
        cwd=ROOT, env={**os.environ, "XAIBENCH_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"},
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "3 passed" in result.stdout
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "| attention" in summary and "| integrated_gradients" in summary
