"""The pytest plugin from the outside: user errors end the run cleanly, before any model loads."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_benchmarks(tmp_path, *args):
    env = {**os.environ, "XAIBENCH_CACHE": str(tmp_path / "cache")}
    return subprocess.run([sys.executable, "-m", "pytest", "benchmarks/test_explainer_matrix.py", "-q",
                           "-p", "no:cacheprovider", "--xb-out", str(tmp_path / "out"), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args, fragment", [
    (["--xb-explainers", "occlusionn"], "unknown explainer 'occlusionn'; did you mean 'occlusion'?"),
    (["--xb-metrics", "comprehensivenes"], "did you mean 'comprehensiveness'?"),
    (["--xb-profile", "fast"], "--xb-profile must be one of smoke, quick, full; got 'fast'"),
    (["--xb-n", "-3"], "--xb-n must be a positive integer or 'all'; got -3"),
    (["--xb-dataset", "reviews-ch"], "unknown dataset 'reviews-ch'; did you mean 'reviews-zh'?"),
])
def test_bad_options_fail_with_one_sentence_and_no_results(tmp_path, args, fragment):
    proc = run_benchmarks(tmp_path, *args)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 4, output
    assert fragment in output
    assert "Traceback" not in output and "def " not in output
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "cache" / "models").exists(), "no model may be built for a user error"


def test_bad_user_file_lists_every_problem(tmp_path):
    data = tmp_path / "bad.csv"
    data.write_text("text,label\ngood,1\n ,0\nnice,7\n", encoding="utf-8")
    proc = run_benchmarks(tmp_path, "--xb-dataset", str(data), "--xb-model", "minilm-reviews-en")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 4, output
    assert "line 3: empty text" in output
    assert "line 4: label '7' is not one of the classes ['negative', 'positive']" in output
    assert not (tmp_path / "cache" / "models").exists()
