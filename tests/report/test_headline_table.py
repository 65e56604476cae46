"""The README's headline table (scripts/headline_table.py) is read from a results folder, cell by cell."""
import importlib.util
import pathlib

import pandas as pd

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "headline_table.py"


def load_script():
    spec = importlib.util.spec_from_file_location("headline_table", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cells_come_from_summary_and_ranks(tmp_path):
    pd.DataFrame({"explainer": ["lime", "saliency"], "average_rank": [1.25, 1.75], "n_tasks": [2, 2],
                  "faithfulness": [1.0, 2.0], "stability": [2.0, 1.0]}).to_csv(tmp_path / "ranks.csv", index=False)
    rows = []
    for task, model in (("en", "m-en"), ("zh", "m-zh")):
        rows += [
            dict(dataset=task, model=model, explainer="lime", metric="comprehensiveness", mean=0.5, tied_best=True),
            dict(dataset=task, model=model, explainer="saliency", metric="comprehensiveness", mean=0.25,
                 tied_best=task == "zh"),
            dict(dataset=task, model=model, explainer="lime", metric="seed_stability", mean=0.75, tied_best=True),
            dict(dataset=task, model=model, explainer="saliency", metric="seed_stability", mean=float("nan"),
                 not_applicable="deterministic", tied_best=False),
            dict(dataset=task, model=model, explainer="saliency", metric="loo_correlation", mean=1.0,
                 circular="computes it", tied_best=False),
        ]
    pd.DataFrame(rows).to_csv(tmp_path / "summary.csv", index=False)
    md = load_script().headline(str(tmp_path), ["en", "zh"])
    lines = md.splitlines()
    assert "average rank" in lines[0] and "comprehensiveness ↑ (en / zh)" in lines[0]
    assert "perturbation stability" not in lines[0]  # a metric the run does not have gets no column
    lime, saliency = lines[2], lines[3]
    assert lime.split("|")[1].strip() == "lime" and "1.25" in lime and "**0.500** / **0.500**" in lime
    assert "0.250 / **0.250**" in saliency and "det. / det." in saliency and "**0.750** / **0.750**" in lime
