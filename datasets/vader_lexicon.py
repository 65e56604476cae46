"""The VADER sentiment lexicon: 7,500 English words and emoticons with a mean human valence rating.

Read from the installed ``vaderSentiment`` package (``vaderSentiment/vader_lexicon.txt``, MIT, a
dependency of xaibench; not copied). Each word was rated by ten human raters on [-4, 4]; the file
holds ``token<TAB>mean<TAB>std<TAB>[ratings]`` per line.
Source: Hutto & Gilbert (2014), "VADER: A Parsimonious Rule-based Model for Sentiment Analysis of
Social Media Text", ICWSM (the same paper whose rated review sentences are ``reviews-en``).
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

#: |valence| at or above which a word counts as a clear sentiment word (the lexicon's own scale:
#: 1.5 is halfway between "neutral" and the strongest ratings most words get).
STRONG_VALENCE = 1.5


@lru_cache(maxsize=1)
def vader_lexicon() -> dict[str, float]:
    """Lower-cased token -> mean human valence in [-4, 4]."""
    try:
        path = resources.files("vaderSentiment") / "vader_lexicon.txt"
    except ModuleNotFoundError as exc:  # pragma: no cover - dependency of the package
        raise ModuleNotFoundError("the VADER lexicon needs the 'vaderSentiment' package: "
                                  "pip install vaderSentiment") from exc
    lexicon = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.strip().split("\t")
        if len(parts) >= 2:
            try:
                lexicon[parts[0].lower()] = float(parts[1])
            except ValueError:
                continue
    return lexicon

