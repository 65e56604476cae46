"""Progress reaches the terminal under pytest (``xaibench.core.progress``): a bar made inside a test
is written past pytest's output capture, in plain and ``-q`` mode and from pytest-xdist workers,
while the test's own prints stay captured; the line announcing a built-in model's training names
the model, why it is trained and about how long it takes. The subprocess cases (a pytest run on a
generated test file, what a user's terminal shows) are marked slow."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from xaibench.core import progress

GENERATED = '''
import time

from xaibench.core import progress


def test_with_bars():
    print("OWN PRINT OF THE TEST")
    progress.DELAY_S = 0.0
    progress.announce("xaibench: HEADER OF THE RUN")
    with progress.progress_bar(4, "train tiny", unit="step", leave=True) as bar:
        for _ in range(4):
            time.sleep(0.05)
            bar.update(1)
            bar.set_postfix(loss="0.123")
    bar = progress.progress_bar(2, "cell tiny", unit="ex")
    for _ in range(2):
        time.sleep(0.05)
        bar.update(1)
    bar.close()


def test_plain():
    pass
'''


def run_pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_generated.py").write_text(GENERATED, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("TQDM_DISABLE", "PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST")}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "test_generated.py", "-p", "no:cacheprovider", *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def shown(result: subprocess.CompletedProcess) -> str:
    """What a terminal would show: stdout and stderr together."""
    return result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("mode", [[], ["-q"]], ids=["plain", "quiet"])
def test_bars_inside_a_test_reach_the_terminal(tmp_path, mode):
    result = run_pytest(tmp_path, *mode)
    out = shown(result)
    assert result.returncode == 0, out
    assert "xaibench: HEADER OF THE RUN" in out
    assert "train tiny: 100%" in out and "4/4" in out and "loss=0.123" in out
    assert "cell tiny: 100%" in out and "2/2" in out
    assert "OWN PRINT OF THE TEST" not in out  # the test's own output is still captured
    # Not a tty: plain lines, no carriage-return redraws; pytest's dots go on below them.
    assert "\r" not in result.stdout
    assert "2 passed" in out
    lines = result.stdout.splitlines()
    assert lines.index("xaibench: HEADER OF THE RUN") < next(i for i, ln in enumerate(lines) if ln.startswith("train"))


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("xdist") is None, reason="needs pytest-xdist")
def test_bars_of_xdist_workers_reach_the_terminal(tmp_path):
    result = run_pytest(tmp_path, "-q", "-n", "2")
    out = shown(result)
    assert result.returncode == 0, out
    header = [ln for ln in out.splitlines() if "xaibench: HEADER OF THE RUN" in ln]
    assert len(header) == 1 and header[0].startswith("[gw"), out  # prefixed with the worker's id
    assert "train tiny: 100%" in out and "cell tiny: 100%" in out
    assert "OWN PRINT OF THE TEST" not in out
    assert "2 passed" in out


@pytest.mark.slow
@pytest.mark.parametrize("switch", ["option", "env"])
def test_progress_can_be_switched_off(tmp_path, switch, monkeypatch):
    if switch == "env":
        (tmp_path / "conftest.py").write_text("import os\nos.environ['TQDM_DISABLE'] = '1'\n", encoding="utf-8")
        result = run_pytest(tmp_path, "-q")
    else:
        result = run_pytest(tmp_path, "-q", "--xb-no-progress")
    out = shown(result)
    assert result.returncode == 0, out
    assert "HEADER OF THE RUN" not in out and "train tiny" not in out and "cell tiny" not in out


# ---- in-process checks -----------------------------------------------------------------------------
class FakeTerminal:
    """Records what bars send; plain-line mode like a CI log."""

    frames = False
    enabled = True

    def __init__(self):
        self.lines = []

    def width(self):
        return None

    def line(self, text):
        self.lines.append(text)

    def frame(self, text):
        self.lines.append(text)

    def clear_frame(self):
        pass

    def close(self):
        pass


@pytest.fixture
def fake_terminal(monkeypatch):
    terminal = FakeTerminal()
    monkeypatch.setattr(progress, "_terminal", terminal)
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    return terminal


def test_plain_lines_come_every_tenth_and_not_for_quick_bars(fake_terminal, monkeypatch):
    bar = progress.progress_bar(100, "quick", unit="ex")
    for _ in range(100):
        bar.update(1)
    bar.close()
    assert fake_terminal.lines == []  # finished within DELAY_S: nothing to read in a log
    monkeypatch.setattr(progress, "DELAY_S", 0.0)
    bar = progress.progress_bar(100, "slow", unit="ex")
    for _ in range(100):
        bar.update(1)
    bar.close()
    assert len(fake_terminal.lines) == 10
    assert fake_terminal.lines[0].startswith("slow:  10%") and "100/100" in fake_terminal.lines[-1]


def test_a_training_bar_prints_even_when_quick_and_its_end_once(fake_terminal):
    with progress.progress_bar(3, "train x", unit="step", leave=True) as bar:
        bar.update(1)
    assert len(fake_terminal.lines) == 1 and "1/3" in fake_terminal.lines[-1]


def test_switched_off_bars_and_announcements_say_nothing(fake_terminal, monkeypatch):
    fake_terminal.enabled = False
    progress.announce("hidden")
    bar = progress.progress_bar(2, "hidden", leave=True)
    bar.update(2)
    bar.close()
    fake_terminal.enabled = True
    monkeypatch.setenv("TQDM_DISABLE", "1")
    progress.announce("hidden")
    assert fake_terminal.lines == []


def test_outside_pytest_a_bar_is_tqdm_on_stderr(monkeypatch, capsys):
    from tqdm.auto import tqdm

    monkeypatch.setattr(progress, "_terminal", None)
    bar = progress.progress_bar(3, "plain", unit="ex")
    assert isinstance(bar, tqdm)
    bar.update(3)
    bar.close()
    progress.announce("xaibench: said on stderr")
    assert "xaibench: said on stderr" in capsys.readouterr().err


def test_training_header_names_model_reason_and_expected_minutes():
    where = Path(os.path.expanduser("~")) / ".cache" / "xaibench" / "models"
    text = progress.training_header("minilm-reviews-en", where, 360, threads=2)
    assert text == ("xaibench: training built-in model minilm-reviews-en (first use; cached afterwards in "
                    "~/.cache/xaibench/models) — about 6 min on 2 CPU cores")
    assert progress.training_header("charbert-reviews-zh", where, 600, threads=2).endswith("about 10 min on 2 CPU cores")
    assert progress.training_header("minilm-reviews-en", where, 360, threads=4).endswith("about 3 min on 4 CPU cores")
    assert progress.training_header("minilm-reviews-en", where, 360, threads=1).endswith("about 12 min on 1 CPU core")
    assert "several minutes" in progress.training_header("x", "/somewhere", None, threads=2)


def test_ensure_built_announces_the_training_first(tmp_path, monkeypatch):
    import torch

    from xaibench.zoo import builds

    monkeypatch.setenv("XAIBENCH_CACHE", str(tmp_path))
    said = []
    monkeypatch.setattr(progress, "announce", said.append)

    def build(recipe, folder, use_progress):
        said.append("built")
        return {}

    targets = {"train_seconds": 360}
    builds.BuiltinModel("tiny-model", {"seed": 0}, build, targets).ensure_built(progress=True)
    threads = torch.get_num_threads()
    assert said[0] == progress.training_header("tiny-model", tmp_path / "models", 360, threads)
    assert "tiny-model (first use;" in said[0] and " min on " in said[0] and said[1] == "built"
    said.clear()
    builds.BuiltinModel("tiny-model", {"seed": 1}, build, targets).ensure_built(progress=True)
    assert "tiny-model (its recipe changed since the cached build;" in said[0]
    said.clear()
    builds.BuiltinModel("tiny-model", {"seed": 1}, build, targets).ensure_built(progress=True)
    assert said == []  # cached: nothing trained, nothing said
    builds.BuiltinModel("tiny-model", {"seed": 2}, build, targets).ensure_built(progress=False)
    assert said == ["built"]


def test_the_plugin_attached_this_run():
    # This very run: the xaibench plugin attached pytest's terminal at pytest_configure.
    assert progress._terminal is not None
