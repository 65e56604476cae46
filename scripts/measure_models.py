"""Train built-in models from scratch in a fresh cache and check them against their targets.

Usage::

    python scripts/measure_models.py                       # every built-in model
    python scripts/measure_models.py --model minilm-reviews-en --keep /tmp/xb-cache

Each model is built exactly as ``xb.load_model(name)`` builds it on first use, but into a temporary
cache (``XAIBENCH_CACHE``), so nothing already cached is reused. Prints test quality (accuracy,
macro-F1; Pearson r, MAE, RMSE for regressors), training seconds (wall and CPU) and the load average
before and after; other processes on the same cores inflate wall time, so read the seconds together
with the load. Exit status 1 if a target is missed.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # not available on this platform
        return "n/a"


def measure(name: str) -> dict:
    """Build ``name`` in the current cache root and return its card plus the targets check."""
    from xaibench.core import registry

    model = registry.models.create(name)
    if model.is_built():
        raise SystemExit(f"{name} is already built in {model.folder}; measure in an empty cache")
    load_before = load_average()
    model.ensure_built(progress=True)
    card = model.card()
    card["load_average_before"], card["load_average_after"] = load_before, load_average()
    # Targets "test_<metric>" are floors on the card's test metrics (accuracy, pearson_r, ...).
    floors = {k[len("test_"):]: v for k, v in model.targets.items() if k.startswith("test_")}
    card["meets_accuracy"] = all(card["metrics"]["test"][m] >= v for m, v in floors.items())
    card["meets_time"] = card["train_seconds"] <= model.targets["train_seconds"]
    card["targets"] = model.targets
    card["folder"] = str(model.folder)
    return card


def report(card: dict) -> str:
    targets = card["targets"]
    floors = ", ".join(f"{k[len('test_'):]} >= {v}" for k, v in targets.items() if k.startswith("test_"))
    test = ", ".join(f"{k} {v:.4f}" for k, v in card["metrics"]["test"].items())
    validation = ", ".join(f"{k} {v:.4f}" for k, v in card["metrics"]["validation"].items())
    return "\n".join([
        f"== {card['name']}  (key {card['key']}, {card['num_threads']} threads)",
        f"test                 {test}  (target {floors}; "
        f"{'met' if card['meets_accuracy'] else 'NOT MET'}; n={card['sizes']['test']})",
        f"validation           {validation}  (n={card['sizes']['validation']})",
        f"training seconds     {card['train_seconds']:.1f}  (target <= {targets['train_seconds']}; "
        f"{'met' if card['meets_time'] else 'NOT MET'}; CPU seconds {card['train_cpu_seconds']:.1f}; "
        f"build incl. evaluation {card['build_seconds']:.1f})",
        f"train examples       {card['sizes']['train']}  steps {card['train_stats']['steps']}",
        f"load average         before {card['load_average_before']}  after {card['load_average_after']}",
    ])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", metavar="NAME", help="repeatable; default: all")
    parser.add_argument("--keep", metavar="DIR", help="build into DIR (kept) instead of a temporary folder")
    parser.add_argument("--json", metavar="FILE", help="also write the cards (with checks) to FILE")
    args = parser.parse_args(argv)

    cache = args.keep or tempfile.mkdtemp(prefix="xaibench-measure-")
    os.environ["XAIBENCH_CACHE"] = cache  # before xaibench reads the cache root
    from xaibench.core import registry  # noqa: F401
    from xaibench.zoo import recipes  # noqa: F401

    names = args.model or registry.models.names()
    cards = []
    try:
        for name in names:
            cards.append(measure(name))
            print(report(cards[-1]), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(cache, ignore_errors=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(cards, fh, indent=2, default=str)
    return 0 if all(c["meets_accuracy"] and c["meets_time"] for c in cards) else 1


if __name__ == "__main__":
    sys.exit(main())
