"""``reviews-en``: English Amazon product-review and movie-review sentences with human ratings.

Source: Hutto & Gilbert (2014), "VADER: A Parsimonious Rule-based Model for Sentiment Analysis of
Social Media Text", ICWSM. Files ``amazonReviewSnippets_GroundTruth.txt`` (3,708 sentences) and
``movieReviewSnippets_GroundTruth.txt`` (10,605 sentences) from the vaderSentiment 3.3.2 sdist,
vendored in ``datasets/data/`` under the MIT licence (``LICENSE-vaderSentiment.txt``); each row is
``id<TAB>mean rating of ~20 human raters in [-4, 4]<TAB>sentence``.

Binary label rule: rating > 0.5 -> positive (1), rating < -0.5 -> negative (0), otherwise dropped;
repeated sentences are kept once (12,976 sentences). Splits by id hash: 80% train / 8% validation / 12% test.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

from xaibench.core import registry
from xaibench.core.records import Example
from xaibench.datasets.base import Dataset

CITATION = (
    "Hutto, C.J. & Gilbert, E.E. (2014). VADER: A Parsimonious Rule-based Model for Sentiment "
    "Analysis of Social Media Text. ICWSM-14."
)
SPLIT_FRACTIONS = {"train": 0.80, "validation": 0.08, "test": 0.12}
FILES = {"amazon": "amazon_review_snippets.tsv", "movie": "movie_review_snippets.tsv"}


@lru_cache(maxsize=1)
def rated_sentences() -> tuple[tuple[str, float, str], ...]:
    """All vendored rows as ``(id, mean human rating, sentence)``; ids are ``amazon-<id>`` or
    ``movie-<id>``."""
    rows = []
    data = resources.files("xaibench.datasets") / "data"
    for source, filename in FILES.items():
        for line in (data / filename).read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            rid, rating, sentence = line.split("\t", 2)
            rows.append((f"{source}-{rid}", float(rating), sentence.strip()))
    return tuple(rows)


@registry.datasets.register("reviews-en", default_model="minilm-reviews-en", profiles=("smoke", "quick", "full"), order=0)
def reviews_en(threshold: float = 0.5) -> Dataset:
    # A few sentences occur twice in the source files; keep the first so none can sit in both
    # train and test.
    examples: dict[str, Example] = {}
    for rid, rating, text in rated_sentences():
        if abs(rating) > threshold and text not in examples:
            examples[text] = Example(rid, text, 1 if rating > threshold else 0)
    return Dataset(
        name="reviews-en", examples=list(examples.values()), label_names=["negative", "positive"],
        language="en", source="vaderSentiment 3.3.2 sdist (hutto_ICWSM_2014), vendored",
        citation=CITATION,
        info={"split_fractions": SPLIT_FRACTIONS, "split_salt": "reviews-en", "split": True},
    )


@registry.datasets.register("ratings-en", default_model="minilm-ratings-en", profiles=("quick", "full"), order=2)
def ratings_en() -> Dataset:
    """Regression on the mean human rating in [-4, 4] of every vendored sentence (neutral ones too;
    repeated sentences kept once). Same id-hash splits as ``reviews-en``."""
    examples: dict[str, Example] = {}
    for rid, rating, text in rated_sentences():
        examples.setdefault(text, Example(rid, text, float(rating)))
    return Dataset(
        name="ratings-en", examples=list(examples.values()), label_names=["rating"], task_type="regression",
        language="en", source="vaderSentiment 3.3.2 sdist (hutto_ICWSM_2014), vendored", citation=CITATION,
        info={"split_fractions": SPLIT_FRACTIONS, "split_salt": "reviews-en", "split": True,
              "target": "mean human rating in [-4, 4]"},
    )


@registry.datasets.register("sentiment3-en", default_model="minilm-sentiment3-en", profiles=("quick", "full"),
                            order=3)
def sentiment3_en(threshold: float = 0.5) -> Dataset:
    """Three classes from the mean human rating: negative (<= -0.5), neutral, positive (>= 0.5)."""
    examples: dict[str, Example] = {}
    for rid, rating, text in rated_sentences():
        label = 0 if rating <= -threshold else (2 if rating >= threshold else 1)
        examples.setdefault(text, Example(rid, text, label))
    return Dataset(
        name="sentiment3-en", examples=list(examples.values()), label_names=["negative", "neutral", "positive"],
        language="en", source="vaderSentiment 3.3.2 sdist (hutto_ICWSM_2014), vendored", citation=CITATION,
        info={"split_fractions": SPLIT_FRACTIONS, "split_salt": "reviews-en", "split": True},
    )
