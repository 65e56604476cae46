"""Where xaibench keeps things, and how it writes them: atomically (temp file + rename).

Cache root: ``$XAIBENCH_CACHE`` if set, else ``$XDG_CACHE_HOME/xaibench`` /
``platformdirs.user_cache_dir("xaibench")``.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path


def cache_root() -> Path:
    env = os.environ.get("XAIBENCH_CACHE")
    if env:
        root = Path(env)
    elif os.environ.get("XDG_CACHE_HOME"):
        root = Path(os.environ["XDG_CACHE_HOME"]) / "xaibench"
    else:
        import platformdirs

        root = Path(platformdirs.user_cache_dir("xaibench"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True, default=str) + "\n")


def publish_dir(staging: Path, final: Path) -> None:
    """Move a fully written ``staging`` folder to ``final`` in one rename (readers never see half)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        shutil.rmtree(staging, ignore_errors=True)
        return
    os.replace(staging, final)
