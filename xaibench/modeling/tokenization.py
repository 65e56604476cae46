"""Small WordPiece tokenizers built from a vocabulary list (no hub access needed).

Used for the character-level Chinese model (vocabulary = characters seen in training) and for the
tiny randomly initialised models of the unit tests.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def vocab_tokenizer(tokens: Iterable[str], lowercase: bool = True):
    """A ``BertTokenizerFast`` whose vocabulary is the special tokens followed by ``tokens``.

    CJK characters are split one per token (BERT's ``tokenize_chinese_chars``); other words are
    WordPiece-split against the vocabulary, falling back to ``[UNK]``.
    """
    from transformers import BertTokenizerFast

    vocab = list(dict.fromkeys([*SPECIAL_TOKENS, *tokens]))
    return BertTokenizerFast(
        vocab={tok: i for i, tok in enumerate(vocab)}, do_lower_case=lowercase,
        tokenize_chinese_chars=True, strip_accents=False,
    )


def character_vocabulary(texts: Iterable[str], min_count: int = 2, max_size: int = 8000) -> list[str]:
    """Characters of ``texts`` seen at least ``min_count`` times (most frequent first, at most
    ``max_size``), plus ``##``-continuations for ASCII letters/digits so Latin words and numbers are
    spelled character by character instead of collapsing to ``[UNK]``."""
    counts = Counter(ch for t in texts for ch in t.lower() if not ch.isspace())
    chars = [c for c, k in counts.most_common(max_size) if k >= min_count]
    ascii_alnum = [c for c in "abcdefghijklmnopqrstuvwxyz0123456789"]
    return list(dict.fromkeys([*chars, *ascii_alnum, *(f"##{c}" for c in ascii_alnum)]))
