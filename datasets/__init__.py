"""Datasets: built-in review corpora and user CSV/JSONL files, behind one registry.

Importing this package registers the built-in datasets.
"""
from .base import Dataset, load_dataset, stable_hash, split_of  # noqa: F401
from . import reviews_en, reviews_zh  # noqa: F401  (registration side effects)
from . import planted  # noqa: F401,E402  (registration: planted-en, planted-zh)
