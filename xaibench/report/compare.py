"""``--xb-compare``: gate a run against a baseline run's ``summary.csv``.

A cell (dataset, model, explainer, metric) regressed when its mean moved in the bad direction by
more than the tolerance: ``--xb-tolerance`` if given (absolute), otherwise beyond the baseline's 95%
CI (mean below ``ci_low`` for higher-is-better metrics, above ``ci_high`` for lower-is-better).
Cells present on only one side are listed, never failed; metrics that declare ``noisy`` (wall time,
memory: they depend on the machine) are shown but not gated.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from xaibench.core.errors import OptionError
from xaibench.metrics.base import declared

KEYS = ["dataset", "model", "explainer", "metric"]


@dataclass
class Comparison:
    table: pd.DataFrame          # every shared cell with baseline/new means, delta, status
    new_cells: list[tuple]
    missing_cells: list[tuple]

    @property
    def regressions(self) -> pd.DataFrame:
        return self.table[self.table["status"] == "regressed"]

    def report(self) -> str:
        lines = []
        reg = self.regressions
        if len(reg):
            lines.append(f"{len(reg)} regression(s) against the baseline:\n")
            lines.append(reg[KEYS + ["family", "baseline", "new", "delta", "allowed"]].to_markdown(
                index=False, floatfmt=".4f"))
        else:
            lines.append(f"no regressions in {len(self.table)} compared cells")
        compared = self.table[self.table["status"] != "not compared"]
        if len(compared):
            per_family = compared.groupby("family", sort=False)["status"].agg(
                lambda s: f"{int((s == 'regressed').sum())}/{len(s)} regressed")
            lines.append("by family: " + "; ".join(f"{f}: {v}" for f, v in per_family.items()))
        if self.new_cells:
            lines.append("\nnew cells (not in the baseline): " + "; ".join("/".join(c) for c in self.new_cells))
        if self.missing_cells:
            lines.append("\nmissing cells (in the baseline only): " + "; ".join("/".join(c) for c in self.missing_cells))
        return "\n".join(lines) + "\n"


def load_baseline(path: str) -> pd.DataFrame:
    csv = os.path.join(path, "summary.csv") if os.path.isdir(path) else path
    if not os.path.isfile(csv):
        raise OptionError(f"--xb-compare: no summary.csv at {path!r}")
    return pd.read_csv(csv)


def compare(baseline: pd.DataFrame, new: pd.DataFrame, tolerance: float | None = None) -> Comparison:
    base = baseline.set_index(KEYS)
    cur = new.set_index(KEYS)
    shared = base.index.intersection(cur.index)
    rows = []
    for key in shared:
        b, c = base.loc[key], cur.loc[key]
        hib = bool(b["higher_is_better"]) if pd.notna(b.get("higher_is_better")) else None
        delta = float(c["mean"] - b["mean"])
        if hib is None or pd.isna(b["mean"]) or pd.isna(c["mean"]) or declared(key[3], "noisy", False):
            status, allowed = "not compared", float("nan")
        else:
            if tolerance is not None:
                allowed = tolerance
            else:
                allowed = float(b["mean"] - b["ci_low"]) if hib else float(b["ci_high"] - b["mean"])
                if not np.isfinite(allowed):  # no interval (an amortised count): any move is one
                    allowed = 0.0
            worse = -delta if hib else delta
            status = "regressed" if worse > allowed + 1e-12 else "ok"
        rows.append({**dict(zip(KEYS, key)), "family": declared(key[3], "family"), "baseline": float(b["mean"]),
                     "new": float(c["mean"]), "delta": delta, "allowed": allowed, "status": status})
    table = pd.DataFrame(rows, columns=KEYS + ["family", "baseline", "new", "delta", "allowed", "status"])
    return Comparison(table, sorted(set(cur.index) - set(base.index)), sorted(set(base.index) - set(cur.index)))
