"""Planted-cause report: does each built-in planted model use its cause (counterfactual accuracy), and
how often does every explainer rank the cause first (ground_truth_top1, ground_truth_rank)?

    python scripts/planted_report.py                      # n=50 test examples per task, seed 0
    python scripts/planted_report.py --n 20 --explainers random occlusion lime
    python scripts/planted_report.py --contrast 50 --pairs-out pairs.jsonl   # also contrast_hit@3 on reviews-*

Building a planted model the first time trains it (a few minutes on 2 CPU cores); its card then
holds the counterfactual check on the whole test split, which is printed too. ``--json PATH`` writes
every number. Explainers run with their default (quick-profile) settings.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict

import numpy as np

import xaibench as xb
from xaibench.core import registry
from xaibench.harness.config import profile_explainers
from xaibench.zoo.counterfactual import COUNTERFACTUAL_FLOOR, counterfactual_check

TASKS = {"planted-en": "minilm-planted-en", "planted-zh": "charbert-planted-zh"}
CONTRAST_TASKS = {"reviews-en": "minilm-reviews-en", "reviews-zh": "charbert-reviews-zh"}


def ground_truth_table(model, dataset: str, explainers: list[str], n: int, seed: int) -> dict:
    ds = xb.load_dataset(dataset, split="test", n=n, seed=seed)
    rows = {}
    for name in explainers:
        started = time.perf_counter()
        attrs = xb.with_references(xb.get_explainer(name, seed=seed).explain(model, ds.texts), ds.examples)
        top1 = xb.get_metric("ground_truth_top1").evaluate(model, attrs)
        rank = xb.get_metric("ground_truth_rank").evaluate(model, attrs)
        rows[name] = {"ground_truth_top1": top1.mean(), "ground_truth_rank": rank.mean(),
                      "random_top1": float(np.nanmean(top1.random_reference)),
                      "seconds": round(time.perf_counter() - started, 1)}
        print(f"  {name:22s} top1 {rows[name]['ground_truth_top1']:.3f}   rank {rows[name]['ground_truth_rank']:.3f}"
              f"   ({rows[name]['seconds']:.1f} s)", flush=True)
    return rows


def contrast_table(model, dataset: str, explainers: list[str], n: int, seed: int, pairs_out) -> dict:
    from xaibench.metrics.contrast import contrast_pairs

    ds = xb.load_dataset(dataset, split="test", n=n, seed=seed)
    pairs = contrast_pairs(model, ds.texts)
    kept = [p for p in pairs if not isinstance(p, str)]
    print(f"  {len(kept)} of {len(ds)} test texts have a prediction-flipping edit "
          f"({', '.join(f'{sum(p.kind == k for p in kept)} {k}' for k in ('negation', 'antonym', 'polarity_swap'))})")
    if pairs_out is not None:
        for e, p in zip(ds.examples, pairs):
            if not isinstance(p, str):
                row = {"dataset": dataset, "example_id": e.id, **asdict(p)}
                pairs_out.write(json.dumps(row, ensure_ascii=False) + "\n")
    # contrast_hit@k explains the edited text of each pair; the original's own scores are not used,
    # so only texts with a pair are explained here.
    texts = [t for t, p in zip(ds.texts, pairs) if not isinstance(p, str)]
    rows = {}
    for name in explainers:
        attrs = xb.get_explainer(name, seed=seed).explain(model, texts)
        result = xb.get_metric("contrast_hit@3").evaluate(model, attrs)
        rows[name] = {"contrast_hit@3": result.mean(), "random": float(np.nanmean(result.random_reference))}
        print(f"  {name:22s} contrast_hit@3 {rows[name]['contrast_hit@3']:.3f}   (random {rows[name]['random']:.3f})",
              flush=True)
    return {"n_pairs": len(kept), "explainers": rows}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50, help="test examples per planted task (default 50)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--explainers", nargs="+", default=profile_explainers())
    parser.add_argument("--tasks", nargs="*", default=list(TASKS), choices=list(TASKS),
                        help="planted tasks to report (none: only --contrast)")
    parser.add_argument("--contrast", type=int, default=0, metavar="N",
                        help="also contrast_hit@3 on N test texts of reviews-en/zh (default 0: skip)")
    parser.add_argument("--pairs-out", help="write the contrast pairs (JSONL) here")
    parser.add_argument("--json", help="write every number to this file")
    args = parser.parse_args(argv)
    report = {"n": args.n, "seed": args.seed, "tasks": {}}
    ok = True
    for dataset in args.tasks:
        name = TASKS[dataset]
        model = xb.load_model(name)
        card = registry.models.create(name).card()
        check = counterfactual_check(model, dataset, n=args.n, seed=args.seed)
        stored = card.get("counterfactual_check", {})
        print(f"\n{dataset} · {name}")
        print(f"  card (whole test split, n={stored.get('n')}): accuracy {stored.get('accuracy')}, "
              f"counterfactual accuracy {stored.get('counterfactual_accuracy')}, "
              f"cause removed -> mean max prob {stored.get('cause_removed_mean_max_prob')}")
        print(f"  these {check['n']} examples: accuracy {check['accuracy']}, counterfactual accuracy "
              f"{check['counterfactual_accuracy']}, flip rate {check['prediction_flip_rate']}")
        ok &= check["counterfactual_accuracy"] >= COUNTERFACTUAL_FLOOR
        table = ground_truth_table(model, dataset, args.explainers, args.n, args.seed)
        report["tasks"][dataset] = {"model": name, "card_check": stored, "check": check, "explainers": table}
    if args.contrast:
        report["contrast"] = {}
        pairs_out = open(args.pairs_out, "w", encoding="utf-8") if args.pairs_out else None
        try:
            for dataset, name in CONTRAST_TASKS.items():
                print(f"\n{dataset} · {name}: contrast pairs")
                report["contrast"][dataset] = contrast_table(xb.load_model(name), dataset, args.explainers,
                                                             args.contrast, args.seed, pairs_out)
        finally:
            if pairs_out is not None:
                pairs_out.close()
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=1, ensure_ascii=False)
    if not ok:
        print(f"\nWARNING: counterfactual accuracy below {COUNTERFACTUAL_FLOOR}: the model does not follow its cause")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
