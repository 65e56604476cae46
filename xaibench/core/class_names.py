"""How a sentence names a class: the phrase templates write, and which class a sentence states.

A class is named by its label (``model.labels[i]``: "negative", "positive", ...) in English and by
a review phrase in Chinese (差评 for "negative", 好评 for "positive", 中评 for "neutral"); a label
without a Chinese phrase is written as it is. ``stated_class`` reads a sentence back: the class
whose name (or a synonym of it, ``SYNONYMS``) it mentions first, matched whole (English at word
boundaries and case-insensitively, so "positively" does not state "positive"). Mentions inside
quotes count only when nothing outside quotes names a class, because a quoted word is usually
cited evidence ("because of “bad”"), not the verdict.
"""
from __future__ import annotations

import unicodedata
from typing import Sequence

import regex

#: The phrase a Chinese sentence uses for a class label (labels of the built-in models).
ZH_PHRASES = {"negative": "差评", "positive": "好评", "neutral": "中评"}
#: Other names that state a class, per label (matched like the label itself).
SYNONYMS = {
    "negative": ("negative", "差评", "负面", "消极"),
    "positive": ("positive", "好评", "正面", "积极"),
    "neutral": ("neutral", "中评", "中性", "中立"),
}
#: Spans between these quote pairs are quoted (``xaibench.core.citations`` uses the same pairs).
QUOTE_PATTERN = regex.compile(
    r"“[^”]*”|\"[^\"]*\"|「[^」]*」|『[^』]*』|‘[^’]*’(?!\w)|(?<!\w)'[^']*'(?!\w)|«[^»]*»")
_HAN = regex.compile(r"\p{Han}")


def language_of(text: str) -> str:
    """``"zh"`` for a text with any Han character, else ``"en"`` (the rule the contrast edits use)."""
    return "zh" if _HAN.search(text or "") else "en"


def class_phrase(label: str, language: str) -> str:
    """The words a template uses for class ``label``: the label itself in English, its review
    phrase in Chinese (``ZH_PHRASES``; the label itself when there is none)."""
    if language == "zh":
        return ZH_PHRASES.get(str(label).lower(), str(label))
    return str(label)


def fold(text: str) -> str:
    """The form names and cited words are compared in: NFKC, then case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def _names(label: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys((fold(label), *(fold(s) for s in SYNONYMS.get(fold(label), ())))))


def _first_mention(text: str, names: Sequence[str]) -> int | None:
    """Position of the first whole mention of any of ``names`` in ``text`` (folded), or None."""
    best = None
    for name in names:
        if not name:
            continue
        # Whole words for names that start/end with a word character; Chinese phrases match anywhere
        # (Chinese has no spaces between words).
        left = r"(?<![\p{L}\p{N}])" if regex.match(r"[^\p{Han}\W]", name[0]) else ""
        right = r"(?![\p{L}\p{N}])" if regex.match(r"[^\p{Han}\W]", name[-1]) else ""
        m = regex.search(left + regex.escape(name) + right, text)
        if m and (best is None or m.start() < best):
            best = m.start()
    return best


def stated_class(sentence: str, labels: Sequence[str]) -> int | None:
    """The index in ``labels`` of the class ``sentence`` states (first mentioned, see the module
    docstring), or None when it names none of them."""
    folded = fold(sentence or "")
    outside = QUOTE_PATTERN.sub(lambda m: " " * len(m.group()), folded)
    for text in (outside, folded):
        firsts = [(_first_mention(text, _names(label)), i) for i, label in enumerate(labels)]
        found = [(pos, i) for pos, i in firsts if pos is not None]
        if found:
            return min(found)[1]
    return None
