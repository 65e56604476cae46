"""Performance benchmark (joint scoring): ``xb.evaluate`` with the four removal metrics takes
<= 1.1x one bare ``engine.forward_logits`` call over the distinct inputs they need, on occlusion
attributions of 48 reviews-en test sentences (``minilm-reviews-en``). It also prints four separate
``score()`` calls against that pass and a one-input-at-a-time loop against the ``score()`` calls.
Measurement and printing live in ``faithfulness_speed.py`` next to this file (``measure_joint``).

It runs only when selected, so ``pytest benchmarks/`` (the benchmark matrix) never pays for it:

    pytest benchmarks/test_joint_scoring_speed.py -s       # or XAIBENCH_PERF=1 pytest benchmarks/ -s

and it skips when the built-in model is not built yet (``xaibench prepare`` builds it) instead of
training it.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve()
pytestmark = pytest.mark.slow
MODEL = "minilm-reviews-en"
if str(HERE.parent) not in sys.path:  # the folder is not a package: its helper module is imported by path
    sys.path.insert(0, str(HERE.parent))
import faithfulness_speed as speed  # noqa: E402

_only_when_selected = speed.only_when_selected(HERE)


def test_joint_scoring_speed():
    import xaibench as xb

    if not speed.builtin_ready(MODEL):
        pytest.skip(f"{MODEL} is not built yet; run `xaibench prepare` first")
    with speed.one_torch_thread():
        model = xb.load_model(MODEL, progress=False)
        texts = xb.load_dataset(speed.TASKS[MODEL], split="test", n=48, seed=0).texts
        result = speed.measure_joint(model, xb.get_explainer("occlusion").explain(model, texts))
    print("\n" + result.line())
    assert result.joint_over_bare <= speed.MAX_JOINT_RATIO_TO_BARE, result.line()
