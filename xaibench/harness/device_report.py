"""``xaibench device-report``: the CPU-vs-GPU report in one command, for the minutes a GPU is lent.

It loads (training on first use) the models of the smoke tasks, or the ``--model``/``--dataset``
given, and explains ``n`` test examples of each with the quick profile's explainers at their cheap
settings (without the sentence explainers, whose generators would train first), scoring
comprehensiveness and sufficiency, under each variant:

- ``cpu``: float32 on the CPU (torch's default threads), the reference;
- ``cuda``: float32 on the GPU;
- ``cuda-bf16``: bfloat16 weights on the GPU;
- ``cuda-compile``: float32 with ``torch.compile`` (inference passes).

Every variant runs without the result cache, with an untimed warm-up per (model, explainer) (the
session's), so the seconds are measured, not remembered. ``device_report.csv`` / ``.md`` give per
(task, explainer, variant): median seconds per explanation, throughput (explained texts and input
tokens per second of explanation time), speed-up over the CPU, and the parity of the scores with the
CPU's (``xaibench.report.devices``: largest score difference relative to the example's largest
|score|, against ``PARITY_RTOL``), plus the faithfulness means of each variant so a speed-up that
changed the answer shows. Without CUDA it refuses with one sentence, unless ``--cpu-only`` asks for
the CPU half alone (what CI runs).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

VARIANTS = {"cpu": ("cpu", {}), "cuda": ("cuda", {}), "cuda-bf16": ("cuda", {"dtype": "bfloat16"}),
            "cuda-compile": ("cuda", {"compile": True})}
METRICS = ("comprehensiveness", "sufficiency")
NO_CUDA = ("device-report needs a CUDA GPU and none is visible here (torch.cuda.is_available() is "
           "False); run it on a GPU machine, or add --cpu-only for the CPU half")


def run_device_report(out: str, n: int = 32, datasets: list[str] | None = None, models: list[str] | None = None,
                      explainers: list[str] | None = None, cpu_only: bool = False, progress: bool = True) -> pd.DataFrame:
    """Run every variant (``cpu`` alone with ``cpu_only``) and write the report into ``out``;
    returns the table. Raises ``OptionError`` (``NO_CUDA``) without CUDA unless ``cpu_only``."""
    import torch

    from xaibench.core.errors import OptionError
    from xaibench.harness.config import resolve

    if not cpu_only and not torch.cuda.is_available():
        raise OptionError(NO_CUDA)
    cli = {"profile": "quick", "n": n, "metrics": ",".join(METRICS), "no_cache": True,
           "dataset": ",".join(datasets) if datasets else ",".join(_smoke_datasets()),
           "model": ",".join(models) if models else None,
           "explainers": ",".join(explainers or default_explainers())}
    names = ["cpu"] if cpu_only else list(VARIANTS)
    rows, summaries, timing = [], [], {}
    for name in names:
        device, options = VARIANTS[name]
        config = resolve({**cli, "device": device, "dtype": options.get("dtype"), "compile": options.get("compile")})
        started = time.perf_counter()
        attribution_rows, summary, tokens = _run_variant(config, progress)
        timing[name] = time.perf_counter() - started
        rows += [{**r, "device": name, "tokens": tokens.get((r["dataset"], r["example_id"]), np.nan)}
                 for r in attribution_rows]
        summaries.append(summary.assign(variant=name))
    table = report_table(rows, pd.concat(summaries, ignore_index=True))
    write_report(Path(out), table, timing)
    return table


def default_explainers() -> list[str]:
    """The quick profile's explainers, without the sentence explainers (their generators would
    spend the lent minutes training)."""
    from xaibench.core import registry
    from xaibench.harness.config import profile_explainers

    return [e for e in profile_explainers("quick")
            if getattr(registry.explainers.spec(e), "family", None) != "natural_language"]


def _smoke_datasets() -> list[str]:
    from xaibench.harness.config import profile_datasets

    return profile_datasets("smoke")


def _run_variant(config, progress: bool):
    from xaibench.harness.session import BenchmarkSession
    from xaibench.report.tables import summarize

    session = BenchmarkSession(config)
    for cell in session.cells():
        session.run_cell(cell, progress=progress)
    tokens = {}
    for task in config.tasks:
        model = session.model(task.model, config.devices[0])
        ds = session.dataset(task)
        for e, ids in zip(ds.examples, model.token_ids(ds.texts)):
            tokens[(task.dataset, e.id)] = len(ids)
    return session.record.attribution_rows, summarize(pd.DataFrame(session.per_example)), tokens


def report_table(rows: list[dict], summary: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, model, explainer, variant): seconds, throughput, speed-up and parity vs cpu,
    and the faithfulness means."""
    from xaibench.report.devices import device_table

    frame = pd.DataFrame([{"dataset": r["dataset"], "model": r["model"], "explainer": r["explainer"],
                           "variant": r["device"], "seconds": float(r["cost"].get("seconds", np.nan)),
                           "tokens": r["tokens"]} for r in rows])
    grouped = frame.groupby(["dataset", "model", "explainer", "variant"], sort=False)
    out = grouped["seconds"].median().rename("median_seconds").reset_index()
    total = grouped[["seconds", "tokens"]].sum().reset_index()
    out["texts_per_s"] = grouped["seconds"].count().to_numpy() / total["seconds"].to_numpy()
    out["tokens_per_s"] = total["tokens"].to_numpy() / total["seconds"].to_numpy()
    cpu = out[out["variant"] == "cpu"].set_index(["dataset", "model", "explainer"])["median_seconds"]
    out["speedup_vs_cpu"] = [cpu.get((d, m, e), np.nan) / s if s > 0 else np.nan
                             for d, m, e, s in zip(out["dataset"], out["model"], out["explainer"], out["median_seconds"])]
    parity = device_table(rows, reference="cpu")
    if len(parity):
        parity = parity.rename(columns={"device": "variant"})[
            ["dataset", "model", "explainer", "variant", "max_rel_score_diff", "parity_ok"]]
        out = out.merge(parity, on=["dataset", "model", "explainer", "variant"], how="left")
    for metric in METRICS:
        means = summary[summary["metric"] == metric].set_index(["dataset", "model", "explainer", "variant"])["mean"]
        out[metric] = [means.get(key, np.nan) for key in
                       zip(out["dataset"], out["model"], out["explainer"], out["variant"])]
    return out


