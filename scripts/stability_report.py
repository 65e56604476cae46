"""Stability and sanity report: mean perturbation_stability, topk_intersection@3, seed_stability,
randomization_sanity and max_sensitivity of every explainer on both built-in tasks, plus how many
perturbations were tried and kept.

    python scripts/stability_report.py              # n=24 test examples per task, seed 0
    python scripts/stability_report.py --n 8 --explainers random occlusion saliency

Built-in models are only loaded when already built (loading an unbuilt one trains it, which takes
long); pass ``--build`` to allow that. ``--json PATH`` also writes every mean and the per-example
perturbation counts.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

import xaibench as xb
from xaibench.core import registry

TASKS = {"minilm-reviews-en": "reviews-en", "charbert-reviews-zh": "reviews-zh"}
METRICS = (("perturbation_stability", {}), ("topk_intersection", {"k": 3}), ("seed_stability", {}),
           ("randomization_sanity", {}), ("max_sensitivity", {}))


def built_state(name: str) -> tuple[bool | None, str]:
    """(True/False/None = unknown, why) for a built-in model, without triggering its training."""
    xb.list_models()  # registers the built-in recipes
    if name not in registry.models:
        return False, "not registered in xaibench.zoo.recipes yet"
    recipe = registry.models.create(name)
    for attr in ("is_built", "built"):
        value = getattr(recipe, attr, None)
        if callable(value):
            value = value()
        if isinstance(value, bool):
            return value, "built" if value else "registered but not built"
    for attr in ("folder", "path", "output_dir"):
        value = getattr(recipe, attr, None)
        value = value() if callable(value) else value
        if value is not None:
            from pathlib import Path

            ok = Path(value).is_dir() and any(Path(value).glob("*.safetensors"))
            return ok, f"weights {'found' if ok else 'missing'} in {value}"
    return None, "the recipe does not say whether it is built"


def report_task(model_name: str, dataset: str, explainers: list[str], n: int, seed: int,
                settings: dict | None = None) -> dict:
    model = xb.load_model(model_name, progress=False)
    ds = xb.load_dataset(dataset, split="test", n=n, seed=seed)
    out = {}
    for name in explainers:
        started = time.perf_counter()
        attrs = xb.get_explainer(name, seed=seed, **(settings or {}).get(name, {})).explain(model, ds.texts)
        row = {}
        for metric, params in METRICS:
            result = xb.get_metric(metric, **params).evaluate(model, attrs)
            label = metric if metric != "topk_intersection" else f"topk_intersection@{params['k']}"
            row[label] = result.mean()
            row[f"{label}:n_defined"] = int(np.isfinite(result.values).sum())
            if metric == "perturbation_stability":
                tried = [d.get("tried", 0) for d in result.details]
                kept = [d.get("kept", 0) for d in result.details]
                row["perturbations_tried"], row["perturbations_kept"] = int(sum(tried)), int(sum(kept))
                row["examples_without_kept"] = int(sum(k == 0 for k in kept))
        row["seconds"] = time.perf_counter() - started
        out[name] = row
        print(f"  {name:22s} done in {row['seconds']:.0f}s", file=sys.stderr, flush=True)
    return out


def print_table(model_name: str, dataset: str, rows: dict, n: int) -> None:
    columns = ["perturbation_stability", "topk_intersection@3", "seed_stability", "randomization_sanity",
               "max_sensitivity"]
    print(f"\n## {dataset} · {model_name} (n={n}; ↑ higher is better except max_sensitivity ↓)\n")
    print("| explainer | " + " | ".join(columns) + " | kept / tried |")
    print("|" + "---|" * (len(columns) + 2))
    for name, row in rows.items():
        cells = ["n/a" if not np.isfinite(row[c]) else f"{row[c]:.3f}" for c in columns]
        print(f"| {name} | " + " | ".join(cells) + f" | {row['perturbations_kept']} / {row['perturbations_tried']} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=24, help="test examples per task (default 24)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--explainers", nargs="*", default=None, help="default: all registered")
    parser.add_argument("--models", nargs="*", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--build", action="store_true", help="train built-in models that are not built yet")
    parser.add_argument("--settings", default="smoke", choices=["smoke", "default"],
                        help="explainer settings: the smoke profile's (IG 16 steps, LIME 200 samples, SHAP 100 "
                             "evaluations; default) or each explainer's defaults")
    parser.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    args = parser.parse_args(argv)
    explainers = args.explainers or xb.list_explainers()
    report, missing = {}, []
    for model_name in args.models:
        built, why = built_state(model_name)
        if not (built or (args.build and model_name in registry.models)):
            missing.append(f"{model_name}: {why}")
            continue
        dataset = TASKS[model_name]
        print(f"{dataset} · {model_name}", file=sys.stderr, flush=True)
        from xaibench.harness.config import profile_explainer_settings

        settings = ({name: profile_explainer_settings("smoke", name) for name in explainers}
                    if args.settings == "smoke" else {})
        report[model_name] = report_task(model_name, dataset, explainers, args.n, args.seed, settings)
        print_table(model_name, dataset, report[model_name], args.n)
    for line in missing:
        print(f"skipped {line}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"n": args.n, "seed": args.seed, "settings": args.settings, "results": report, "skipped": missing}, fh, indent=2)
    return 0 if report else 1


if __name__ == "__main__":
    sys.exit(main())
