"""The pytest plugin from the outside (`pytest benchmarks/` in a subprocess, what a user sees): a user
error ends the run cleanly before any model loads: one sentence, no traceback, exit code 4, no
results folder, no model built. Each case starts a Python process with torch, so all but one are
marked slow."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_benchmarks(tmp_path, *args):
    env = {**os.environ, "XAIBENCH_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "pytest", "benchmarks/test_explainer_matrix.py", "-q",
                           "-p", "no:cacheprovider", "--xb-out", str(tmp_path / "out"), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


GBK_ROW = "text,label\n质量很好,positive\n".encode("gbk")


@pytest.mark.parametrize("args, fragment", [
    (["--xb-profile", "fast"], "--xb-profile must be one of smoke, quick, full; got 'fast'"),
    pytest.param(["--xb-explainers", "occlusionn"], "unknown explainer 'occlusionn'; did you mean 'occlusion'?",
                 marks=pytest.mark.slow),
    pytest.param(["--xb-metrics", "comprehensivenes"], "did you mean 'comprehensiveness'?", marks=pytest.mark.slow),
    pytest.param(["--xb-n", "-3"], "--xb-n must be a positive integer or 'all'; got -3", marks=pytest.mark.slow),
    pytest.param(["--xb-dataset", "reviews-ch"], "unknown dataset 'reviews-ch'; did you mean 'reviews-zh'?",
                 marks=pytest.mark.slow),
    pytest.param(["--xb-dataset", "{gbk}", "--xb-model", "charbert-reviews-zh"],
                 "line 2: bytes b'\\xd6\\xca\\xc1\\xbf' at column 1 cannot be decoded as utf-8 (Chinese exports are "
                 "often GBK: pass --xb-encoding gbk", marks=pytest.mark.slow, id="gbk-file"),
    # Under pytest-xdist the controller checks the options before any worker starts.
    pytest.param(["--xb-param", "lime.n_samples=0", "-n", "2"], "n_samples must be an int >= 2, got 0",
                 marks=pytest.mark.slow, id="xdist-lime-n-samples-0"),
    pytest.param(["--xb-budget", "15 minutes"], "--xb-budget must be a duration such as 15m", marks=pytest.mark.slow),
    # A budgeted run's rounds need every cell in one process.
    pytest.param(["--xb-budget", "5m", "-n", "2"], "drop pytest-xdist's -n for a budgeted run",
                 marks=pytest.mark.slow, id="budget-with-xdist"),
])
def test_user_error_ends_the_run_with_one_sentence_and_no_results(tmp_path, args, fragment):
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(GBK_ROW)
    proc = run_benchmarks(tmp_path, *[a.replace("{gbk}", str(gbk)) for a in args])
    output = proc.stdout + proc.stderr
    assert proc.returncode == 4, output
    assert fragment in output
    assert "Traceback" not in output and "def " not in output and "INTERNALERROR" not in output
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "cache" / "models").exists(), "no model may be built for a user error"


@pytest.mark.slow
def test_bad_user_file_lists_every_problem(tmp_path):
    data = tmp_path / "bad.csv"
    data.write_text("text,label\ngood,1\n ,0\nnice,7\n", encoding="utf-8")
    proc = run_benchmarks(tmp_path, "--xb-dataset", str(data), "--xb-model", "minilm-reviews-en")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 4, output
    assert "line 3: empty text" in output
    assert "line 4: label '7' is not one of the classes ['negative', 'positive']" in output
    assert not (tmp_path / "cache" / "models").exists()
