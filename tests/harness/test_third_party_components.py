"""Adding components from a separate package needs no edit to xaibench.

A throw-away distribution is written to a temporary folder (a module plus a ``.dist-info`` with
``entry_points.txt``, exactly what ``pip install`` leaves behind) and put on ``PYTHONPATH``. Its
explainer and metric classes are entry points of the ``xaibench.explainers`` / ``xaibench.metrics``
groups; its dataset loader registers itself when the module, the ``xaibench.datasets`` entry point,
is imported. A `pytest benchmarks/` run then selects them by name next to a built-in explainer and
they appear in the result tables.
"""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from xaibench.report.result_files import read_per_example, read_attributions

ROOT = Path(__file__).resolve().parents[2]

PLUGIN = textwrap.dedent('''
    """A third-party explainer and metric for xaibench, found through entry points."""
    import numpy as np

    from xaibench.core import registry
    from xaibench.core.records import Example
    from xaibench.datasets import Dataset
    from xaibench.explainers import Explainer
    from xaibench.metrics import Metric, MetricResult

    WORDS = "the phone works great but battery is awful and delivery slow".split()


    @registry.datasets.register("demo-reviews")
    def demo_reviews() -> Dataset:
        rows = [Example(f"d{i}", " ".join(WORDS[i:i + 3 + i % 4]), i % 2) for i in range(6)]
        return Dataset(name="demo-reviews", examples=rows, label_names=["LABEL_0", "LABEL_1"])


    class FirstWordsFirst(Explainer):
        """Scores units by position: the first unit gets 1, the last 1/n (a deliberately naive method)."""

        name = "first_words_first"
        family = "control"

        def __init__(self, *, decay: float = 1.0, seed: int = 0, output=None) -> None:
            super().__init__(seed=seed, output=output)
            self.decay = decay

        def _attribute(self, model, batch):
            return [self.decay / np.arange(1, len(units) + 1) for units in batch.units]


    class UnitCount(Metric):
        """Number of units of the explained text (no model call)."""

        name = "unit_count"
        family = "cost"
        higher_is_better = False

        def evaluate(self, model, attributions):
            values = np.array([float(len(a.units)) for a in attributions])
            return MetricResult(self.name, values, self.higher_is_better, self.params(), notes=[None] * len(values))
''')

ENTRY_POINTS = textwrap.dedent('''
    [xaibench.explainers]
    first_words_first = xb_demo_plugin:FirstWordsFirst

    [xaibench.metrics]
    unit_count = xb_demo_plugin:UnitCount

    [xaibench.datasets]
    demo = xb_demo_plugin
''')


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("site")
    (folder / "xb_demo_plugin.py").write_text(PLUGIN, encoding="utf-8")
    info = folder / "xb_demo_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: xb-demo-plugin\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(ENTRY_POINTS, encoding="utf-8")
    return folder


def _env(plugin_path: Path, tmp_path: Path) -> dict:
    path = os.pathsep.join(p for p in (str(plugin_path), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "XAIBENCH_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}


def test_entry_point_components_are_listed(plugin_path, tmp_path):
    code = ("import xaibench as xb; print(xb.list_explainers()); print(xb.list_metrics()); "
            "print(xb.list_datasets()); print(len(xb.load_dataset('demo-reviews', split='all')))")
    proc = subprocess.run([sys.executable, "-c", code], env=_env(plugin_path, tmp_path), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    explainers, metrics, datasets, n_rows = proc.stdout.splitlines()[:4]
    assert "'first_words_first'" in explainers and "'occlusion'" in explainers
    assert "'unit_count'" in metrics and "'comprehensiveness'" in metrics
    assert "'demo-reviews'" in datasets and "'reviews-en'" in datasets and n_rows == "6"
    # Without the package on the path the names are unknown: the listing above came from it.
    bare = subprocess.run([sys.executable, "-c", code], env={**os.environ, "XAIBENCH_CACHE": str(tmp_path)},
                          capture_output=True, text=True, timeout=120)
    assert "first_words_first" not in bare.stdout


@pytest.mark.slow
def test_entry_point_explainer_runs_in_the_matrix(plugin_path, tmp_path):
    from xaibench.testing import tiny_classifier

    model = tiny_classifier(num_labels=2, seed=0)
    model.hf_model.save_pretrained(tmp_path / "model")
    model.tokenizer.save_pretrained(tmp_path / "model")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "pytest", "benchmarks/test_explainer_matrix.py", "-q", "-p", "no:cacheprovider",
               "--xb-model", str(tmp_path / "model"), "--xb-dataset", "demo-reviews", "--xb-n", "all",
               "--xb-explainers", "occlusion,first_words_first", "--xb-param", "first_words_first.decay=2.0",
               "--xb-metrics", "comprehensiveness,unit_count", "--xb-out", str(out)]
    proc = subprocess.run(command, cwd=ROOT, env=_env(plugin_path, tmp_path), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert "first_words_first" in proc.stdout  # its cell is a test of the matrix

    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["dataset"]) == {"demo-reviews"}
    mine = summary[summary["explainer"] == "first_words_first"].set_index("metric")
    assert set(mine.index) == {"comprehensiveness", "unit_count"}
    assert mine.loc["comprehensiveness", "n"] == 6 and pd.notna(mine.loc["comprehensiveness", "mean"])
    per_example = read_per_example(out)
    counts = per_example[(per_example["metric"] == "unit_count") & (per_example["explainer"] == "occlusion")]
    assert (counts["value"] >= 3).all() and (counts["status"] == "ok").all()
    # The --xb-param reached the plugin's constructor (validated against its signature).
    attributions = read_attributions(out)
    params = attributions[attributions["explainer"] == "first_words_first"]["explainer_params"]
    assert all(p["decay"] == 2.0 for p in params)
    assert all(scores[0] == 2.0 for scores in attributions[attributions["explainer"] == "first_words_first"]["scores"])
