"""Convergence-mode LIME and SHAP against their fixed budgets: speed-up and agreement.

    python scripts/convergence_agreement.py --n 64 --k 5

For each built-in review task (English MiniLM, Chinese char-BERT) the same ``--n`` test texts,
explaining the predicted class, are explained by

- LIME at its default fixed budget (1000 samples), again with another seed (the noise floor: how
  much two fixed-budget runs agree), and in convergence mode (``converge_top_k=k``);
- SHAP Partition at its default budget (500 evaluations) and in convergence mode.

Agreement with the fixed-budget result, per text: Spearman rank correlation of the unit scores
(texts of 3+ units) and top-k overlap |top-k(a) ∩ top-k(b)| / k (k capped at the text's units − 1, as in the
stopping rule).
Cost: model forward passes (the engine's counter) and wall time, both runs side by side in one
process. Last, cross-method coalition reuse: SHAP, LIME and three removal metrics run inside one
open ``SharedComputations`` table; the forward passes each found already computed are counted.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

import xaibench as xb
from xaibench.explainers._convergence import effective_k, top_k
from xaibench.modeling.sharing import SharedComputations

TASKS = {"reviews-en": "minilm-reviews-en", "reviews-zh": "charbert-reviews-zh"}


def agreement(a, b, k: int) -> tuple[float, float]:
    rhos, overlaps = [], []
    for x, y in zip(a, b):
        x, y = np.asarray(x.scores), np.asarray(y.scores)
        kk = effective_k(k, len(x))
        if len(x):
            overlaps.append(len(top_k(x, kk) & top_k(y, kk)) / kk)
        if len(x) >= 3 and np.std(x) > 0 and np.std(y) > 0:
            rhos.append(spearmanr(x, y).statistic)
    return float(np.mean(rhos)), float(np.mean(overlaps))


def timed(model, name: str, texts, targets, **params):
    model.reset_counters()
    start = time.perf_counter()
    attrs = xb.get_explainer(name, **params).explain(model, texts, targets=targets)
    return attrs, time.perf_counter() - start, model.n_forward


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--k", type=int, default=5, help="converge_top_k and the overlap's k")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tasks", default=",".join(TASKS))
    args = parser.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")

    rows, reuse = [], []
    for task in args.tasks.split(","):
        model = xb.load_model(TASKS[task])
        texts = xb.load_dataset(task, split="test", n=args.n, seed=args.seed).texts
        targets = [int(t) for t in model.predicted_targets(texts)]
        n_units = np.mean([len(model.units(t)) for t in texts])
        runs = {
            "lime": ({"seed": args.seed}, {"seed": args.seed + 1}, {"seed": args.seed, "converge_top_k": args.k}),
            "shap": ({"seed": args.seed}, {"seed": args.seed + 1}, {"seed": args.seed, "converge_top_k": args.k}),
        }
        for name, (fixed_p, other_p, conv_p) in runs.items():
            fixed, fixed_s, fixed_f = timed(model, name, texts, targets, **fixed_p)
            other, _, _ = timed(model, name, texts, targets, **other_p)
            conv, conv_s, conv_f = timed(model, name, texts, targets, **conv_p)
            floor_rho, floor_top = agreement(fixed, other, args.k)
            rho, top = agreement(conv, fixed, args.k)
            used = [a.metadata.get("lime_samples", a.metadata.get("shap_evals")) for a in conv]
            converged = np.mean([a.metadata.get("lime_converged", a.metadata.get("shap_converged")) for a in conv])
            row = {"task": task, "explainer": name, "units/text": round(n_units, 1),
                   "fixed s": round(fixed_s, 1), "converging s": round(conv_s, 1),
                   "speed-up (time)": round(fixed_s / conv_s, 2),
                   "fixed fwd": fixed_f, "converging fwd": conv_f, "speed-up (passes)": round(fixed_f / conv_f, 2),
                   "median samples/evals": float(np.median(used)), "converged": round(float(converged), 3),
                   "spearman vs fixed": round(rho, 3), f"top-{args.k} overlap vs fixed": round(top, 3),
                   "spearman fixed vs fixed (other seed)": round(floor_rho, 3),
                   f"top-{args.k} fixed vs fixed (other seed)": round(floor_top, 3)}
            if name == "lime":
                row["median lime_stderr / |score|"] = round(float(np.median(np.concatenate([
                    np.asarray(a.metadata["lime_stderr"]) / np.maximum(np.abs(a.scores), 1e-12) for a in conv]))), 3)
            rows.append(row)
            print(row, flush=True)

        # Cross-method reuse: which forward passes had already been computed by an earlier method.
        metrics = [xb.get_metric(m) for m in ("comprehensiveness", "sufficiency", "deletion_auc")]
        shared = SharedComputations(grow=True)
        with model.sharing(shared):
            for step, work in [("shap", lambda: xb.get_explainer("shap", seed=args.seed).explain(model, texts, targets=targets)),
                               ("lime", lambda: xb.get_explainer("lime", seed=args.seed).explain(model, texts, targets=targets)),
                               ("metrics on lime", None)]:
                model.reset_counters()
                if work is not None:
                    out = work()
                else:
                    from xaibench.metrics.evaluation import evaluate_metrics
                    evaluate_metrics(model, metrics, out)
                total = model.n_forward + model.n_forward_reused
                reuse.append({"task": task, "step (in this order)": step, "forward passes needed": total,
                              "already computed": model.n_forward_reused,
                              "share reused": round(model.n_forward_reused / max(total, 1), 4)})
                print(reuse[-1], flush=True)

    print()
    print(pd.DataFrame(rows).to_markdown(index=False))
    print()
    print(pd.DataFrame(reuse).to_markdown(index=False))


if __name__ == "__main__":
    main()
