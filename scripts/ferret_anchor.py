"""The ferret side of the comparison in ``ferret_comparison.py``: ferret's own ``Benchmark`` on the
same sentences, model and targets, timed per sentence on this machine.

ferret pins older transformers/numpy than xaibench, so it runs in a virtualenv of its own; the
sentences come from a JSON file that ``ferret_comparison.py --dump FILE`` writes:

    python3 -m venv /tmp/fvenv && . /tmp/fvenv/bin/activate
    pip install torch==2.13.0 ferret-xai==0.4.2 "pyarrow<17"
    python scripts/ferret_anchor.py /tmp/ferret_input.json

Default ferret explainers (Partition SHAP, LIME, Gradient, Gradient x Input, Integrated Gradient,
Integrated Gradient x Input) and its faithfulness evaluators (AOPC comprehensiveness, AOPC
sufficiency, tau-LOO). One sentence is explained first as a warm-up (imports, numba compilation).
"""
import json
import sys
import time
from collections import defaultdict


def main(path: str) -> None:
    import torch
    from ferret import Benchmark
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    spec = json.load(open(path, encoding="utf-8"))
    tokenizer = AutoTokenizer.from_pretrained(spec["model_folder"])
    model = AutoModelForSequenceClassification.from_pretrained(spec["model_folder"]).eval()
    bench = Benchmark(model, tokenizer)
    texts, targets = spec["texts"], spec["targets"]
    bench.evaluate_explanations(bench.explain(texts[0], target=targets[0]), target=targets[0])  # warm-up
    seconds = defaultdict(float)
    start = time.perf_counter()
    for text, target in zip(texts, targets):
        t0 = time.perf_counter()
        explanations = bench.explain(text, target=target)
        seconds["explain (6 explainers)"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        bench.evaluate_explanations(explanations, target=target)
        seconds["evaluate (3 metrics x 6)"] += time.perf_counter() - t0
    total = time.perf_counter() - start
    print(f"ferret on {len(texts)} sentences, {torch.get_num_threads()} threads")
    for name, s in seconds.items():
        print(f"  {name}: {s / len(texts):.3f} s per sentence")
    print(f"  total: {total / len(texts):.3f} s per sentence")


if __name__ == "__main__":
    main(sys.argv[1])
