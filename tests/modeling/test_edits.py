"""Removal edits as token ids (``xaibench.modeling.edits``): for word-unit and character-unit models
the edited ids equal the tokenized edited text for every single and pair removal, every keep-only
subset, and truncated texts; edits that would join two words, and tokenizers that encode the space
into a word's token, fall back to the text."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from xaibench.core.units import keep_units, remove_units
from xaibench.modeling.edits import UnitEdits, probe
from xaibench.modeling.tokenization import character_vocabulary, vocab_tokenizer
from xaibench.testing import tiny_classifier, tiny_decoder

TEXTS = ["Great phone, but the battery died after 2 days! Don't buy it.", "good,bad good", "well-made (really)",
         "质量很好，物流太慢了。不会再买", "iPhone 13 很好用 but pricey…", "a", "！！！好"]


def char_model():
    """A character-unit model: a char-BERT vocabulary built from texts, as the built-in one is."""
    from transformers import BertConfig, BertForSequenceClassification

    from xaibench.modeling.classifier import Classifier

    tokenizer = vocab_tokenizer(character_vocabulary(TEXTS * 3, min_count=1))
    config = BertConfig(vocab_size=len(tokenizer.get_vocab()), hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32, max_position_embeddings=64)
    return Classifier(BertForSequenceClassification(config), tokenizer, name="char")


@pytest.fixture(scope="module", params=["word", "char"])
def model(request):
    return tiny_classifier() if request.param == "word" else char_model()


def tokenized(model, text: str) -> tuple:
    return tuple(model.token_ids([text])[0])


def test_the_models_pass_the_probe(model):
    assert model.token_edits is True and model.info["token_edits"] is True


@pytest.mark.parametrize("text", TEXTS)
def test_edited_ids_equal_the_tokenized_edited_text(model, text):
    edits = model.edits(text)
    units = model.units(text)
    n = len(units)
    removals = [[i] for i in range(n)] + [list(p) for p in itertools.combinations(range(n), 2)][:60]
    for drop in removals + [list(range(n)), []]:
        edited = edits.without(drop)
        expected = tokenized(model, remove_units(text, units, drop))
        got = edited if isinstance(edited, tuple) else tokenized(model, edited)
        assert got == expected, (text, drop)
    for keep in [[i] for i in range(n)] + [list(range(0, n, 2))]:
        edited = edits.only(keep)
        got = edited if isinstance(edited, tuple) else tokenized(model, edited)
        assert got == tokenized(model, keep_units(text, units, keep)), (text, keep)


def test_an_edit_that_joins_two_words_falls_back_to_the_text():
    model = tiny_classifier()
    edits = model.edits("good,bad good")
    assert edits.without([1]) == "goodbad good"  # "good" + "bad" would be one word
    assert isinstance(edits.without([2]), tuple)  # "good, good": the comma splits


def test_truncated_texts_are_edited_like_the_tokenizer_truncates():
    model = tiny_classifier(max_length=12)
    text = "good bad great awful phone movie film book price delivery quality works"
    edits = UnitEdits(model, text, model.units(text))
    for drop in ([0], [3, 4], list(range(6))):
        assert edits.without(drop) == tokenized(model, remove_units(text, model.units(text), drop))
        assert len(edits.without(drop)) <= 12


def test_byte_level_and_sentencepiece_tokenizers_edit_texts():
    for kind in ("gpt2", "llama"):
        decoder = tiny_decoder(kind)
        assert decoder.token_edits is False and probe(decoder) is False
        assert decoder.edits("the movie was good").without([0]) == "movie was good"


def test_occlusion_and_the_removal_metrics_share_the_id_edits():
    import xaibench as xb

    model = tiny_classifier()
    text = TEXTS[0]
    shared = xb.get_explainer("occlusion").shared_inputs(model, text)
    loo = xb.get_metric("loo_correlation").shared_inputs(model, text)
    assert set(shared) == set(loo) and sum(isinstance(x, tuple) for x in shared) == len(model.units(text))
    # The values are those of the edited texts.
    a = xb.get_explainer("occlusion").explain(model, [text])[0]
    units = model.units(text)
    texts = [text] + [remove_units(text, units, [i]) for i in range(len(units))]
    f = model.explained_output(texts, [a.target] * len(texts))
    np.testing.assert_allclose(a.scores, f[0] - f[1:], atol=1e-6)
