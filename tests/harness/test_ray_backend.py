"""The benchmark matrix on Ray (``--xb-ray``): the missing extra is one sentence; a local Ray run and
a run on a two-node cluster (a second Ray node started in a subprocess) give the values of a serial
run in the same results files; a worker process killed in the middle of a unit is restarted and its
unit retried, with the same values; an example that fails deterministically is an error row, once.

Runs go through ``pytest benchmarks/`` in subprocesses on a tiny random BERT saved as a folder and a
user CSV (nothing to train). Every run uses one torch thread per process, so the values of Ray
workers and of the serial run are computed alike and compared exactly.
"""
import json
import os
import random
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from xaibench.report.result_files import read_per_example

ROOT = Path(__file__).resolve().parents[2]
WORDS = "the movie was good great bad awful phone works broken nice poor fine love hate very not".split()
N_EXAMPLES = 40                   # 3 chunks per cell (16, 16, 8)
EXPLAINERS = "occlusion,saliency,nl_callable"
METRICS = "comprehensiveness,sufficiency,cited_comprehensiveness"
VALUES = ["dataset", "explainer", "metric", "example_id", "value", "random_reference", "status"]
NOISY = ("runtime_seconds", "peak_memory_mb")


# ---- with Ray (subprocess runs) -----------------------------------------------------------------
ray = pytest.importorskip("ray", reason='the Ray tests need the [ray] extra: pip install -e ".[ray]"')
pytestmark = pytest.mark.slow  # each test runs the benchmark in subprocesses (20-60 s)


@pytest.fixture(autouse=True)
def one_ray_test_at_a_time(tmp_path_factory):
    """Under pytest-xdist two workers would run Ray tests at once, and a second local Ray instance on
    one machine disturbs the first (worker kills, node counts): a lock shared by the workers of one
    session (their common base temp folder) runs them one after another."""
    from filelock import FileLock

    with FileLock(str(tmp_path_factory.getbasetemp().parent / "xaibench-ray-tests.lock")):
        yield


@pytest.fixture(scope="module")
def task_files(tmp_path_factory):
    from xaibench.testing import save_tiny_task

    folder = tmp_path_factory.mktemp("ray")
    rng = random.Random(0)
    texts = [" ".join(rng.choice([w for w in WORDS if w != "broken"]) for _ in range(rng.randint(3, 12)))
             for _ in range(N_EXAMPLES)]
    save_tiny_task(folder, texts, ids=[f"ex{i:03d}" for i in range(N_EXAMPLES)], num_labels=2, seed=0)
    return folder


def _command(files: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "benchmarks/test_explainer_matrix.py", "-q", "-p", "no:cacheprovider",
            "--xb-model", str(files / "model"), "--xb-dataset", str(files / "reviews.csv"), "--xb-n", "all",
            "--xb-explainers", EXPLAINERS, "--xb-metrics", METRICS, "--xb-threads", "1",
            "--xb-param", "nl_callable.function=xaibench.testing:keyword_sentences", "--xb-out", str(out), *extra]


def _env(cache: Path, **extra) -> dict:
    env = {**os.environ, "XAIBENCH_CACHE": str(cache), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "RAY_USAGE_STATS_ENABLED": "0", **extra}
    for name in ("XAIBENCH_RAY_KILL_ONCE", "RAY_ADDRESS"):
        if name not in extra:
            env.pop(name, None)
    return env


def _run(command: list[str], env: dict) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def _values(out: Path) -> pd.DataFrame:
    rows = read_per_example(out)
    rows = rows[~rows["metric"].isin(NOISY)][VALUES]
    return rows.sort_values(VALUES[:4]).reset_index(drop=True)


@pytest.fixture(scope="module")
def serial(task_files, tmp_path_factory):
    out = tmp_path_factory.mktemp("serial") / "out"
    _run(_command(task_files, out), _env(out.parent / "cache"))
    return out


def test_a_local_ray_run_writes_the_serial_values(task_files, serial, tmp_path):
    out = tmp_path / "ray"
    result = _run(_command(task_files, out, "--xb-ray"), _env(tmp_path / "cache"))
    assert "3 passed" in result.stdout
    pd.testing.assert_frame_equal(_values(out), _values(serial))
    provenance = json.loads((out / "provenance.json").read_text())
    cluster = provenance["cluster"]
    assert cluster["nodes"] == 1 and cluster["ray_version"] == ray.__version__
    assert cluster["workers"]["cpu"] >= 1 and cluster["threads_per_worker"] == 1
    assert sum(cluster["units_per_node"].values()) == 3 * 3  # 3 cells x 3 chunks
    assert {p.name for p in out.iterdir()} >= {"summary.csv", "per_example.parquet", "report.html", "leaderboard.md"}
    # The documented tolerance: --xb-compare against the serial run passes.
    _run(_command(task_files, tmp_path / "again", "--xb-ray", "--xb-compare", str(serial)), _env(tmp_path / "cache"))


