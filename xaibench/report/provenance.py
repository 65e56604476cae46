"""What produced a run: versions, code state, data and model identity, machine, command line."""
from __future__ import annotations

import importlib.metadata as md
import os
import platform
import subprocess
import sys
import time

PACKAGES = ["xaibench", "torch", "transformers", "tokenizers", "captum", "lime", "shap", "numpy", "scipy",
            "pandas", "scikit-learn", "pytest"]


def package_versions() -> dict[str, str | None]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


def git_state(folder: str) -> dict:
    def run(*args):
        return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, timeout=10)

    try:
        commit = run("rev-parse", "HEAD")
        if commit.returncode != 0:
            return {"commit": None, "dirty": None}
        dirty = run("status", "--porcelain", "--untracked-files=no")
        return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(torch_threads=None, threads_option: int | None = None) -> dict:
    """The machine, with the torch threads the run computed with: ``torch_threads`` when the caller
    knows them (pytest-xdist workers report theirs; a list if they differed), else this process's
    count. ``threads_option`` is what ``--xb-threads`` asked for (None: not given)."""
    import torch

    if torch_threads is None:
        torch_threads = torch.get_num_threads()
    info = {"platform": platform.platform(), "cpu": cpu_name(), "cpu_count": os.cpu_count(),
            "torch_threads": torch_threads, "threads_option": threads_option,
            "cuda_available": torch.cuda.is_available()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def collect(config: dict, rootdir: str, models: dict, datasets: dict, started: float,
            torch_threads=None, cluster: dict | None = None, budget: dict | None = None) -> dict:
    """provenance.json. ``model_seeds``: the model seeds of the run (``model_seeds`` below). The engine
    options: ``machine`` has the threads used and asked for, ``engine``
    the weight dtype and compile setting (each model's entry records the ones it ran with too).
    ``torch_threads``: the count the workers computed with (see ``machine``). ``cluster``: the Ray
    cluster of a ``--xb-ray`` run (Ray version, address, nodes, CPUs, GPUs, workers), else None.
    ``budget``: the rounds and stop reason of an ``--xb-budget`` / ``--xb-ci-target`` run, else None."""
    return {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "wall_seconds": round(time.time() - started, 3),
        "command_line": sys.argv,
        "config": config,
        "packages": package_versions(),
        "git": git_state(rootdir),
        "machine": machine(torch_threads, config.get("threads")),
        "engine": {"dtype": config.get("dtype", "float32"), "compile": bool(config.get("compile", False))},
        "models": models,
        "datasets": datasets,
        "model_seeds": model_seeds(config),
        "cluster": cluster,
        "budget": budget,
    }


def model_seeds(config: dict) -> dict:
    """``{"k": K, "models": {base model: [model of seed 0, seed 1, ...]}}``: which models of the run
    are seeds of which built-in model (``--xb-model-seeds``; K = 1 and one model each otherwise)."""
    seeds: dict[str, dict[int, str]] = {}
    for task in config.get("tasks", []):
        seed, model = int(task.get("model_seed", 0) or 0), str(task["model"])
        suffix = f"-seed{seed}"
        base = model[: -len(suffix)] if seed and model.endswith(suffix) else model
        seeds.setdefault(base, {})[seed] = model
    return {"k": int(config.get("model_seeds", 1) or 1),
            "models": {base: [by_seed[s] for s in sorted(by_seed)] for base, by_seed in seeds.items()}}
