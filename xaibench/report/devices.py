"""CPU vs GPU: the same cells run on several devices (``--xb-device cpu,cuda``), compared.

For every (dataset, model, explainer) that ran on the reference device (the first one, normally
``cpu``) and on another device, ``device_table`` gives:

- ``seconds_<device>``: median wall seconds per explanation on each device (lower is better);
- ``speedup``: reference median / other median (> 1: the other device is faster);
- ``max_abs_score_diff``: the largest |score difference| over all units of all shared examples —
  the parity check; ``max_rel_score_diff`` divides each example's difference by that example's
  largest |score| on the reference device (so methods with tiny score scales are comparable);
- ``n_examples``: examples explained on both devices.

Parity tolerance: float32 matrix products on GPU and CPU differ in summation order, so scores agree
to about 1e-5 relative for gradient methods and exactly for sampling methods that see the same
model outputs; ``PARITY_RTOL`` (1e-3 relative) is the documented bound the report checks against —
sampling methods (LIME, SHAP) can flip a near-tied sample and exceed it without being wrong, which
the report then says.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

PARITY_RTOL = 1e-3


def device_table(attribution_rows: Sequence[dict], reference: str = "cpu") -> pd.DataFrame:
    """One row per (dataset, model, explainer, other device); empty when only one device ran."""
    frame = pd.DataFrame([{
        "dataset": r["dataset"], "model": r["model"], "explainer": r["explainer"],
        "device": r.get("device", "cpu"), "example_id": r["example_id"],
        "seconds": float((r.get("cost") or {}).get("seconds", np.nan)),
        "scores": np.asarray(r.get("scores", []), dtype=float),
    } for r in attribution_rows])
    if frame.empty or frame["device"].nunique() < 2:
        return pd.DataFrame()
    out = []
    for (dataset, model, explainer), group in frame.groupby(["dataset", "model", "explainer"], sort=False):
        ref = group[group["device"] == reference].set_index("example_id")
        if ref.empty:
            continue
        for device, other in group[group["device"] != reference].groupby("device", sort=False):
            other = other.set_index("example_id")
            shared = [i for i in ref.index if i in other.index]
            abs_diffs, rel_diffs = [], []
            for i in shared:
                a, b = ref.at[i, "scores"], other.at[i, "scores"]
                if len(a) != len(b) or not len(a):
                    continue
                diff = float(np.max(np.abs(a - b)))
                abs_diffs.append(diff)
                scale = float(np.max(np.abs(a)))
                rel_diffs.append(diff / scale if scale > 0 else (0.0 if diff == 0 else np.inf))
            ref_s, other_s = float(ref["seconds"].median()), float(other["seconds"].median())
            out.append({
                "dataset": dataset, "model": model, "explainer": explainer, "device": device,
                f"seconds_{reference}": ref_s, "seconds_device": other_s,
                "speedup": ref_s / other_s if other_s > 0 else np.nan,
                "max_abs_score_diff": max(abs_diffs) if abs_diffs else np.nan,
                "max_rel_score_diff": max(rel_diffs) if rel_diffs else np.nan,
                "parity_ok": bool(rel_diffs) and max(rel_diffs) <= PARITY_RTOL,
                "n_examples": len(shared),
            })
    return pd.DataFrame(out)


def device_markdown(table: pd.DataFrame, reference: str = "cpu") -> str:
    """The CPU-vs-GPU section of summary.md ('' when only one device ran)."""
    if table.empty:
        return ""
    lines = [f"\n### {reference.upper()} vs other devices: speed-up and score parity\n",
             table.to_markdown(index=False, floatfmt=".3g"), "",
             f"speedup = median seconds per explanation on {reference} / on the device (> 1: the device is "
             f"faster); parity: max |score difference| relative to the example's largest |score| on {reference} "
             f"must be <= {PARITY_RTOL:g}."]
    bad = table[~table["parity_ok"]]
    if len(bad):
        lines.append("Parity above tolerance for: " + ", ".join(
            f"{r.dataset}/{r.explainer}@{r.device} ({r.max_rel_score_diff:.2g})" for r in bad.itertuples())
            + " — sampling explainers can flip a near-tied perturbation between devices.")
    return "\n".join(lines) + "\n"
