"""Meaning-preserving text perturbations for stability metrics: seeded, language-aware, label-checked.

``propose`` draws candidate edits of one text that a reader would not take to change its meaning:

- English: a keyboard typo (neighbouring key, swapped, dropped or doubled letter) in a word that is
  not among the protected (top-ranked) units; a punctuation edit (end mark changed, added or dropped;
  a comma after a word); a whitespace edit (a doubled space); a neutral filler ("honestly",
  "overall", ...) at the start or end; a case change of one unprotected word.
- Chinese: a full-/half-width swap of one punctuation mark (，<->, 。<->. ...); a sentence-final
  particle (啊 呀 呢 吧 了 的 哦) before a clause end; a neutral opener (其实，说实话，总的来说，总之，)
  at the start; a repeated punctuation mark (！->！！); a traditional/simplified variant of one
  unprotected character (这<->這, 买<->買 ...).

Every draw comes from a generator seeded by ``stable_hash("perturbations", seed, language, text)``,
so the same (seed, text, protected units) gives the same candidates on every machine, whatever else
is in the batch. ``label_preserving`` then keeps only candidates that leave the model's predicted class
unchanged and move p(target) by at most ``max_delta`` (one batched engine call for all texts), and
records how many were tried and kept. ``align_units`` pairs the units of x and x' by text and
order, treating width variants, case and traditional/simplified variants as the same unit.
"""
from __future__ import annotations

import difflib
import unicodedata
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import regex

from xaibench.core.records import Unit
from xaibench.core.seeding import stable_hash
from xaibench.core.units import split_units

LANGUAGES = ("en", "zh")

EN_FILLERS = ("honestly", "overall", "basically", "frankly", "all in all")
ZH_OPENERS = ("其实，", "说实话，", "总的来说，", "总之，")
ZH_PARTICLES = ("啊", "呀", "呢", "吧", "了", "的", "哦")
#: Full-width mark -> half-width mark. "。" has no compatibility decomposition (NFKC keeps it), so
#: the alignment key needs this table, not only NFKC.
WIDTH_PAIRS = {"，": ",", "。": ".", "！": "!", "？": "?", "：": ":", "；": ";", "（": "(", "）": ")"}
_HALF_TO_FULL = {v: k for k, v in WIDTH_PAIRS.items()}
#: Simplified -> traditional for common review vocabulary; one-to-one in both directions (characters
#: whose traditional form is ambiguous, such as 后/後 or 里/裡, are left out on purpose).
_SIMP_TRAD = dict(zip(
    "这说买卖东书机欢满荐个们来时没发货价钱实觉过给还质务态经间边样为点电脑视话题与对让请问门开关车场现"
    "几听读写错长环饭馆设备网页号总应该虽级厅净卫热员从难习带华国语词爱处岁丽亲无当变张头动万气两种单区"
    "图医报广业产节结乐运远进选条类极简紧讲较杂乱压显",
    "這說買賣東書機歡滿薦個們來時沒發貨價錢實覺過給還質務態經間邊樣為點電腦視話題與對讓請問門開關車場現"
    "幾聽讀寫錯長環飯館設備網頁號總應該雖級廳淨衛熱員從難習帶華國語詞愛處歲麗親無當變張頭動萬氣兩種單區"
    "圖醫報廣業產節結樂運遠進選條類極簡緊講較雜亂壓顯",
))
_TRAD_SIMP = {t: s for s, t in _SIMP_TRAD.items()}
_KEY_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_HAN = regex.compile(r"\p{Han}")
_LATIN = regex.compile(r"[A-Za-z]")
_WORD = regex.compile(r"^[^\W\d_]{3,}$")
_END_MARKS = (".", "!", "?")


@dataclass(frozen=True)
class Perturbation:
    """One candidate edit: the perturbed ``text`` and the ``kind`` of edit that made it."""

    text: str
    kind: str


