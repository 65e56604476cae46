"""Write a run folder atomically: everything goes to a hidden staging folder, then one rename."""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pandas as pd

from . import provenance, reporting
from .storage import atomic_write_json, atomic_write_text


def run_id(profile: str) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{profile}"


def write_run(run) -> str:
    """Write per_example.csv, summary.csv, summary.md, curves.csv, attributions.jsonl and
    provenance.json for a finished ``BenchmarkSession``; return the folder."""
    cfg = run.config
    root = Path(getattr(run, "rootdir", "."))
    final = Path(cfg.out) if cfg.out else root / "results" / run_id(cfg.profile)
    final = final if final.is_absolute() else Path.cwd() / final
    staging = final.parent / f".{final.name}.staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)

    per_example = pd.DataFrame(run.per_example)
    per_example.to_csv(staging / "per_example.csv", index=False)
    summary = reporting.summarize(per_example, seed=cfg.seed)
    summary.to_csv(staging / "summary.csv", index=False)
    cost = reporting.cost_table(run.attribution_rows)
    cost.to_csv(staging / "cost.csv", index=False)
    (staging / "summary.md").write_text(_markdown(cfg, summary, cost, run), encoding="utf-8")
    pd.DataFrame(run.curves).to_csv(staging / "curves.csv", index=False)
    with open(staging / "attributions.jsonl", "w", encoding="utf-8") as fh:
        for row in run.attribution_rows:
            fh.write(json.dumps(row, ensure_ascii=False, default=_jsonable) + "\n")
    models = {f"{name}@{device}": m.info for (name, device), m in run._models.items()}
    datasets = {name: {"fingerprint": ds.fingerprint(), "n": len(ds), "split": ds.split, "source": ds.source,
                       "citation": ds.citation} for name, ds in run._datasets.items()}
    atomic_write_json(staging / "provenance.json",
                      provenance.collect(cfg.to_dict(), str(root), models, datasets, run.started))

    if final.exists():
        # Same --xb-out as an earlier run: replace it as a whole, never mix two runs' files.
        old = final.parent / f".{final.name}.old-{os.getpid()}"
        os.replace(final, old)
        os.replace(staging, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, final)
    return str(final)


def _markdown(cfg, summary, cost, run) -> str:
    failures = [o for o in run.outcomes if o.status != "ok" or o.metric_errors]
    lines = [f"## xaibench results — profile `{cfg.profile}`, seed {cfg.seed}\n",
             reporting.markdown_tables(summary, cost)]
    if failures:
        lines.append("\n### Failures\n")
        for o in failures:
            if o.error:
                lines.append(f"- {o.cell.id}: {o.error}")
            for metric, err in o.metric_errors.items():
                lines.append(f"- {o.cell.id} / {metric}: {err}")
    return "\n".join(lines) + "\n"


def _jsonable(obj):
    try:
        return obj.tolist()
    except AttributeError:
        return str(obj)


__all__ = ["write_run", "run_id", "atomic_write_text"]
