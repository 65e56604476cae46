"""Which units of a text a sentence explanation cites, and the scores that makes.

A sentence explanation ("Predicted negative, mainly because of “died” and “awful”.") is turned into
one score per unit of the explained text, so that every attribution metric applies to it. The rule
(``cite``), for English and Chinese alike:

1. **Pieces.** If the sentence quotes anything (“…”, "…", ‘…’, '…', 「…」, 『…』, «…»), the quoted
   spans are its cited pieces, in order of mention. Otherwise every unit of the sentence
   (``xaibench.core.units.split_units``: an English word, a Chinese character) that is not a
   function word of explanations (``STOP_WORDS``: "the", "because", "predicted", 因为, 模型 ...),
   not punctuation or a number, not part of a class name (``class_names``) and not in a phrase
   saying that nothing is cited (``NOTHING_PHRASES``) is one bare piece
   (negations such as "not" are pieces: they are evidence).
   A quoted piece that only names a class ("predicted “negative”") and does not occur in the text
   is the verdict, not a citation, and is skipped.
2. **Matching.** A piece is split into units; leading and trailing punctuation units are dropped
   (“died.” cites "died"), unless the piece is punctuation only (“!”). It matches wherever its unit
   sequence occurs in the text's units, compared in ``fold``'s form (NFKC, case-folded): whole units
   only, so "good" never matches inside "goodness", and no stemming, so "died" does not match "die"
   (inflection-free). Every occurrence is cited: a sentence names words, not positions.
3. **Scores.** Pieces found in the text are ranked by first mention (a repeated piece counts once);
   of P such pieces, the units of piece j (0-based) score (P − j) / P, uncited units 0, and a unit
   cited by several pieces keeps its highest score. Ranking by score (ties by position) therefore
   orders the cited units by mention.

Pieces that occur nowhere in the text are kept, with no units: ``citation_precision`` counts them as
cited evidence the input does not contain.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import regex

from xaibench.core.class_names import QUOTE_PATTERN, SYNONYMS, ZH_PHRASES, fold
from xaibench.core.records import Unit
from xaibench.core.units import split_units

#: Words of an explanation sentence that cite nothing (English: folded; Chinese: single characters
#: that only build the explanation's frame). Bare pieces skip them.
STOP_WORDS = frozenset("""
a an the this that these those it its it's is are was were be been being am do does did has have had
and or but nor so as of to in on at by for with from about into than then also very more most much
mainly mostly because since due why how what which who whom whose there here yes
i you he she we they me him her us them my your his our their
model models classifier predicted predicts predict prediction predictions classified classifies class
label labelled labeled review reviews text texts sentence sentences word words phrase phrases token tokens
term terms mention mentions mentioned mentioning evidence cue cues signal signals sentiment overall
rating score probability likely confident confidence explanation explains explained key main primarily
chiefly largely decision decided says said expresses expressed express indicates indicate indicating
suggests suggest suggesting use uses used using quote quotes quoted stands stand out
""".split())
ZH_STOP_CHARS = frozenset("模型判断为预测主要因为由于所以和与及、的了是这条该评论句子中字词出现提到表达结果分类标签类别倾向情感")
#: Whole phrases that say the sentence cites nothing (the templates' "no evidence" sentences),
#: removed before bare pieces are read (matched folded, at word boundaries in English).
NOTHING_PHRASES = ("no single word stands out", "nothing stands out", "no word stands out", "没有特别突出的字词",
                   "没有突出的字词")
_PUNCTUATION_ONLY = regex.compile(r"^[\p{P}\p{S}]+$")
_NUMBER = regex.compile(r"^[\p{N}.,]+$")


@dataclass(frozen=True)
class Citation:
    """One cited piece of a sentence: ``piece`` as written, ``quoted`` (True: between quotes;
    False: a bare word or character), ``units``: the indices of every text unit it matches (empty
    when the text does not contain it)."""

    piece: str
    quoted: bool
    units: tuple[int, ...]

    @property
    def found(self) -> bool:
        return bool(self.units)


def cite(sentence: str, text: str, units: Sequence[Unit] | None = None) -> list[Citation]:
    """The pieces ``sentence`` cites and the units of ``text`` each matches (module docstring).

    ``units``: the text's units (default ``split_units(text)``; pass ``model.units(text)``).
    Distinct pieces in order of first mention (compared folded); an empty list when the sentence
    cites nothing."""
    units = split_units(text) if units is None else list(units)
    text_keys = [fold(u.text) for u in units]
    seen: set[tuple[str, ...]] = set()
    out = []
    for piece, quoted in _pieces(sentence or ""):
        keys = _piece_keys(piece)
        if not keys or keys in seen:
            continue
        matched = _occurrences(text_keys, keys)
        if quoted and not matched and _is_class_name(" ".join(keys)):
            continue  # the verdict in quotes, not evidence
        seen.add(keys)
        out.append(Citation(piece, quoted, matched))
    return out


def citation_scores(citations: Sequence[Citation], n_units: int) -> np.ndarray:
    """One score per unit: (P − j) / P for the units of the j-th found piece of P, 0 elsewhere."""
    scores = np.zeros(n_units, dtype=float)
    found = [c for c in citations if c.found]
    for j, c in enumerate(found):
        value = (len(found) - j) / len(found)
        idx = np.asarray(c.units, dtype=int)
        scores[idx] = np.maximum(scores[idx], value)
    return scores


def cited_units(citations: Sequence[Citation]) -> list[int]:
    """Indices of every cited unit, each once, in order of first mention."""
    return list(dict.fromkeys(i for c in citations for i in c.units))


def _pieces(sentence: str) -> list[tuple[str, bool]]:
    quoted = [m.group()[1:-1] for m in QUOTE_PATTERN.finditer(sentence)]
    if quoted:
        return [(q, True) for q in quoted]
    bare = _strip_frame(sentence)
    return [(u.text, False) for u in split_units(bare) if _is_content(u.text)]


def _strip_frame(sentence: str) -> str:
    """``sentence`` (folded) with the "nothing is cited" phrases and every Chinese class phrase
    blanked out (English class names are skipped word by word in ``_is_content``)."""
    sentence = fold(sentence)
    for phrase in NOTHING_PHRASES:
        sentence = regex.sub(r"(?<![\p{L}\p{N}])" + regex.escape(fold(phrase)) + r"(?![\p{L}\p{N}])", " ", sentence)
    for phrase in {*ZH_PHRASES.values(), *(s for names in SYNONYMS.values() for s in names)}:
        if regex.search(r"\p{Han}", phrase):
            sentence = sentence.replace(phrase, " ")
    return sentence


def _is_content(unit: str) -> bool:
    key = fold(unit)
    if _PUNCTUATION_ONLY.match(key) or _NUMBER.match(key) or key in STOP_WORDS or key in ZH_STOP_CHARS:
        return False
    return not _is_class_name(key)


def _is_class_name(key: str) -> bool:
    return any(key == fold(name) for names in SYNONYMS.values() for name in names) or key in SYNONYMS


def _piece_keys(piece: str) -> tuple[str, ...]:
    keys = [fold(u.text) for u in split_units(piece)]
    if any(not _PUNCTUATION_ONLY.match(k) for k in keys):
        while keys and _PUNCTUATION_ONLY.match(keys[0]):
            keys.pop(0)
        while keys and _PUNCTUATION_ONLY.match(keys[-1]):
            keys.pop()
    return tuple(keys)


def _occurrences(text_keys: list[str], keys: tuple[str, ...]) -> tuple[int, ...]:
    m = len(keys)
    hits: list[int] = []
    for i in range(len(text_keys) - m + 1):
        if tuple(text_keys[i:i + m]) == keys:
            hits.extend(range(i, i + m))
    return tuple(dict.fromkeys(hits))