@dataclass(frozen=True)
class PerturbationSet:
    """The label-preserving perturbations of one text.

    ``tried``: candidates proposed (distinct, all different from ``original``); ``kept``: those that
    passed the label check, in proposal order, at most ``n_keep``; ``deltas[i]``: f(kept[i]) − f(x)
    where f is p(target) (ŷ/σ for regression); ``language``: the operator set used.
    """

    original: str
    target: int
    language: str
    tried: int
    kept: tuple[Perturbation, ...]
    deltas: tuple[float, ...]

    @property
    def texts(self) -> list[str]:
        return [p.text for p in self.kept]


def detect_language(text: str) -> str:
    """``"zh"`` when Han characters make up at least a quarter of the letters, else ``"en"``."""
    han = len(_HAN.findall(text))
    return "zh" if han and 3 * han >= len(_LATIN.findall(text)) else "en"


def _neighbours() -> dict[str, str]:
    # A staggered keyboard: row r, column c touches c±1 in its row, c and c+1 above, c−1 and c below.
    out = {}
    for r, row in enumerate(_KEY_ROWS):
        for c, ch in enumerate(row):
            near = [row[j] for j in (c - 1, c + 1) if 0 <= j < len(row)]
            if r > 0:
                near += [_KEY_ROWS[r - 1][j] for j in (c, c + 1) if j < len(_KEY_ROWS[r - 1])]
            if r < 2:
                near += [_KEY_ROWS[r + 1][j] for j in (c - 1, c) if 0 <= j < len(_KEY_ROWS[r + 1])]
            out[ch] = "".join(near)
    return out


_NEIGHBOURS = _neighbours()

Op = Callable[[np.random.Generator, str, list[Unit], set[int]], "str | None"]


def _free(units: list[Unit], protected: set[int], test: Callable[[str], bool]) -> list[int]:
    return [i for i, u in enumerate(units) if i not in protected and test(u.text)]


def _replace(text: str, unit: Unit, new: str) -> str:
    return text[:unit.start] + new + text[unit.end:]


def _pick(rng: np.random.Generator, items: Sequence):
    return items[int(rng.integers(len(items)))]


# ---- English ------------------------------------------------------------------------------------
def en_typo(rng, text, units, protected):
    words = _free(units, protected, lambda w: bool(_WORD.match(w)) and w.isascii())
    if not words:
        return None
    unit = units[_pick(rng, words)]
    w = unit.text
    pos = int(rng.integers(len(w)))
    kind = _pick(rng, ("neighbour", "swap", "drop", "double"))
    if kind == "neighbour" and w[pos].lower() in _NEIGHBOURS:
        key = _pick(rng, _NEIGHBOURS[w[pos].lower()])
        new = w[:pos] + (key.upper() if w[pos].isupper() else key) + w[pos + 1:]
    elif kind == "swap" and pos < len(w) - 1 and w[pos] != w[pos + 1]:
        new = w[:pos] + w[pos + 1] + w[pos] + w[pos + 2:]
    elif kind == "drop":
        new = w[:pos] + w[pos + 1:]
    else:
        new = w[:pos] + w[pos] + w[pos:]
    return _replace(text, unit, new)


def en_punctuation(rng, text, units, protected):
    stripped = text.rstrip()
    last_free = bool(units) and len(units) - 1 not in protected
    if rng.random() < 0.5 and stripped:
        if stripped[-1] in _END_MARKS:
            if not last_free:
                return None
            return stripped[:-1] + _pick(rng, [m for m in (*_END_MARKS, "", "...") if m != stripped[-1]])
        return stripped + _pick(rng, (".", "!"))
    # A comma after a word that is followed by a space (not already by punctuation).
    spots = [u.end for u in units[:-1] if u.text[-1].isalnum() and text[u.end:u.end + 1] == " "]
    if not spots:
        return None
    at = _pick(rng, spots)
    return text[:at] + "," + text[at:]


def en_whitespace(rng, text, units, protected):
    spaces = [m.start() for m in regex.finditer(r" ", text)]
    if not spaces:
        return None
    at = _pick(rng, spaces)
    return text[:at] + " " + text[at:]


