"""Tiny randomly initialised models for fast unit tests (never for benchmark numbers)."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

import torch

from xaibench.modeling.classifier import Classifier
from xaibench.modeling.tokenization import vocab_tokenizer

DEFAULT_WORDS = (
    "the a an this that it is was and but not very good great bad awful terrible excellent love hate "
    "product quality price delivery fast slow movie film book phone works broken nice poor fine ok "
    "i you we they really would buy again never recommend , . ! ? ' -"
).split()
DEFAULT_CHARS = list("的了是很好不差质量物流快慢书手机买喜欢失望满意推荐一般还行太贵便宜东西服务态度，。！？")


def tiny_classifier(
    num_labels: int = 2,
    seed: int = 0,
    words: Sequence[str] = DEFAULT_WORDS,
    chars: Sequence[str] = DEFAULT_CHARS,
    hidden: int = 32,
    layers: int = 2,
    heads: int = 2,
    max_length: int = 64,
    device: str = "cpu",
    regression: bool = False,
    **options,
) -> Classifier:
    """A 2-layer BERT with a word + character vocabulary and random weights (seeded); ``options``
    go to ``Classifier`` (``dtype``, ``compile``...)."""
    from transformers import BertConfig, BertForSequenceClassification

    tokenizer = vocab_tokenizer([*words, *chars])
    config = BertConfig(
        vocab_size=len(tokenizer.get_vocab()), hidden_size=hidden, num_hidden_layers=layers,
        num_attention_heads=heads, intermediate_size=hidden * 2, max_position_embeddings=max_length,
        num_labels=1 if regression else num_labels,
        problem_type="regression" if regression else "single_label_classification",
        pad_token_id=tokenizer.pad_token_id, attn_implementation="eager",
    )
    torch.manual_seed(seed)
    model = BertForSequenceClassification(config)
    return Classifier(model, tokenizer, name=f"tiny-{'regression' if regression else num_labels}", device=device,
                      max_length=max_length, **options)


class BagOfWords(torch.nn.Module):
    """A transparent stand-in for a Hugging Face sequence classifier: the last output's logit is
    ``bias`` plus the sum of the text's token weights (the other class's logit is 0), so every
    explained output can be computed by hand. ``mask_weight``: the weight of the mask token."""

    def __init__(self, tokenizer, weights: dict, bias: float = 0.0, mask_weight: float = 0.0,
                 regression: bool = False, labels: Sequence[str] = ("negative", "positive"),
                 max_length: int = 128) -> None:
        super().__init__()
        from types import SimpleNamespace

        vocab = tokenizer.get_vocab()
        n_out = 1 if regression else len(labels)
        table = torch.zeros(len(vocab), n_out, dtype=torch.float64)
        for token, w in weights.items():
            table[vocab[token], -1] = w
        if tokenizer.mask_token_id is not None:
            table[tokenizer.mask_token_id, -1] = mask_weight
        self.table = torch.nn.Parameter(table, requires_grad=False)
        self.bias = bias
        names = ("value",) if regression else tuple(labels)
        self.config = SimpleNamespace(num_labels=n_out, id2label=dict(enumerate(names)),
                                      problem_type="regression" if regression else "single_label_classification",
                                      max_position_embeddings=max_length)

    def forward(self, input_ids, attention_mask=None, **kwargs):
        from types import SimpleNamespace

        logits = (self.table[input_ids] * attention_mask[..., None]).sum(1)
        logits[:, -1] += self.bias
        return SimpleNamespace(logits=logits)


def bag_of_words_classifier(weights: dict, bias: float = 0.0, *, mask_weight: float = 0.0, regression: bool = False,
                            labels: Sequence[str] = ("negative", "positive"), name: str = "bow",
                            **options) -> Classifier:
    """A ``Classifier`` around ``BagOfWords``: the vocabulary is the weighted tokens (names in
    ``[...]`` are the tokenizer's specials, e.g. ``"[UNK]"``); ``options`` go to ``Classifier``."""
    tokenizer = vocab_tokenizer([t for t in weights if not t.startswith("[")])
    return Classifier(BagOfWords(tokenizer, weights, bias, mask_weight, regression, labels), tokenizer, name=name,
                      **options)


#: The words ``keyword_sentences`` quotes when a text contains them.
KEYWORDS = ("not", "good", "bad", "great", "awful", "好", "差", "不")


def keyword_sentences(texts: Sequence[str], labels: Sequence[str]) -> list[str]:
    """A deterministic sentence generator for tests (``nl_callable``): "Predicted <label>, mainly
    because of “w1” and “w2”." quoting the ``KEYWORDS`` each text contains (in keyword order), or
    "Predicted <label>; nothing stands out." when it contains none."""
    from xaibench.core.units import split_units

    out = []
    for text, label in zip(texts, labels):
        words = {u.text.casefold() for u in split_units(text)}
        cited = [w for w in KEYWORDS if w in words]
        if not cited:
            out.append(f"Predicted {label}; nothing stands out.")
            continue
        quoted = [f"“{w}”" for w in cited]
        listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
        out.append(f"Predicted {label}, mainly because of {listed}.")
    return out


#: Parameters that let every registered explainer run offline in tests (its function, ...).
OFFLINE_PARAMS = {"nl_callable": {"function": "xaibench.testing:keyword_sentences"}}
#: Explainers that cannot run on any model from parameters alone, and what they need (each is tested
#: with it in its own tests).
NEEDS = {"nl_endpoint": "a server", "nl_generator": "a built-in generator for the model",
         "attributions_file": "a file of scores"}


def offline_explainer_names() -> list[str]:
    """Every registered explainer that runs on any model without a server or a built-in generator:
    what "every explainer" tests iterate over (build each with ``OFFLINE_PARAMS``)."""
    from xaibench.core import registry

    return [n for n in registry.explainers.names() if n not in NEEDS]


def sentences_failing_on_broken(texts: Sequence[str], labels: Sequence[str]) -> list[str]:
    """``keyword_sentences``, except that a batch with a text containing "broken" raises (a
    deterministic failure of one example, for failure-containment tests)."""
    broken = [t for t in texts if "broken" in t]
    if broken:
        raise ValueError(f"cannot explain {broken[0]!r}")
    return keyword_sentences(texts, labels)


DECODERS = ("gpt2", "llama")


def _training_corpus(words: Sequence[str], chars: Sequence[str], n: int = 400) -> list[str]:
    """Deterministic sentences of ``words`` and runs of ``chars``, for training a tiny BPE."""
    import random

    rng = random.Random(0)
    out = []
    for _ in range(n):
        out.append(" ".join(rng.choice(list(words)) for _ in range(rng.randint(3, 10))))
        out.append("".join(rng.choice(list(chars)) for _ in range(rng.randint(2, 8))))
    return out


def decoder_tokenizer(kind: str, words: Sequence[str] = DEFAULT_WORDS, chars: Sequence[str] = DEFAULT_CHARS):
    """A fast BPE tokenizer trained in a moment on ``words`` and ``chars``, shaped like the real one
    of ``kind``: ``"gpt2"``: byte-level BPE, no special token added, EOS ``<|endoftext|>`` and no
    pad token; ``"llama"``: SentencePiece-style ``▁`` word prefixes, ``<s>`` prepended, ``<unk>`` for
    unseen characters, EOS ``</s>`` and no pad token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = _training_corpus(words, chars)
    if kind == "gpt2":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        tok.train_from_iterator(corpus, trainers.BpeTrainer(
            vocab_size=400, special_tokens=["<|endoftext|>"], show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
        tok.post_processor = processors.ByteLevel(trim_offsets=True)
        return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", bos_token="<|endoftext|>")
    if kind == "llama":
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
        tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
        tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=400, special_tokens=["<unk>", "<s>", "</s>"],
                                                            show_progress=False))
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", tok.token_to_id("<s>"))])
        return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    raise ValueError(f"kind must be one of {DECODERS}, got {kind!r}")


def tiny_decoder(kind: str = "gpt2", num_labels: int = 2, seed: int = 0, words: Sequence[str] = DEFAULT_WORDS,
                 chars: Sequence[str] = DEFAULT_CHARS, hidden: int = 32, layers: int = 2, heads: int = 2,
                 max_length: int = 64, device: str = "cpu", **options) -> Classifier:
    """A decoder sequence classifier with random weights (seeded): ``GPT2ForSequenceClassification``
    or ``LlamaForSequenceClassification`` (grouped-query attention, rotary positions, RMSNorm),
    reading its prediction at the last real token; the tokenizer of ``decoder_tokenizer``."""
    from transformers import GPT2Config, GPT2ForSequenceClassification, LlamaConfig, LlamaForSequenceClassification

    tokenizer = decoder_tokenizer(kind, words, chars)
    common = {"num_labels": num_labels, "attn_implementation": "eager",
              "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id}
    torch.manual_seed(seed)
    if kind == "gpt2":
        config = GPT2Config(vocab_size=len(tokenizer), n_positions=max_length, n_embd=hidden, n_layer=layers,
                            n_head=heads, **common)
        model = GPT2ForSequenceClassification(config)
    else:
        config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2,
                             num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=1,
                             max_position_embeddings=max_length, **common)
        model = LlamaForSequenceClassification(config)
    return Classifier(model, tokenizer, name=f"tiny-{kind}", device=device, max_length=max_length, **options)


def save_tiny_task(folder: Path, texts: Sequence[str], ids: Sequence[str] | None = None, **classifier_args) -> Classifier:
    """A task a subprocess run can load by path: ``tiny_classifier(**classifier_args)`` saved as the
    model folder ``folder/model`` and ``texts`` as ``folder/reviews.csv`` (columns id, text, label;
    no id column when ``ids`` is None; labels alternate 0, 1). Returns the model."""
    model = tiny_classifier(**classifier_args)
    model.hf_model.save_pretrained(folder / "model")
    model.tokenizer.save_pretrained(folder / "model")
    with open(folder / "reviews.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"] if ids is None else ["id", "text", "label"])
        for i, text in enumerate(texts):
            writer.writerow([text, i % 2] if ids is None else [ids[i], text, i % 2])
    return model
