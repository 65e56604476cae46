"""Performance benchmark of the metric engine (issue #5): the four removal metrics in one pass.

For each built-in task, on ``xb.load_dataset(task, split="test", n=48, seed=0)`` with seeded random
scores (``attribution_from_scores``; the explainer does not change the inputs' count or length), time

- ``metrics``: ``evaluate_metrics`` for comprehensiveness, sufficiency, deletion_auc, insertion_auc
  (defaults: mode delete, 3 random orderings for the random reference), end to end;
- ``bare``:    ``model.predict_proba`` over exactly the distinct inputs those metrics need (the
  physical limit: the same forward passes, no metric bookkeeping);
- ``loop``:    the same distinct inputs, one ``predict_proba([x])`` call each;
- ``naive``:   what metrics that call the model themselves would run: one ``predict_proba([x])``
  call per input each metric needs, per example, without sharing across metrics or orderings
  (f(x) once per metric and example). Timed on a seeded sample of those calls and scaled to
  their count when there are more than ``--loop-limit``.

Targets: metrics / bare <= 1.3 and naive / metrics >= 3. Timings take the best of ``--repeats``
interleaved runs, with ``--threads`` torch threads (default 1): on a machine shared with other jobs,
OpenMP threads spin-waiting for busy cores slow small batches ~10x, which would flatter the engine
against the one-at-a-time loops; one thread is the conservative, reproducible setting.

    python benchmarks/faithfulness_speed.py                      # both built-in tasks
    python benchmarks/faithfulness_speed.py --means              # + metric means for random / occlusion
    python benchmarks/faithfulness_speed.py --tiny               # tiny random model (no built-in needed)
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np

TASKS = {"minilm-reviews-en": "reviews-en", "charbert-reviews-zh": "reviews-zh"}
FOUR = ("comprehensiveness", "sufficiency", "deletion_auc", "insertion_auc")
MAX_RATIO_TO_BARE = 1.3
MIN_SPEEDUP_OVER_NAIVE = 3.0


@dataclass
class SpeedResult:
    model: str
    n_examples: int
    n_inputs: int          # distinct inputs of the one pass
    n_naive_calls: int     # model calls of the per-metric one-at-a-time implementation
    metrics_s: float
    bare_s: float
    loop_s: float
    naive_s: float

    @property
    def ratio_to_bare(self) -> float:
        return self.metrics_s / self.bare_s

    @property
    def speedup_over_loop(self) -> float:
        return self.loop_s / self.metrics_s

    @property
    def speedup_over_naive(self) -> float:
        return self.naive_s / self.metrics_s

    def line(self) -> str:
        return (f"{self.model}: {self.n_examples} examples, {self.n_inputs} distinct inputs "
                f"({self.n_naive_calls} naive calls) | metrics {self.metrics_s:.2f}s, bare predict_proba "
                f"{self.bare_s:.2f}s, one-at-a-time loop {self.loop_s:.2f}s, naive per-metric loop "
                f"{self.naive_s:.2f}s | metrics/bare = {self.ratio_to_bare:.3f}, loop/metrics = "
                f"{self.speedup_over_loop:.2f}x, naive/metrics = {self.speedup_over_naive:.2f}x")


def builtin_ready(name: str) -> bool:
    """True when the built-in model is registered and already built (so loading never trains)."""
    from xaibench.core import registry

    if name not in registry.models:
        return False
    recipe = registry.models.create(name)
    for attr in ("is_built", "built", "is_cached", "cached"):
        probe = getattr(recipe, attr, None)
        if probe is not None:
            return bool(probe() if callable(probe) else probe)
    return False


def random_attributions(model, texts, seed: int = 0) -> list:
    """Seeded random scores per text, targets = predicted classes (one batched pass)."""
    from xaibench.api import attribution_from_scores
    from xaibench.core.seeding import stable_hash

    targets = model.predicted_targets(texts)
    return [attribution_from_scores(model, t, np.random.default_rng(stable_hash("speed", seed, t)).normal(
        size=len(model.units(t))), target=int(y), explainer="random-scores") for t, y in zip(texts, targets)]


def naive_calls(model, metrics, attributions) -> list[str]:
    """Inputs of a per-metric, per-example implementation (no sharing beyond one example's own
    duplicates within one metric)."""
    calls = []
    for m in metrics:
        for a in attributions:
            calls.extend(dict.fromkeys(m.requests(model, a).inputs))
    return calls


def measure(model, attributions, repeats: int = 3, loop_limit: int = 300, seed: int = 0) -> SpeedResult:
    import xaibench as xb
    from xaibench.metrics.removal import clear_perturber_cache
    from xaibench.metrics.evaluation import evaluate_metrics, plan_chunk

    metrics = [xb.get_metric(n) for n in FOUR]
    _, inputs, _ = plan_chunk(model, metrics, attributions)
    naive = naive_calls(model, metrics, attributions)
    model.predict_proba(inputs[:64])  # warm-up (allocator, kernels)
    metrics_s, bare_s = [], []
    for _ in range(repeats):  # interleaved, so a busy spell on the shared machine hits both
        clear_perturber_cache()  # time the cold path: every perturbed text built again
        t = time.perf_counter()
        evaluate_metrics(model, metrics, attributions)
        metrics_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        model.predict_proba(inputs)
        bare_s.append(time.perf_counter() - t)
    rng = np.random.default_rng(seed)

    def one_at_a_time(xs: list) -> float:
        sample = xs if len(xs) <= loop_limit else [xs[i] for i in rng.choice(len(xs), loop_limit, replace=False)]
        t = time.perf_counter()
        for x in sample:
            model.predict_proba([x])
        return (time.perf_counter() - t) * len(xs) / len(sample)

    return SpeedResult(model.name, len(attributions), len(inputs), len(naive), min(metrics_s), min(bare_s),
                       one_at_a_time(inputs), one_at_a_time(naive))


def explainer_means(model, texts, explainers=("random", "occlusion")) -> dict:
    """Mean of the four metrics (and their random references) per explainer."""
    import xaibench as xb
    from xaibench.metrics.evaluation import evaluate_metrics

    out = {}
    for name in explainers:
        attrs = xb.get_explainer(name, seed=0).explain(model, texts)
        res = evaluate_metrics(model, [xb.get_metric(n) for n in FOUR], attrs)
        out[name] = {n: (r.mean(), float(np.nanmean(r.random_reference))) for n, r in res.items()}
    return out


def load(name: str, tiny: bool):
    import xaibench as xb

    if tiny:
        from xaibench.testing import tiny_classifier

        return tiny_classifier(max_length=128), TASKS[name]
    return xb.load_model(name, progress=False), TASKS[name]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(TASKS), help="comma list of built-in models")
    parser.add_argument("--n", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loop-limit", type=int, default=300, help="one-at-a-time calls timed (then scaled)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: leave torch's default)")
    parser.add_argument("--means", action="store_true", help="also print metric means for random/occlusion")
    parser.add_argument("--tiny", action="store_true", help="use the tiny random test model")
    args = parser.parse_args(argv)
    import torch

    import xaibench as xb

    if args.threads:
        torch.set_num_threads(args.threads)
    ok = True
    for name in args.models.split(","):
        if not args.tiny and not builtin_ready(name):
            print(f"{name}: not built yet (run `xaibench prepare`); skipped")
            continue
        model, task = load(name, args.tiny)
        texts = xb.load_dataset(task, split="test", n=args.n, seed=0).texts
        result = measure(model, random_attributions(model, texts), args.repeats, args.loop_limit)
        print(result.line(), flush=True)
        print("  ", asdict(result))
        ok &= result.ratio_to_bare <= MAX_RATIO_TO_BARE and result.speedup_over_naive >= MIN_SPEEDUP_OVER_NAIVE
        if args.means:
            for explainer, means in explainer_means(model, texts).items():
                cells = ", ".join(f"{m} {v:.4f} (random order {r:.4f})" for m, (v, r) in means.items())
                print(f"  {explainer}: {cells}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
