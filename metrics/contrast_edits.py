"""Minimal edits that may flip a sentiment classifier: the candidates of the contrast pairs.

Every candidate changes one place of the text and records the character span of the new material
in the edited text (the "edited span"):

- English negation: ``not`` inserted after an auxiliary or copula ("is good" -> "is not good").
- English antonym swap (kind ``antonym``): a word of the antonym table (``_EN_PAIRS``, pairs kept
  only where the VADER lexicon gives the two words opposite signs) replaced by its antonym.
- English polarity swap (kind ``polarity_swap``): any other word the VADER lexicon rates with
  |valence| >= 1.0 replaced by the table word of opposite polarity whose |valence| is closest
  ("treat" -> "annoying"): a minimal sentiment flip, not always grammatical.
- Chinese negation: 不 inserted before a sentiment word of ``ZH_NEGATABLE``, 没 before 有
  ("有用" -> "没有用").
- Chinese antonym swap: a word of ``ZH_ANTONYMS`` replaced by its antonym (longest match first).

Which candidates really flip the model is decided in ``contrast.py``.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import regex

from xaibench.core.units import split_units
from xaibench.datasets.vader_lexicon import vader_lexicon

#: Words after which English negation is "not" (contractions of a copula included).
EN_AUXILIARIES = frozenset(
    "is was are were am be been do does did can could will would should has have had must may might "
    "it's that's there's he's she's i'm you're they're we're".split())
EN_NEGATIONS = frozenset("not never n't no".split())
#: Hand-picked antonyms (each direction listed once; the table is made symmetric).
_EN_PAIRS = (
    "good:bad great:terrible excellent:awful best:worst love:hate loved:hated loves:hates like:dislike "
    "liked:disliked beautiful:ugly happy:sad fun:boring interesting:boring wonderful:horrible "
    "amazing:awful nice:nasty better:worse brilliant:stupid strong:weak clever:dumb enjoyed:hated "
    "enjoy:hate pleasant:unpleasant positive:negative success:failure satisfied:disappointed "
    "useful:useless comfortable:uncomfortable charming:annoying smart:stupid win:lose "
    "fantastic:dreadful lovely:awful superb:awful perfect:terrible "
    "easy:hard funny:dull glad:sorry delightful:dreadful impressive:disappointing "
    "worth:worthless recommended:avoided"
).split()
ZH_NEGATABLE = ("喜欢", "满意", "推荐", "值得", "好", "漂亮", "方便", "实用", "清楚", "舒服", "划算", "合适",
                "专业", "热情", "干净", "喜爱", "支持")
_ZH_PAIRS = (("好", "差"), ("坏", "好"), ("喜欢", "讨厌"), ("满意", "失望"), ("快", "慢"), ("便宜", "贵"),
             ("漂亮", "难看"), ("方便", "麻烦"), ("不错", "很差"), ("清晰", "模糊"), ("正品", "假货"),
             ("舒服", "难受"), ("棒", "烂"), ("优秀", "糟糕"), ("好用", "难用"), ("好吃", "难吃"),
             ("热情", "冷淡"), ("干净", "脏"), ("喜爱", "厌恶"), ("值", "亏"))
ENGLISH_MIN_VALENCE = 1.0


@dataclass(frozen=True)
class Edit:
    """One candidate: the edited text, what kind of edit it is, and the edited span ``[start, end)``
    of the new material in ``edited``."""

    edited: str
    kind: str
    span: tuple[int, int]
    description: str


@lru_cache(maxsize=1)
def english_antonyms() -> dict[str, str]:
    """The symmetric antonym table, restricted to pairs VADER rates with opposite signs."""
    lexicon = vader_lexicon()
    table: dict[str, str] = {}
    for pair in _EN_PAIRS:
        a, b = pair.split(":")
        if lexicon.get(a, 0.0) * lexicon.get(b, 0.0) < 0:
            table.setdefault(a, b)
            table.setdefault(b, a)
    return table


def english_replacement(word: str) -> str | None:
    """The antonym (or polarity swap) of a lower-cased English sentiment word, or None."""
    lexicon, table = vader_lexicon(), english_antonyms()
    if word in table:
        return table[word]
    v = lexicon.get(word, 0.0)
    if abs(v) < ENGLISH_MIN_VALENCE:
        return None
    opposite = [w for w in table if lexicon[w] * v < 0]
    return min(opposite, key=lambda w: (abs(abs(lexicon[w]) - abs(v)), w)) if opposite else None


def _match_case(template: str, word: str) -> str:
    if template.isupper() and len(template) > 1:
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def english_edits(text: str) -> list[Edit]:
    units = split_units(text)
    out = []
    for i, u in enumerate(units):
        word = u.text.lower()
        following = units[i + 1].text.lower() if i + 1 < len(units) else ""
        if word in EN_AUXILIARIES and following not in EN_NEGATIONS and not word.endswith("n't"):
            edited = text[:u.end] + " not" + text[u.end:]
            out.append(Edit(edited, "negation", (u.end + 1, u.end + 4), f"'not' after {u.text!r}"))
        replacement = english_replacement(word)
        if replacement is not None:
            new = _match_case(u.text, replacement)
            edited = text[:u.start] + new + text[u.end:]
            kind = "antonym" if word in english_antonyms() else "polarity_swap"
            out.append(Edit(edited, kind, (u.start, u.start + len(new)), f"{u.text!r} -> {new!r}"))
    return out


@lru_cache(maxsize=1)
def chinese_antonyms() -> dict[str, str]:
    table: dict[str, str] = {}
    for a, b in _ZH_PAIRS:
        table.setdefault(a, b)
        table.setdefault(b, a)
    return table


def _scan(text: str, words) -> list[tuple[int, str]]:
    """Non-overlapping occurrences of ``words`` in ``text``, longest match first at each position."""
    ordered = sorted(set(words), key=len, reverse=True)
    out, i = [], 0
    while i < len(text):
        hit = next((w for w in ordered if text.startswith(w, i)), None)
        if hit is None:
            i += 1
            continue
        out.append((i, hit))
        i += len(hit)
    return out


def chinese_edits(text: str) -> list[Edit]:
    out = []
    for start, word in _scan(text, (*ZH_NEGATABLE, "有")):
        negator = "没" if word == "有" else "不"
        if start > 0 and text[start - 1] in "不没别无":
            continue
        edited = text[:start] + negator + text[start:]
        out.append(Edit(edited, "negation", (start, start + 1), f"{negator} before {word}"))
    table = chinese_antonyms()
    for start, word in _scan(text, table):
        new = table[word]
        edited = text[:start] + new + text[start + len(word):]
        out.append(Edit(edited, "antonym", (start, start + len(new)), f"{word} -> {new}"))
    return out


_HAN = regex.compile(r"\p{Han}")


def candidate_edits(text: str, max_candidates: int = 32) -> list[Edit]:
    """All candidate edits of ``text`` (Chinese rules when it contains Han characters, English
    otherwise), in text order of their place, at most ``max_candidates``."""
    edits = chinese_edits(text) if _HAN.search(text) else english_edits(text)
    edits.sort(key=lambda e: e.span[0])  # stable: negation before antonym at the same place
    return edits[:max_candidates]