def en_filler(rng, text, units, protected):
    filler = _pick(rng, EN_FILLERS)
    if rng.random() < 0.5 or not text.rstrip():
        first = text[:1]
        # Lower-case a capitalised opening word so the filler reads as the sentence start ("I" stays).
        rest = text
        opener = units[0].text if units else ""
        if first.isupper() and opener != "I" and (len(opener) == 1 or not opener.isupper()) and 0 not in protected:
            rest = first.lower() + text[1:]
        return f"{filler.capitalize()}, {rest}"
    body = text.rstrip()
    end = regex.search(r"[.!?]*$", body)  # keep the whole end mark ("...", "?!") as it was
    return f"{body[:end.start()]}, {filler}{end.group() or '.'}"


def en_case(rng, text, units, protected):
    words = _free(units, protected, lambda w: len(w) >= 2 and w[0].isalpha() and not w.isupper())
    if not words:
        return None
    unit = units[_pick(rng, words)]
    w = unit.text
    return _replace(text, unit, (w[0].lower() if w[0].isupper() else w[0].upper()) + w[1:])


# ---- Chinese ------------------------------------------------------------------------------------
def _is_mark(ch: str) -> bool:
    return ch in WIDTH_PAIRS or ch in _HALF_TO_FULL


def zh_width(rng, text, units, protected):
    marks = _free(units, protected, _is_mark)
    if not marks:
        return None
    unit = units[_pick(rng, marks)]
    return _replace(text, unit, WIDTH_PAIRS.get(unit.text) or _HALF_TO_FULL[unit.text])


def zh_particle(rng, text, units, protected):
    # Sentence-final particles go where a clause ends: before a punctuation mark, or at the end.
    ends = [u.start for i, u in enumerate(units) if _is_mark(u.text) and i > 0 and _HAN.match(units[i - 1].text)]
    if units and _HAN.match(units[-1].text):
        ends.append(units[-1].end)
    if not ends:
        return None
    at = _pick(rng, ends)
    return text[:at] + _pick(rng, ZH_PARTICLES) + text[at:]


def zh_opener(rng, text, units, protected):
    return _pick(rng, ZH_OPENERS) + text


def zh_repeat(rng, text, units, protected):
    marks = _free(units, protected, lambda ch: ch in "，。！？,.!?～~")
    if not marks:
        return None
    unit = units[_pick(rng, marks)]
    return _replace(text, unit, unit.text * int(rng.integers(2, 4)))


def zh_variant(rng, text, units, protected):
    chars = _free(units, protected, lambda ch: ch in _SIMP_TRAD or ch in _TRAD_SIMP)
    if not chars:
        return None
    unit = units[_pick(rng, chars)]
    return _replace(text, unit, _SIMP_TRAD.get(unit.text) or _TRAD_SIMP[unit.text])


#: Operators and their draw weights. Whitespace (and, for uncased models, case) edits usually leave
#: the token ids unchanged, so they are drawn less often: they test the explainer's own noise only.
OPERATORS: dict[str, dict[str, tuple[Op, float]]] = {
    "en": {"typo": (en_typo, 0.3), "punctuation": (en_punctuation, 0.2), "filler": (en_filler, 0.2),
           "case": (en_case, 0.2), "whitespace": (en_whitespace, 0.1)},
    "zh": {"width": (zh_width, 0.2), "particle": (zh_particle, 0.2), "opener": (zh_opener, 0.2),
           "repeat_punctuation": (zh_repeat, 0.2), "variant": (zh_variant, 0.2)},
}