def test_a_killed_worker_is_retried_and_the_run_completes(task_files, serial, tmp_path):
    marker = tmp_path / "killed"
    out = tmp_path / "ray"
    _run(_command(task_files, out, "--xb-ray", "--xb-ray-workers", "2"),
         _env(tmp_path / "cache", XAIBENCH_RAY_KILL_ONCE=str(marker)))
    assert marker.read_text().startswith("killed worker")
    pd.testing.assert_frame_equal(_values(out), _values(serial))


def test_a_deterministic_failure_is_an_error_row_not_a_retry(task_files, tmp_path):
    data = tmp_path / "reviews.csv"
    shutil.copy(task_files / "reviews.csv", data)
    with open(data, "a", encoding="utf-8") as fh:
        fh.write("ex999,the phone is broken,0\n")
    command = _command(task_files, tmp_path / "out", "--xb-ray")
    command[command.index("--xb-dataset") + 1] = str(data)
    command[command.index("nl_callable.function=xaibench.testing:keyword_sentences")] = \
        "nl_callable.function=xaibench.testing:sentences_failing_on_broken"
    result = subprocess.run(command, cwd=ROOT, env=_env(tmp_path / "cache"), capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 1 and "1 failed, 2 passed" in result.stdout  # the nl_callable cell fails
    rows = read_per_example(tmp_path / "out")
    failing = rows[(rows["explainer"] == "nl_callable") & (rows["example_id"] == "ex999")]
    assert set(failing["status"]) == {"error"} and failing["note"].str.contains("cannot explain").all()
    others = rows[(rows["explainer"] == "nl_callable") & (rows["example_id"] != "ex999")]
    assert set(others["status"]) == {"ok"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_two_node_cluster(task_files, serial, tmp_path):
    """A head and a second Ray node, each with one CPU, started like on two machines
    (``ray start --head`` / ``ray start --address``): the units are spread over both nodes."""
    port = _free_port()
    ray_cli = str(Path(sys.executable).parent / "ray")
    # Ray's token authentication (on by default for `ray start --head`): every client sends the token.
    env = _env(tmp_path / "cache", RAY_AUTH_MODE="token")
    try:
        subprocess.run([ray_cli, "start", "--head", "--num-cpus=1", f"--port={port}", "--include-dashboard=false",
                        "--disable-usage-stats"], env=env, check=True, capture_output=True, timeout=120)
        subprocess.run([ray_cli, "start", f"--address=127.0.0.1:{port}", "--num-cpus=1"], env=env, check=True,
                       capture_output=True, timeout=120)
        out = tmp_path / "cluster"
        _run(_command(task_files, out, f"--xb-ray=127.0.0.1:{port}"), env)
    finally:
        subprocess.run([ray_cli, "stop", "--force"], env=env, capture_output=True, timeout=120)
    cluster = json.loads((out / "provenance.json").read_text())["cluster"]
    assert cluster["nodes"] == 2 and cluster["cpus"] == 2 and cluster["workers"]["cpu"] == 2
    assert len(cluster["units_per_node"]) == 2  # both nodes ran units
    pd.testing.assert_frame_equal(_values(out), _values(serial))


def test_a_unit_that_kills_its_worker_every_time_fails_after_the_retries(task_files, tmp_path):
    result = subprocess.run(_command(task_files, tmp_path / "out", "--xb-ray"), cwd=ROOT,
                            env=_env(tmp_path / "cache", XAIBENCH_RAY_KILL_CELL="saliency"),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 1 and "1 failed, 2 passed" in result.stdout
    rows = read_per_example(tmp_path / "out")
    saliency = rows[rows["explainer"] == "saliency"]
    assert set(saliency["status"]) == {"error"} and saliency["note"].str.contains("worker process died 4 times").all()
    # The other cells complete (the restarted worker goes on with their units).
    assert "error" not in set(rows[rows["explainer"] != "saliency"]["status"])
