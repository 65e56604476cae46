"""The scaling sweep's files inside a run folder, and its log-log figure.

``benchmarks/test_scaling.py`` measures (``xaibench.harness.scaling``) and writes these files into
the run's ``--xb-out`` folder; the report writer reads them back for ``report.html``.
"""
from __future__ import annotations

import pandas as pd

# Where a sweep lives inside a run folder (``--xb-out``); results.py reads it back for the report.
SWEEP_FOLDER = "scaling"
SWEEP_PLOT = "scaling.png"
SWEEP_EXPONENTS = "scaling_exponents.csv"


def plot_scaling(table: pd.DataFrame, exponents: pd.DataFrame, path) -> None:
    """Log-log plot of seconds per example against tokens, one panel per model, one line per
    explainer labelled with its fitted exponent. Written as PNG with PDF and SVG copies
    (``figures.save_figure``), each file replaced atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from xaibench.report.figures import explainer_styles

    styles = explainer_styles(table["explainer"])  # the same look as in the run's other figures
    models = list(dict.fromkeys(table["model"]))
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 5.2), squeeze=False)
    for ax, model in zip(axes[0], models):
        sub = table[table["model"] == model]
        for name, group in sub.groupby("explainer", sort=False):
            k = exponents[(exponents["model"] == model) & (exponents["explainer"] == name)]["exponent"]
            ax.plot(group["tokens"], group["seconds"], ms=4, label=f"{name} (k={float(k.iloc[0]):.2f})", **styles[name])
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("text length (tokens)")
        ax.set_ylabel("seconds per explanation (lower is better)")
        ax.set_title(model)
        # Below the panel: inside it the legend hides the steep lines (occlusion, LIME) it labels.
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    fig.tight_layout()
    import os
    import tempfile
    from pathlib import Path

    from xaibench.report.figures import save_figure

    path = Path(path)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".scaling-") as tmp:
        save_figure(fig, Path(tmp) / path.name, dpi=120)
        for written in Path(tmp).iterdir():  # one rename per file: readers never see a partial one
            os.replace(written, path.parent / written.name)
    plt.close(fig)
