"""The unit split every explainer and metric shares, and the removal rule that edits texts by unit.

Units (documented in README "Units"):
- each CJK ideograph, kana or hangul syllable is one unit (Chinese is explained per character);
- a run of letters/digits, with inner apostrophes or hyphens ("don't", "well-made"), is one word unit;
- any other visible grapheme (punctuation, an emoji with its modifiers and joiners) is one unit;
- whitespace and invisible format characters (zero-width space, BOM, direction marks) separate units
  and are never units themselves.
"""
from __future__ import annotations

import re as std_re
from typing import Sequence

import regex

from xaibench.core.records import Unit

_CJK = (
    r"\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}"
    r"\u3000-\u303f"  # CJK symbols and punctuation (。、「」 ...): one character each
    r"\uff00-\uffef"  # full-width forms (，！？ ...)
)
_UNIT_PATTERN = regex.compile(
    rf"[{_CJK}]"
    rf"|(?:[^\W_{_CJK}]|_)+(?:['’\-](?:[^\W_{_CJK}]|_)+)*"
    r"|(?![\s\p{Cf}])\X",
    regex.VERSION1,
)
_WHITESPACE = std_re.compile(r"\s+")


def split_units(text: str) -> list[Unit]:
    """Split ``text`` into units with character spans (see the module docstring)."""
    units = []
    for m in _UNIT_PATTERN.finditer(text):
        piece = m.group()
        # \X may swallow trailing invisible marks into a grapheme; keep only visible content.
        if not piece.strip() or all(regex.match(r"\p{Cf}", ch) for ch in piece):
            continue
        units.append(Unit(piece, m.start(), m.end()))
    return units


def normalize_space(text: str) -> str:
    """Collapse whitespace runs to one space and strip (the removal rule's last step)."""
    return _WHITESPACE.sub(" ", text).strip()


def remove_units(text: str, units: Sequence[Unit], drop: Sequence[int] | set[int]) -> str:
    """Cut the character spans of ``units[i] for i in drop`` out of ``text``, then normalise spaces.

    This is the default ``delete`` removal of docs/api.md: x without its top-k units.
    """
    return _join_removed(text, units, set(int(i) for i in drop))


def _join_removed(text: str, units: Sequence[Unit], drop: set[int]) -> str:
    out, cursor = [], 0
    for i in sorted(drop):
        u = units[i]
        out.append(text[cursor:u.start])
        cursor = u.end
    out.append(text[cursor:])
    return normalize_space("".join(out))


def keep_units(text: str, units: Sequence[Unit], keep: Sequence[int] | set[int]) -> str:
    """Only the units in ``keep``, in original order: every other unit's span is cut out."""
    keep = set(int(i) for i in keep)
    return _join_removed(text, units, {i for i in range(len(units)) if i not in keep})