def write_report(folder: Path, table: pd.DataFrame, timing: dict) -> None:
    """``device_report.csv`` and ``device_report.md`` (with the GPU, versions and wall time per variant)."""
    import torch

    from xaibench.core.storage import atomic_write_text
    from xaibench.report.devices import PARITY_RTOL

    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "device_report.csv", table.to_csv(index=False, float_format="%.6g"))
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    lines = ["# xaibench device report", "",
             f"torch {torch.__version__}, CUDA {torch.version.cuda or 'n/a'}, GPU: {gpu}, CPU threads: "
             f"{torch.get_num_threads()}.", "",
             "Wall time per variant (explain + score, untimed warm-ups included): "
             + ", ".join(f"{k} {v:.0f} s" for k, v in timing.items()) + ".", "",
             table.to_markdown(index=False, floatfmt=".4g"), "",
             "median_seconds: per explanation; texts_per_s / tokens_per_s: explained texts and their input tokens per "
             "second of explanation time; speedup_vs_cpu: cpu median / variant median; max_rel_score_diff: largest "
             f"score difference from the cpu run relative to the example's largest |score| (parity at <= {PARITY_RTOL:g}); "
             "comprehensiveness and sufficiency: the variant's means, so a faster variant that changed the answer shows."]
    atomic_write_text(folder / "device_report.md", "\n".join(lines) + "\n")
