"""Seeds that do not depend on the machine, the Python run or the order of work."""
from __future__ import annotations

import hashlib


def stable_hash(*parts: object) -> int:
    """A 64-bit hash of ``parts`` that is the same on every machine and Python run; every derived
    seed (an example's, a permutation's, a sample's) is ``stable_hash(seed, ...)``."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big")
