"""``Dataset``: a list of ``Example`` rows plus label names, split and sample rules shared by all data.

Splits are assigned per example id by a salted hash, so they are deterministic, disjoint, stable
when rows are added, and independent of the run seed (a built-in model trained on ``train`` never
sees ``test``, whatever seed a benchmark uses). ``n`` examples are drawn by ranking ids with a
seed-salted hash: the first 16 of a seed are also the first 16 of its first 200.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from xaibench.core.records import Example
from xaibench.core.seeding import stable_hash

SPLITS = ("train", "validation", "test", "all")


def split_of(example_id: str, fractions: dict[str, float], salt: str) -> str:
    """The split an id falls in, given split fractions (in order train, validation, test)."""
    u = stable_hash(salt, example_id) / 2**64
    edge = 0.0
    for name, frac in fractions.items():
        edge += frac
        if u < edge:
            return name
    return list(fractions)[-1]


@dataclass
class Dataset:
    """Rows of one split. ``labels`` are class indices into ``label_names`` (classification) or
    floats (regression). ``language`` is informational ("en", "zh", "mixed")."""

    name: str
    examples: list[Example]
    label_names: list[str]
    split: str = "all"
    task_type: str = "classification"
    language: str = "en"
    source: str = ""
    citation: str = ""
    info: dict = field(default_factory=dict)

    @property
    def texts(self) -> list[str]:
        return [e.text for e in self.examples]

    @property
    def labels(self) -> list:
        return [e.label for e in self.examples]

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self.examples]

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> Example:
        return self.examples[i]

    def __iter__(self):
        return iter(self.examples)

    def fingerprint(self) -> str:
        """Content hash of ids, texts and labels (for provenance and cache keys)."""
        h = hashlib.sha256()
        for e in self.examples:
            h.update(f"{e.id}\x1f{e.text}\x1f{e.label}\x1e".encode("utf-8"))
        return h.hexdigest()[:16]

    def sample(self, n: int | None, seed: int = 0) -> "Dataset":
        """``n`` examples ranked by a seed-salted hash of their id (nested across n)."""
        if n is None or n >= len(self.examples):
            return _replace_examples(self, list(self.examples))
        if n <= 0:
            raise ValueError(f"n must be a positive number of examples, got {n}")
        return self.ranked(seed, n)

    def ranked(self, seed: int = 0, n: int | None = None) -> "Dataset":
        """The first ``n`` (default: all) examples in the order of ``sample``'s seed-salted hash, so
        every prefix of it is ``sample(k, seed)`` (a budgeted run's rounds take prefixes)."""
        chosen = sorted(self.examples, key=lambda e: stable_hash("sample", seed, e.id))
        return _replace_examples(self, chosen[:n] if n is not None else chosen)

    def select_split(self, split: str, fractions: dict[str, float], salt: str) -> "Dataset":
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if split == "all":
            return self
        rows = [e for e in self.examples if split_of(e.id, fractions, salt) == split]
        out = _replace_examples(self, rows)
        out.split = split
        return out


def _replace_examples(ds: Dataset, rows: list[Example]) -> Dataset:
    return Dataset(
        name=ds.name, examples=rows, label_names=list(ds.label_names), split=ds.split,
        task_type=ds.task_type, language=ds.language, source=ds.source, citation=ds.citation,
        info=dict(ds.info),
    )
