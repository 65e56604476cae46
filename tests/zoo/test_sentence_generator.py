"""The learned sentence generator: vocabulary and detokenization, teacher-forced training that
learns (a tiny GPT-2 in seconds), greedy generation batched as one text at a time, save / load,
conditioning on a classifier, and the agreement measures of its model card."""
from __future__ import annotations

import pytest
import torch

from xaibench.modeling.generator import GeneratorNet, SentenceGenerator, UnitVocabulary, join_tokens, unit_tokens
from xaibench.testing import tiny_classifier
from xaibench.zoo.generator_training import train_generator, training_examples
from xaibench.zoo.text_agreement import agreement, chrf, set_f1

#: (text, label, target sentence): the sentence quotes the review's sentiment word.
PAIRS = [
    ("the phone is great", "positive", "Predicted positive, mainly because of “great”."),
    ("awful battery life", "negative", "Predicted negative, mainly because of “awful”."),
    ("great screen and fast", "positive", "Predicted positive, mainly because of “great”."),
    ("the battery is awful", "negative", "Predicted negative, mainly because of “awful”."),
    ("质量很差", "negative", "模型判断为差评，主要因为“差”。"),
    ("质量很好", "positive", "模型判断为好评，主要因为“好”。"),
]


def tiny_generator(conditioning: str = "text", state_size: int | None = None, seed: int = 0) -> SentenceGenerator:
    from transformers import GPT2Config, GPT2LMHeadModel

    texts = [t for t, _, _ in PAIRS] + [s for _, _, s in PAIRS]
    vocabulary = UnitVocabulary.build(texts, ["negative", "positive"], min_count=1)
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=len(vocabulary), n_positions=48, n_embd=32, n_layer=1, n_head=2,
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, tie_word_embeddings=True)
    net = GeneratorNet(GPT2LMHeadModel(config), state_size)
    settings = {"conditioning": conditioning, "max_prompt_units": 16, "max_new_tokens": 20, "state_size": state_size}
    return SentenceGenerator(net, vocabulary, settings)


def pairs_dict():
    return {"texts": [t for t, _, _ in PAIRS], "labels": [lb for _, lb, _ in PAIRS],
            "sentences": [s for _, _, s in PAIRS]}


RECIPE = {"batch_size": 3, "seed": 0, "epochs": 60, "lr": 1e-2, "weight_decay": 0.0, "warmup_ratio": 0.05,
          "dataset": "toy"}


@pytest.fixture(scope="module")
def trained():
    generator = tiny_generator()
    stats = train_generator(generator.net, training_examples(generator, None, pairs_dict(), 20), RECIPE, False)
    return generator, stats


def test_units_are_tokens_and_sentences_read_back_naturally():
    assert unit_tokens("Great phone, “NOT” bad") == ["great", "phone", ",", "“", "not", "”", "bad"]
    assert join_tokens(["predicted", "negative", ",", "mainly", "because", "of", "“", "died", "”", "."]) == \
        "Predicted negative, mainly because of “died”."
    assert join_tokens(list("模型判断为差评，主要因为“失望”。")) == "模型判断为差评，主要因为“失望”。"
    assert join_tokens(["iphone", "很", "好", "apple", "watch"]) == "Iphone很好apple watch"


def test_vocabulary_keeps_frequent_units_and_maps_the_rest_to_unk():
    v = UnitVocabulary.build(["good good bad", "good"], ["negative", "positive"], min_count=2)
    assert v.tokens[:5] == ["[PAD]", "[BOS]", "[SEP]", "[EOS]", "[UNK]"]
    assert "<label:negative>" in v.index and "good" in v.index and "bad" not in v.index
    assert v.encode("good bad") == [v.id("good"), v.id("[UNK]")]
    assert v.decode([v.id("good"), v.id("[UNK]"), v.id("[EOS]"), v.id("good")]) == "Good <unk>"


def test_training_learns_the_teacher_sentences(trained):
    generator, stats = trained
    assert stats["steps"] == 60 * 2 and stats["final_loss"] < 0.05
    texts, labels, targets = pairs_dict()["texts"], pairs_dict()["labels"], pairs_dict()["sentences"]
    assert generator.generate(texts, labels) == targets


def test_batched_generation_equals_one_text_at_a_time(trained):
    generator, _ = trained
    texts, labels = pairs_dict()["texts"], pairs_dict()["labels"]
    together = generator.generate(texts, labels, batch_size=64)
    alone = [generator.generate([t], [lb])[0] for t, lb in zip(texts, labels)]
    assert together == alone


