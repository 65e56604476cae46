"""Tiny randomly initialised models for fast unit tests (never for benchmark numbers)."""
from __future__ import annotations

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
#: Explainers that need a server to run (tested against a local stub of their own).
NEEDS_SERVER = frozenset({"nl_endpoint"})
#: Explainers that need a trained built-in component for a built-in model (their own tests build one).
NEEDS_BUILT_IN = frozenset({"nl_generator"})


def offline_explainer_names() -> list[str]:
    """Every registered explainer that runs on any model without a server or a built-in generator:
    what "every explainer" tests iterate over (build each with ``OFFLINE_PARAMS``)."""
    from xaibench.core import registry

    return [n for n in registry.explainers.names() if n not in NEEDS_SERVER | NEEDS_BUILT_IN]


def sentences_failing_on_broken(texts: Sequence[str], labels: Sequence[str]) -> list[str]:
    """``keyword_sentences``, except that a batch with a text containing "broken" raises (a
    deterministic failure of one example, for failure-containment tests)."""
    broken = [t for t in texts if "broken" in t]
    if broken:
        raise ValueError(f"cannot explain {broken[0]!r}")
    return keyword_sentences(texts, labels)
