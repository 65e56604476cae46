"""On-disk cache of explanations and metric values, so re-runs and interrupted runs only compute
what is missing.

Entries are JSON (never pickle) written atomically; each carries a SHA-256 checksum of its payload
and an entry whose checksum does not match (a torn or edited file) is treated as missing and
recomputed. Keys hash everything the value depends on: model fingerprint, explainer name and
parameters, metric name and parameters, and the chunk's example ids and texts.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from xaibench.core.storage import atomic_write_text, cache_root


def canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def key_of(*parts) -> str:
    return hashlib.sha256(canonical(parts).encode("utf-8")).hexdigest()


class ResultCache:
    """A folder of checksummed JSON entries (``<kind>/<key[:2]>/<key>.json``)."""

    def __init__(self, root: str | os.PathLike | None = None, read: bool = True) -> None:
        self.root = Path(root) if root is not None else cache_root() / "results"
        self.read = read
        self.hits = 0
        self.misses = 0
        self.corrupt = 0

    def _path(self, kind: str, key: str) -> Path:
        return self.root / kind / key[:2] / f"{key}.json"

    def get(self, kind: str, key: str):
        if not self.read:
            self.misses += 1
            return None
        path = self._path(kind, key)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            payload = entry["payload"]
            if entry.get("checksum") != hashlib.sha256(canonical(payload).encode("utf-8")).hexdigest():
                raise ValueError("checksum mismatch")
        except FileNotFoundError:
            self.misses += 1
            return None
        except (ValueError, KeyError, TypeError, OSError):
            # A corrupted entry is recomputed, never trusted.
            self.corrupt += 1
            self.misses += 1
            return None
        self.hits += 1
        return payload

    def put(self, kind: str, key: str, payload) -> None:
        payload = json.loads(canonical(payload))  # normalise (tuples -> lists) before hashing
        checksum = hashlib.sha256(canonical(payload).encode("utf-8")).hexdigest()
        atomic_write_text(self._path(kind, key), canonical({"checksum": checksum, "payload": payload}))
