""""The text without these units" as token ids, where that is exactly what the tokenizer would give.

Removal-based explainers and metrics (occlusion, SHAP and LIME coalitions, KernelSHAP, the removal
metrics) evaluate many edits of one text. Building each edited text and tokenizing it again costs
as much as the forward pass of a small model (char-BERT occlusion at 64 tokens: 1.87x its passes).
``UnitEdits`` tokenizes the text once and builds each edit by dropping the removed units' tokens.

That is exact for tokenizers whose pre-tokenizer splits at every unit boundary (BERT's WordPiece:
whitespace, punctuation and every CJK character are split before the vocabulary is applied), with
one exception the removal rule can create: cutting the units between two word units that are not
separated by whitespace ("good,bad" without ",") joins them into one word ("goodbad"), which the
tokenizer reads as one word. Such an edit, and every edit for tokenizers without that property
(byte-level BPE and SentencePiece encode the space before a word into its token, so cutting the
first word changes the next one's token), falls back to the edited text. A model probes the
property on sample texts when it loads (``Classifier.token_edits``) and
``tests/modeling/test_edits.py`` checks edited ids against re-tokenized texts on word- and
character-unit models.

Truncation: the text is tokenized whole and the edit truncated to ``max_length`` the way the
tokenizer truncates (leading special tokens, then content, then trailing special tokens), so an
edit that brings units beyond the limit back in matches the re-tokenized edit too.
"""
from __future__ import annotations

import unicodedata
from typing import Sequence

import numpy as np

from xaibench.core.records import Unit
from xaibench.core.units import keep_units, remove_units

ModelInput = str | tuple[int, ...]
#: Probe texts: English words and punctuation, contractions, Chinese, digits, mixed scripts.
PROBES = ("Great phone, but the battery died after 2 days! Don't buy it.",
          "质量很好，物流太慢了。iPhone 13 还行", "well-made... (really) good;bad:ok", "a b c")


def _is_punctuation(ch: str) -> bool:
    """BERT's punctuation: ASCII symbols and every Unicode P* character."""
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def _splits_between(left: str, right: str) -> bool:
    """True when BERT's pre-tokenizer splits between the last character ``left`` and the first
    character ``right`` even without whitespace."""
    return any(_is_punctuation(c) or _is_cjk(c) for c in (left, right))


def supports_token_edits(tokenizer) -> bool:
    """True for a fast tokenizer with BERT's pre-tokenizer (the property ``UnitEdits`` relies on)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    pre = getattr(backend, "pre_tokenizer", None)
    return type(pre).__name__ == "BertPreTokenizer"


class UnitEdits:
    """Edits of one text for ``model``: ``without(units)`` / ``only(units)`` give token-id tuples
    (special tokens included, truncated like every model input) where exact, else the edited text
    (the removal rule of docs/api.md). ``exact``: whether ids are used at all for this text."""

    def __init__(self, model, text: str, units: Sequence[Unit]) -> None:
        self.text = text
        self.units = list(units)
        self.max_length = int(model.max_length)
        self.exact = bool(getattr(model, "token_edits", False)) and bool(self.units)
        if self.exact:
            self._split(model)

    def _split(self, model) -> None:
        enc = model.tokenizer(self.text, add_special_tokens=True, truncation=False, return_offsets_mapping=True)
        ids, owners = enc["input_ids"], model._token_unit_map(self.text, enc["offset_mapping"], enc["input_ids"])
        inner = np.flatnonzero(owners >= 0)
        if not inner.size or np.any(owners[inner[0]:inner[-1] + 1] < 0):
            self.exact = False  # a token inside the text that belongs to no unit: edit the text
            return
        self._head = tuple(ids[:inner[0]])
        self._tail = tuple(ids[inner[-1] + 1:])
        self._tokens: list[tuple[int, ...]] = [() for _ in self.units]
        for t in inner:
            self._tokens[owners[t]] += (int(ids[t]),)
        if any(not tokens for tokens in self._tokens):
            self.exact = False  # a unit without tokens (normalised away): edit the text

    def original(self) -> str:
        return self.text

    def without(self, drop) -> ModelInput:
        """The text with ``drop`` (unit indices) cut out."""
        drop = {int(i) for i in drop}
        return self._edit([i for i in range(len(self.units)) if i not in drop], lambda: remove_units(
            self.text, self.units, drop))

    def only(self, keep) -> ModelInput:
        """Only the units ``keep``, in their original order."""
        keep = sorted({int(i) for i in keep})
        return self._edit(keep, lambda: keep_units(self.text, self.units, keep))

    def _edit(self, kept: list[int], as_text) -> ModelInput:
        if not self.exact or self._joins(kept):
            return as_text()
        content = [t for i in kept for t in self._tokens[i]]
        room = self.max_length - len(self._head) - len(self._tail)
        return self._head + tuple(content[:max(0, room)]) + self._tail

    def _joins(self, kept: list[int]) -> bool:
        """True when cutting the units between two kept units leaves them touching as one word."""
        for a, b in zip(kept, kept[1:]):
            if b == a + 1:
                continue
            left, right = self.units[a], self.units[b]
            between = self.text[left.end:right.start]
            removed = [(self.units[j].start - left.end, self.units[j].end - left.end) for j in range(a + 1, b)]
            if any(ch.isspace() for k, ch in enumerate(between) if not any(s <= k < e for s, e in removed)):
                continue
            if not _splits_between(left.text[-1], right.text[0]):
                return True
        return False


def probe(model) -> bool:
    """True when every edit of the probe texts (each unit cut, and pairs of units) equals the
    re-tokenized edited text: what ``Classifier.token_edits`` is set from."""
    from xaibench.core.units import split_units

    if not supports_token_edits(model.tokenizer):
        return False
    model.token_edits = True
    try:
        for text in PROBES:
            units = split_units(text)
            edits = UnitEdits(model, text, units)
            cases = [[i] for i in range(len(units))] + [[i, i + 2] for i in range(len(units) - 2)]
            for drop in cases:
                edited = edits.without(drop)
                if isinstance(edited, str):
                    continue
                expected = model.token_ids([remove_units(text, units, drop)])[0]
                if list(edited) != list(expected):
                    return False
        return True
    finally:
        model.token_edits = False
