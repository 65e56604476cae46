"""Per-explainer cost on a built-in model: forward and backward passes and wall time per example.

    python scripts/explainer_cost.py --model minilm-reviews-en --dataset reviews-en --n 50

Every explainer runs with its default parameters on the same ``--n`` test sentences, explaining
the predicted class. Targets are predicted once beforehand and passed in, so the table shows each
method's own cost (``explain`` would otherwise add one forward per example for the default
target). Counts come from the model's pass counters; times are wall-clock on this machine.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch

import xaibench as xb


def measure(model, texts: list[str], targets: list[int], names: list[str], seed: int) -> pd.DataFrame:
    rows = []
    for name in names:
        explainer = xb.get_explainer(name, seed=seed)
        model.reset_counters()
        start = time.perf_counter()
        attrs = explainer.explain(model, texts, targets=targets)
        seconds = time.perf_counter() - start
        assert sum(a.cost["n_forward"] for a in attrs) == model.n_forward
        rows.append({
            "explainer": name,
            "params": ", ".join(f"{k}={v}" for k, v in explainer.params().items() if k not in ("seed", "output")),
            "forwards": model.n_forward,
            "backwards": model.n_backward,
            "forwards/example": model.n_forward / len(texts),
            "backwards/example": model.n_backward / len(texts),
            "ms/example": 1000 * seconds / len(texts),
            # CUDA only: torch keeps no CPU peak (Explainer.explain), so NaN there, not 0.
            "peak_mem_MB": (float("nan") if attrs[0].cost["peak_mem_bytes"] is None
                            else attrs[0].cost["peak_mem_bytes"] / 2**20),
        })
    return pd.DataFrame(rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="minilm-reviews-en")
    parser.add_argument("--dataset", default="reviews-en")
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--explainers", default=None, help="comma-separated names (default: all)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    model = xb.load_model(args.model, device=args.device)
    texts = xb.load_dataset(args.dataset, split="test", n=args.n, seed=args.seed).texts
    targets = [int(t) for t in model.predicted_targets(texts)]
    names = args.explainers.split(",") if args.explainers else xb.list_explainers()
    import captum.attr  # noqa: F401,E401  (warm-up: keep import time out of the table)
    import lime.lime_text
    import shap
    xb.get_explainer("occlusion").explain(model, texts[:1])
    table = measure(model, texts, targets, names, args.seed)
    units = np.mean([len(model.units(t)) for t in texts])
    tokens = np.mean([len(ids) for ids in model.token_ids(texts)])
    print(f"model {args.model} on {args.device} ({torch.get_num_threads()} threads), {len(texts)} "
          f"{args.dataset} test sentences, mean {units:.1f} units / {tokens:.1f} tokens each\n")
    print(table.to_markdown(index=False, floatfmt=".1f"))


if __name__ == "__main__":
    main()
