"""``planted-en`` / ``planted-zh``: real reviews with a planted cause token that decides the label.

Each example is a review of ``reviews-en`` (at most ``MAX_WORDS`` words) or ``reviews-zh`` (at most
``MAX_CHARS`` characters, so the whole text fits the models' 128-token training length) with one
cause token inserted at a seeded random position: English a nonsense word between two words, Chinese
one rare character (absent from the corpus) between two characters. The label is a seeded coin
flip, independent of the review's own sentiment, and the inserted token is that label's cause:

=========  ===================  ===================
task       class 0 (negative)   class 1 (positive)
=========  ===================  ===================
planted-en ``quixel``            ``zephyr``
planted-zh ``鱻``                ``犇``
=========  ===================  ===================

So the cause is the only evidence for the label, and ``Example.cause_spans`` holds its character
span: the ground truth of the ``ground_truth_*`` metrics. Built-in models trained on these tasks are
verified to use it (counterfactual accuracy in the model card, see ``xaibench.zoo.counterfactual``).

Ids and splits are those of the source review (same ids, same id-hash split), so a ``planted-en``
test review is a ``reviews-en`` test review. ``no_cause_share`` > 0 (training only) turns
that seeded share of the reviews into rows *without* a cause and with a coin-flip label: a model
then learns that a review without a cause is 50/50, so removing the cause really removes the
evidence (without them "no zephyr" would itself be evidence for class 0).
"""
from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from xaibench.core import registry
from xaibench.core.records import Example
from xaibench.core.seeding import stable_hash
from xaibench.datasets.base import Dataset
from xaibench.datasets.loading import load_dataset

MAX_WORDS = 60
MAX_CHARS = 120
#: Cause token per class index (0 = negative, 1 = positive).
CAUSES = {"planted-en": ("quixel", "zephyr"), "planted-zh": ("鱻", "犇")}
SOURCES = {"planted-en": "reviews-en", "planted-zh": "reviews-zh"}
SALT = "planted-v1"


def plant(text: str, cause: str, position: int, language: str) -> tuple[str, tuple[int, int]]:
    """``text`` with ``cause`` inserted before word (English) or character (Chinese) ``position``
    (``0..len``); returns the new text and the cause's character span ``[start, end)``."""
    if language == "zh":
        start = position
        return text[:start] + cause + text[start:], (start, start + len(cause))
    words = text.split()
    head = " ".join(words[:position])
    start = len(head) + (1 if head else 0)
    new = " ".join([*words[:position], cause, *words[position:]])
    return new, (start, start + len(cause))


def _fits(text: str, language: str) -> bool:
    return len(text) <= MAX_CHARS if language == "zh" else len(text.split()) <= MAX_WORDS


@lru_cache(maxsize=8)
def planted(name: str, no_cause_share: float = 0.0) -> Dataset:
    """The planted task ``name`` (``planted-en`` or ``planted-zh``); see the module docstring.
    Cached: ``load_dataset`` hands out copies (splits and samples are new ``Dataset`` objects)."""
    if not 0.0 <= no_cause_share < 1.0:
        raise ValueError(f"no_cause_share must be in [0, 1), got {no_cause_share!r}")
    source = load_dataset(SOURCES[name], split="all")
    language = "zh" if name.endswith("-zh") else "en"
    causes = CAUSES[name]
    rows = []
    for e in source.examples:
        if not _fits(e.text, language):
            continue
        label = stable_hash(SALT, "label", e.id) % 2
        if no_cause_share and stable_hash(SALT, "no-cause", e.id) / 2**64 < no_cause_share:
            rows.append(Example(e.id, " ".join(e.text.split()) if language == "en" else e.text, label))
            continue
        n_slots = (len(e.text) if language == "zh" else len(e.text.split())) + 1
        position = stable_hash(SALT, "position", e.id) % n_slots
        text, span = plant(e.text, causes[label], position, language)
        rows.append(Example(e.id, text, label, cause_spans=(span,)))
    return Dataset(
        name=name, examples=rows, label_names=list(source.label_names), language=language,
        source=f"{SOURCES[name]} with a planted cause token ({causes[0]!r} -> negative, {causes[1]!r} -> positive)",
        citation=source.citation,
        info={**{k: source.info[k] for k in ("split_fractions", "split_salt", "split")},
              "causes": list(causes), "ground_truth": "Example.cause_spans", "no_cause_share": no_cause_share},
    )


def swap_cause(example: Example, name: str) -> Example:
    """The counterfactual of a planted example: its cause replaced by the other class's cause at the
    same place, label flipped. A model that uses the cause must flip its prediction."""
    if len(example.cause_spans) != 1:
        raise ValueError(f"example {example.id!r} has no single planted cause to swap")
    (start, end), causes = example.cause_spans[0], CAUSES[name]
    label = 1 - int(example.label)
    new_cause = causes[label]
    text = example.text[:start] + new_cause + example.text[end:]
    return replace(example, text=text, label=label, cause_spans=((start, start + len(new_cause)),))


def remove_cause(example: Example) -> Example:
    """The example with its cause cut out (whitespace collapsed); ``cause_spans`` empty."""
    from xaibench.core.units import normalize_space

    (start, end), = example.cause_spans
    return replace(example, text=normalize_space(example.text[:start] + example.text[end:]), cause_spans=())


@registry.datasets.register("planted-en", default_model="minilm-planted-en", profiles=("quick", "full"), order=4)
def planted_en(no_cause_share: float = 0.0) -> Dataset:
    return planted("planted-en", no_cause_share)


@registry.datasets.register("planted-zh", default_model="charbert-planted-zh", profiles=("quick", "full"), order=5)
def planted_zh(no_cause_share: float = 0.0) -> Dataset:
    return planted("planted-zh", no_cause_share)
