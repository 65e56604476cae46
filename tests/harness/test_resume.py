"""Interrupt and resume, from the outside: Ctrl-C (SIGINT) in the middle of a `pytest benchmarks/`
run keeps every finished chunk in the cache and writes no results folder; running the same command
again finishes from the cache, and its per-example values are identical to an uninterrupted run's.
Also: the same run under pytest-xdist (`-n 2`) gives the same values as a serial one, and Ctrl-C
under `-n 2` resumes the same way.

The interrupt lands at a deterministic point: the session's test hook
(``XAIBENCH_INTERRUPT_AFTER_CHUNKS=N``) sends SIGINT to the run's process group right after the N-th
chunk it computed is cached, exactly what Ctrl-C in a terminal sends. Each run starts in a session
of its own, so the signal never reaches this test process.

The model is a tiny random BERT saved as a local folder and the data a user CSV, so nothing is
trained; values are tiny but deterministic, which is all these checks need.
"""
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from xaibench.report.result_files import read_per_example

pytestmark = pytest.mark.slow  # each test runs the benchmark in subprocesses (15-40 s)
ROOT = Path(__file__).resolve().parents[2]
WORDS = "the movie was good great bad awful phone works broken nice poor fine love hate very not".split()
N_EXAMPLES = 48                  # 3 chunks of 16 per cell
EXPLAINERS = "random,lime"       # lime is the slow cell the interrupt lands in
METRICS = "comprehensiveness,deletion_auc"
LIME = "lime.n_samples=100"
VALUE_COLUMNS = ["dataset", "explainer", "metric", "example_id", "value", "random_reference", "status"]


@pytest.fixture(scope="module")
def task_files(tmp_path_factory):
    """A tiny model folder and a user CSV for it."""
    from xaibench.testing import save_tiny_task

    folder = tmp_path_factory.mktemp("resume")
    rng = random.Random(0)
    texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14))) for _ in range(N_EXAMPLES)]
    save_tiny_task(folder, texts, ids=[f"ex{i:03d}" for i in range(N_EXAMPLES)], num_labels=2, seed=0)
    return folder


def _command(files: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "benchmarks/test_explainer_matrix.py", "-q", "-p", "no:cacheprovider",
            "--xb-model", str(files / "model"), "--xb-dataset", str(files / "reviews.csv"), "--xb-n", "all",
            "--xb-explainers", EXPLAINERS, "--xb-metrics", METRICS, "--xb-param", LIME, "--xb-out", str(out), *extra]


def _env(cache: Path, interrupt_after: int | None = None) -> dict:
    # One thread: the run must not compete with other work for the cores.
    env = {**os.environ, "XAIBENCH_CACHE": str(cache), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env.pop("XAIBENCH_INTERRUPT_AFTER_CHUNKS", None)
    if interrupt_after is not None:
        env["XAIBENCH_INTERRUPT_AFTER_CHUNKS"] = str(interrupt_after)
    return env


def _interruptible() -> None:
    # A job started in the background by a non-interactive shell (CI) inherits an ignored SIGINT;
    # a terminal's foreground job, whose Ctrl-C this simulates, has the default.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _run(command: list[str], env: dict) -> subprocess.CompletedProcess:
    # A session of its own: the hook's SIGINT goes to the run's process group, not to this test.
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
                          start_new_session=True, preexec_fn=_interruptible)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[VALUE_COLUMNS].sort_values(["explainer", "metric", "example_id"]).reset_index(drop=True)


def _values(out: Path) -> pd.DataFrame:
    return _sorted(read_per_example(out))


@pytest.fixture(scope="module")
def reference(task_files, tmp_path_factory) -> pd.DataFrame:
    """The uninterrupted serial run, in process: the same options through the same resolve() and
    BenchmarkSession the plugin uses, with a cache of its own."""
    from xaibench.harness.cache import ResultCache
    from xaibench.harness.config import resolve
    from xaibench.harness.session import BenchmarkSession

    files, cache = task_files, tmp_path_factory.mktemp("reference-cache")
    config = resolve({"model": str(files / "model"), "dataset": str(files / "reviews.csv"), "n": "all",
                      "explainers": EXPLAINERS, "metrics": METRICS, "param": [LIME]})
    session = BenchmarkSession(config, cache=ResultCache(cache))
    # The subprocess runs use one thread (``_env``): MKL may sum a small batch's products in another
    # order with two threads (~1e-9), so bit-identity is checked at the same thread count.
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for cell in session.cells():
            session.run_cell(cell, progress=False)
    finally:
        torch.set_num_threads(threads)
    # Through a Parquet round trip, as the run folder's per_example.parquet is read back.
    path = cache / "per_example.parquet"
    pd.DataFrame(session.record.per_example).to_parquet(path, index=False)
    return _sorted(pd.read_parquet(path))


def _cached_metric_chunks(cache: Path) -> int:
    folder = cache / "results" / "metrics"
    return sum(1 for _ in folder.rglob("*.json")) if folder.exists() else 0


def _interrupted_then_resumed(task_files, reference, tmp_path, interrupt_after: int, *extra: str) -> int:
    """Run with the interrupt hook, check it ended as an interrupted run does, resume, check the
    values; returns the number of metric chunks cached at the interrupt."""
    cache, out = tmp_path / "cache", tmp_path / "out"
    total_chunks = 2 * 3 * len(METRICS.split(","))
    proc = _run(_command(task_files, out, *extra), _env(cache, interrupt_after))
    output = proc.stdout + proc.stderr
    cached_at_interrupt = _cached_metric_chunks(cache)

    assert proc.returncode == 2, output[-3000:]            # pytest's "interrupted"
    assert "Run the same command again to resume" in output, output[-3000:]
    assert not out.exists(), "an interrupted run must not leave a (partial) results folder"
    assert 0 < cached_at_interrupt < total_chunks, cached_at_interrupt

    resumed = _run(_command(task_files, out, *extra), _env(cache))
    assert resumed.returncode == 0, (resumed.stdout + resumed.stderr)[-3000:]
    assert _cached_metric_chunks(cache) == total_chunks
    pd.testing.assert_frame_equal(_values(out), reference, check_exact=True)
    assert (reference["status"] == "ok").all()
    return cached_at_interrupt


def test_interrupted_run_resumes_from_the_cache_with_identical_values(task_files, reference, tmp_path):
    # random computes its 3 chunks, then lime its first: the 4th chunk of the process triggers Ctrl-C.
    cached = _interrupted_then_resumed(task_files, reference, tmp_path, 4)
    assert cached == 4 * len(METRICS.split(","))  # exactly the chunks finished before the interrupt


def test_interrupted_xdist_run_resumes_with_identical_values(task_files, reference, tmp_path):
    pytest.importorskip("xdist")
    # The first chunk either worker finishes sends Ctrl-C to the controller and both workers.
    _interrupted_then_resumed(task_files, reference, tmp_path, 1, "-n", "2")


def test_xdist_run_gives_the_serial_values(task_files, reference, tmp_path):
    pytest.importorskip("xdist")
    out = tmp_path / "out"
    proc = _run(_command(task_files, out, "-n", "2"), _env(tmp_path / "cache"))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    pd.testing.assert_frame_equal(_values(out), reference, check_exact=True)
