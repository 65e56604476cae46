"""Datasets: built-in review and planted-cause tasks, and user CSV/JSONL files.

Each built-in is a loader function registered with ``@registry.datasets.register(name, ...)`` and
found by discovery (``xaibench.core.registry``).
"""
from xaibench.core.seeding import stable_hash  # noqa: F401
from xaibench.datasets.base import Dataset, split_of  # noqa: F401
from xaibench.datasets.loading import load_dataset  # noqa: F401
