"""Per-example cost of ferret's benchmark configuration, run through xaibench's engine (issue #8).

ferret 0.4.2's ``Benchmark`` explains a text with six methods and scores each with three metrics.
The anchor measured on this machine (2 cores, MiniLM-L6): 7.98 s per review sentence (SHAP 2.66 s,
LIME 2.67 s, IG 1.04 s). This script runs the same six methods at ferret's settings and the same
three metrics on ``minilm-reviews-en`` and prints seconds per example and the ratio to the anchor.

Settings matched to ferret's defaults:
- SHAP: Partition explainer, ``max_evals`` 500 (shap's default, which ferret keeps).
- LIME: n_tokens² perturbed samples (n_tokens = sub-word tokens without special tokens, capped at
  5000), as ferret sizes it; texts are grouped by that number so each group is one batched call.
- gradient (saliency), gradient × input, Integrated Gradients (50 steps, captum's default) with
  ``multiply_by_inputs=False`` (ferret's "Integrated Gradient") and IG × input (ferret's
  "Integrated Gradient (x Input)"); ferret runs IG twice, here the second variant reuses the first
  one's path gradients (``xaibench.modeling.sharing``: the same integral, a different final product).
- comprehensiveness, sufficiency (ERASER, AOPC over removal fractions) and τ-LOO
  (``loo_correlation``) on each of the six explanations.

Everything runs inside ``model.sharing()``: a model input that one explainer or metric already
evaluated (LIME's single-unit deletions are τ-LOO's inputs, every explainer's metrics share the
random-ordering references) is not evaluated again. ``--no-sharing`` turns that off.

    python scripts/ferret_comparison.py --n 20

The anchor was measured on other sentences; the cost grows with sentence length (LIME's n_tokens²
samples), so the fair ratio is on the same sentences: ``--dump FILE`` writes them for
``scripts/ferret_anchor.py`` (ferret's own Benchmark, in a virtualenv of its own), whose result goes
back in as ``--ferret-seconds``. Both sides also need an idle machine: on 2026-12-02 ferret took
3.22 s per sentence on 12 sentences with nothing else running, where an earlier session, on a
busier machine, had measured 10.83 s. Measured idle (same sentences, 2 threads): 12 sentences
ferret 3.22 s, xaibench 0.90 s (3.6x); 48 sentences 4.17 s vs 1.21 s (3.4x).
"""
from __future__ import annotations

import argparse
import contextlib
import time
from collections import defaultdict

import torch

import xaibench as xb
from xaibench.metrics.evaluation import evaluate_metrics

FERRET_SECONDS_PER_EXAMPLE = 7.98
METRICS = ["comprehensiveness", "sufficiency", "loo_correlation"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="minilm-reviews-en")
    parser.add_argument("--dataset", default="reviews-en")
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-sharing", action="store_true", help="evaluate every request (no shared table)")
    parser.add_argument("--dump", metavar="FILE", help="write the model folder, sentences and targets as JSON "
                        "for scripts/ferret_anchor.py (ferret itself on the same sentences) and exit")
    parser.add_argument("--ferret-seconds", type=float, default=None, metavar="S",
                        help="ferret's seconds per sentence on the same sentences (from ferret_anchor.py)")
    args = parser.parse_args(argv)

    model = xb.load_model(args.model)
    texts = xb.load_dataset(args.dataset, split="test", n=args.n, seed=args.seed).texts
    if args.dump:
        import json

        with open(args.dump, "w", encoding="utf-8") as fh:
            json.dump({"model_folder": model.info["path"], "texts": texts,
                       "targets": [int(t) for t in model.predicted_targets(texts)]}, fh, ensure_ascii=False)
        print(f"wrote {len(texts)} sentences to {args.dump}")
        return
    import captum.attr  # noqa: F401,E401  (imports stay out of the timing)
    import lime.lime_text
    import shap
    # Warm-up, not timed: imports, shap's numba compilation (~8 s on first use), allocator, kernels.
    for name in ("occlusion", "shap", "lime", "saliency", "integrated_gradients"):
        xb.get_explainer(name).explain(model, texts[:1])

    scope = contextlib.nullcontext() if args.no_sharing else model.sharing()
    with scope:
        seconds, total = _run(model, texts, args.seed)
    model_passes = model.n_forward

    print(f"{args.model}, {len(texts)} {args.dataset} test sentences, {torch.get_num_threads()} threads, "
          f"sharing {'off' if args.no_sharing else 'on'}\n")
    print("| part | seconds per example |\n|---|---:|")
    for name, s in seconds.items():
        print(f"| {name} | {s / len(texts):.3f} |")
    per_example = total / len(texts)
    print(f"| **total** | **{per_example:.3f}** |\n")
    print(f"model passes run: {model_passes / len(texts):.0f} forward rows per example "
          f"({model.n_forward_reused / len(texts):.0f} more served from the shared table)")
    print(f"ferret 0.4.2 anchor: {FERRET_SECONDS_PER_EXAMPLE} s per example -> xaibench is "
          f"{FERRET_SECONDS_PER_EXAMPLE / per_example:.1f}x faster (target >= 3x)")
    if args.ferret_seconds:
        print(f"ferret 0.4.2 on the same {len(texts)} sentences: {args.ferret_seconds:.2f} s per sentence -> "
              f"xaibench is {args.ferret_seconds / per_example:.1f}x faster")


def _run(model, texts, seed: int) -> tuple[dict, float]:
    """Wall seconds per part, and in total, of ferret's configuration on ``texts``."""
    model.reset_counters()
    seconds: dict[str, float] = defaultdict(float)
    attributions = {}
    start_all = time.perf_counter()
    targets = [int(t) for t in model.predicted_targets(texts)]
    for name, registered, params in [
            ("shap", "shap", {"max_evals": 500}), ("saliency", "saliency", {}), ("grad_x_input", "grad_x_input", {}),
            ("integrated_gradients (x input)", "integrated_gradients", {"n_steps": 50}),
            ("integrated_gradients (no x input)", "integrated_gradients", {"n_steps": 50, "multiply_by_inputs": False})]:
        explainer = xb.get_explainer(registered, seed=seed, **params)
        t0 = time.perf_counter()
        attributions[name] = explainer.explain(model, texts, targets=targets)
        seconds[name] += time.perf_counter() - t0
    by_samples = defaultdict(list)
    for i, ids in enumerate(model.token_ids(texts)):
        by_samples[max(2, min(5000, (len(ids) - 2) ** 2))].append(i)
    lime_attrs = [None] * len(texts)
    t0 = time.perf_counter()
    for n_samples, idx in by_samples.items():
        explainer = xb.get_explainer("lime", seed=seed, n_samples=n_samples)
        for i, a in zip(idx, explainer.explain(model, [texts[i] for i in idx], targets=[targets[i] for i in idx])):
            lime_attrs[i] = a
    seconds["lime"] += time.perf_counter() - t0
    attributions["lime"] = lime_attrs

    everything = [a for attrs in attributions.values() for a in attrs]
    t0 = time.perf_counter()
    # One engine pass for all three metrics over all explanations (requests are de-duplicated).
    evaluate_metrics(model, [xb.get_metric(m) for m in METRICS], everything)
    seconds["metrics (3 x 6 explanations)"] = time.perf_counter() - t0
    return seconds, time.perf_counter() - start_all


if __name__ == "__main__":
    main()