def test_save_and_load_give_the_same_sentences(trained, tmp_path):
    generator, _ = trained
    generator.save(tmp_path)
    loaded = SentenceGenerator.from_folder(tmp_path)
    texts, labels = pairs_dict()["texts"], pairs_dict()["labels"]
    assert loaded.generate(texts, labels) == generator.generate(texts, labels)
    assert loaded.settings["conditioning"] == "text"


def test_a_generator_conditioned_on_the_classifier_reads_its_unit_states(tmp_path):
    classifier = tiny_classifier()
    generator = tiny_generator("text+classifier", state_size=classifier.hf_model.config.hidden_size)
    texts = pairs_dict()["texts"]
    states = generator.prompt_states(classifier, texts)
    for text, s, prompt in zip(texts, states, (generator.prompt_ids(t, "positive") for t in texts)):
        assert s.shape == (len(prompt), 32)
        assert not s[:2].any() and not s[-1].any()  # BOS, label and SEP carry no state
        assert s[2:-1].any(axis=1).all()  # every unit does
    examples = training_examples(generator, classifier, pairs_dict(), 20)
    train_generator(generator.net, examples, {**RECIPE, "epochs": 2}, False)
    with pytest.raises(ValueError, match="pass classifier="):
        generator.generate(texts[:1], ["positive"])
    out = generator.generate(texts, pairs_dict()["labels"], classifier=classifier)
    assert len(out) == len(texts) and all(isinstance(s, str) for s in out)
    generator.save(tmp_path)
    loaded = SentenceGenerator.from_folder(tmp_path)
    assert loaded.generate(texts, pairs_dict()["labels"], classifier=classifier) == out


def test_chrf_and_set_f1_by_hand():
    assert chrf("abc", "abc") == pytest.approx(100.0)
    assert chrf("abc", "xyz") == 0.0
    # "ab" vs "abc": unigram P = 1, R = 2/3; bigram P = 1, R = 1/2 (orders 3-6 absent in "ab").
    p, r = 1.0, (2 / 3 + 1 / 2) / 2
    assert chrf("a b", "abc") == pytest.approx(100 * 5 * p * r / (4 * p + r))
    assert set_f1(set(), set()) == 1.0 and set_f1({1, 2}, {2, 3}) == 0.5 and set_f1({1}, {2}) == 0.0


def test_agreement_of_sentences_with_their_teacher():
    texts = ["the battery died and it is awful", "great phone"]
    teacher = ["Predicted negative, mainly because of “awful” and “died”.", "Predicted positive, mainly because of “great”."]
    generated = ["Predicted negative, mainly because of “died” and “awful”.", "Predicted negative, because of “phone”."]
    result = agreement(texts, generated, teacher, ["negative", "positive"])
    assert result["cited_set_match"] == 0.5  # same set in another order counts; "phone" is not "great"
    assert result["cited_f1"] == 0.5
    assert result["label_match"] == 0.5
    assert 0 < result["chrf"] < 100


def test_the_copy_head_quotes_a_word_it_has_never_seen():
    """Pointer-generator copying: the sentence quotes the text's last word, a different unknown word
    every time; after training, a word absent from the vocabulary is copied from the text."""
    from transformers import GPT2Config, GPT2LMHeadModel

    rare = ["zorp", "quib", "flarn", "blick", "vonk", "trell", "gisp", "morl", "dreb", "sulp", "yarn", "plok"]
    pairs = {"texts": [f"the phone is {w}" for w in rare], "labels": ["positive"] * len(rare),
             "sentences": [f"Predicted positive, mainly because of “{w}”." for w in rare]}
    vocabulary = UnitVocabulary.build(pairs["texts"] + pairs["sentences"], ["positive"], min_count=3)
    assert all(vocabulary.id(w) == vocabulary.id("[UNK]") for w in rare)
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(vocabulary), n_positions=48, n_embd=32, n_layer=1, n_head=2,
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    generator = SentenceGenerator(GeneratorNet(GPT2LMHeadModel(config), copy=True), vocabulary,
                                  {"conditioning": "text", "max_prompt_units": 16, "max_new_tokens": 20, "copy": True})
    train_generator(generator.net, training_examples(generator, None, pairs, 20),
                    {**RECIPE, "batch_size": 4, "epochs": 40}, False)
    assert generator.generate(["the phone is zorbulous"], ["positive"]) == [
        "Predicted positive, mainly because of “zorbulous”."]