def propose(text: str, n: int, *, seed: int = 0, language: str | None = None,
            protected: Sequence[int] = ()) -> list[Perturbation]:
    """Up to ``n`` distinct perturbed versions of ``text`` (each different from ``text``).

    ``protected``: indices into ``split_units(text)`` (the model's units) that typos, case changes
    and character variants must not touch, e.g. the explanation's top-ranked units. ``language``:
    ``"en"``, ``"zh"`` or None (``detect_language``). Operators are drawn with the weights of
    ``OPERATORS``; an operator that has nothing to edit is skipped. Fewer than ``n`` come back when
    the text allows fewer distinct edits.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n!r}")
    language = language or detect_language(text)
    if language not in OPERATORS:
        raise ValueError(f"language must be one of {LANGUAGES} or None, got {language!r}")
    kinds = list(OPERATORS[language])
    weights = np.array([OPERATORS[language][k][1] for k in kinds])
    units = split_units(text)
    protected_set = {int(i) for i in protected}
    rng = np.random.default_rng(stable_hash("perturbations", seed, language, text))
    seen, out = {text}, []
    for _ in range(20 * n):  # short texts run out of distinct edits; do not loop forever
        if len(out) >= n:
            break
        kind = kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]
        new = OPERATORS[language][kind][0](rng, text, units, protected_set)
        if new is None or new in seen or not new.strip():
            continue
        seen.add(new)
        out.append(Perturbation(new, kind))
    return out


def label_preserving(model, texts: Sequence[str], targets: Sequence[int], *, n_tries: int = 8, n_keep: int = 3,
                     max_delta: float = 0.05, seed: int = 0, protected: Sequence[Sequence[int]] | None = None,
                     language: str | None = None) -> list[PerturbationSet]:
    """Propose ``n_tries`` candidates per text and keep the first ``n_keep`` that preserve the label.

    Kept: the predicted class of x' equals that of x (classification) and |f(x') − f(x)| <= ``max_delta``
    where f is p(target) (ŷ/σ for regression). All originals and candidates go through the batched
    engine in ONE call. ``protected[i]``: unit indices of ``texts[i]`` that edits must not touch.
    """
    texts, targets = list(texts), [int(t) for t in targets]
    if len(targets) != len(texts):
        raise ValueError(f"got {len(targets)} targets for {len(texts)} texts")
    if not 0 <= max_delta:
        raise ValueError(f"max_delta must be >= 0, got {max_delta!r}")
    protected = list(protected) if protected is not None else [()] * len(texts)
    languages = [language or detect_language(t) for t in texts]
    candidates = [propose(t, n_tries, seed=seed, language=lang, protected=p)
                  for t, lang, p in zip(texts, languages, protected)]
    flat = texts + [c.text for cands in candidates for c in cands]
    logits = model.logits(flat) if flat else np.zeros((0, model.n_outputs))
    flat_targets = targets + [t for t, cands in zip(targets, candidates) for _ in cands]
    values = np.asarray(model.output_from_logits(logits, flat_targets, model.default_output), dtype=float)
    classes = logits.argmax(axis=1)
    out, pos = [], len(texts)
    for i, cands in enumerate(candidates):
        kept, deltas = [], []
        for j, cand in enumerate(cands):
            k = pos + j
            delta = float(values[k] - values[i])
            same_class = model.task_type == "regression" or classes[k] == classes[i]
            if same_class and abs(delta) <= max_delta and len(kept) < n_keep:
                kept.append(cand)
                deltas.append(delta)
        pos += len(cands)
        out.append(PerturbationSet(texts[i], targets[i], languages[i], len(cands), tuple(kept), tuple(deltas)))
    return out


def alignment_key(unit_text: str) -> str:
    """What makes two units "the same" across a perturbation: NFKC, case-folded, half-width marks,
    simplified characters."""
    key = unicodedata.normalize("NFKC", unit_text).casefold()
    return "".join(_TRAD_SIMP.get(ch, WIDTH_PAIRS.get(ch, ch)) for ch in key)


def align_units(units_a: Sequence[str], units_b: Sequence[str]) -> list[tuple[int, int]]:
    """Pairs (i, j) of units shared by two texts, matched by ``alignment_key`` and order (the longest
    common subsequence blocks of ``difflib.SequenceMatcher``); unmatched units (a typo'd word, an
    inserted filler) are left out."""
    a = [alignment_key(u) for u in units_a]
    b = [alignment_key(u) for u in units_b]
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return [(blk.a + k, blk.b + k) for blk in matcher.get_matching_blocks() for k in range(blk.size)]
