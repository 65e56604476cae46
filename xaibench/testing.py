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
