"""``load_dataset``: a built-in dataset by name or a user CSV/JSONL file by path, one split, n rows."""
from __future__ import annotations

import os

from xaibench.core import registry
from xaibench.datasets.base import Dataset
from xaibench.datasets.user_file import read_user_file


def load_dataset(
    name_or_path: str,
    split: str = "test",
    n: int | None = None,
    seed: int = 0,
    **options,
) -> Dataset:
    """A registered dataset by name, or a user CSV/JSONL file by path.

    ``split`` is one of train/validation/test/all; a dataset without splits (a user file without a
    split column, a registered loader whose ``info`` has no ``split_fractions``) is evaluation data
    as a whole, so every split name gives all its rows. ``n`` draws that many examples with
    ``seed`` (nested: n=16 is a prefix of n=200).
    """
    if name_or_path in registry.datasets:
        full = registry.datasets.create(name_or_path, **options)
    elif os.path.exists(str(name_or_path)):
        full = read_user_file(str(name_or_path), **options)
    else:
        registry.datasets.factory(name_or_path)  # raises with the closest valid name
        raise AssertionError("unreachable")
    if not full.info.get("split_fractions"):
        split = "all"
    ds = full.select_split(split, full.info.get("split_fractions", {}), full.info.get("split_salt", full.name)) \
        if split != "all" else full
    return ds.sample(n, seed)
