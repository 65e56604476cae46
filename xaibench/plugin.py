"""The pytest plugin behind ``pytest benchmarks/`` (registered through the ``pytest11`` entry point).

Options live under ``--xb-*``; defaults come from ``[tool.xaibench]`` in the rootdir's
pyproject.toml and the chosen profile. A test that asks for the ``xb_cell`` fixture is parametrized
with one case per (dataset, model, explainer) cell; the ``xb_session`` fixture runs it. At the end
the run folder is written and its Markdown summary printed in the terminal summary.

This module must stay cheap to import: it is loaded in every pytest run of the environment.
"""
from __future__ import annotations

import os

import pytest

_OPTIONS = [
    # (flag, dest, help)
    ("--xb-profile", "profile", "benchmark profile: smoke (CI, ~16 examples, cheap settings), quick (~200), full"),
    ("--xb-model", "model", "model(s): built-in name, Hugging Face hub id or local folder (comma list)"),
    ("--xb-dataset", "dataset", "dataset(s): built-in name or CSV/JSONL path (comma list)"),
    ("--xb-explainers", "explainers", "comma list of explainers (default: all registered)"),
    ("--xb-metrics", "metrics", "comma list of metrics (default: the faithfulness metrics)"),
    ("--xb-n", "n", "examples per dataset (test split), or 'all'"),
    ("--xb-seed", "seed", "seed for sampling and every stochastic explainer/metric (default 0)"),
    ("--xb-device", "device", "cpu, cuda, or a comma list such as cpu,cuda"),
    ("--xb-out", "out", "results folder (default results/<run-id>/)"),
    ("--xb-compare", "compare", "baseline results folder or summary.csv; fail on a regression"),
    ("--xb-tolerance", "tolerance", "absolute tolerance for --xb-compare (default: the baseline's CI)"),
    ("--xb-encoding", "encoding", "text encoding of user CSV/JSONL files (e.g. gbk)"),
]


def pytest_addoption(parser) -> None:
    group = parser.getgroup("xaibench", "xaibench explanation benchmark")
    for flag, dest, help_text in _OPTIONS:
        group.addoption(flag, dest=f"xb_{dest}", default=None, help=help_text)
    group.addoption("--xb-no-cache", dest="xb_no_cache", action="store_true", default=False,
                    help="recompute explanations and metric values instead of reusing cached ones")
    group.addoption("--xb-trust-remote-code", dest="xb_trust_remote_code", action="store_true", default=False,
                    help="allow a hub model to run its own code (off by default)")


_SESSION_KEY = pytest.StashKey[object]()


def _session(config):
    """The run's BenchmarkSession, created on first use (validation errors end pytest cleanly)."""
    session = config.stash.get(_SESSION_KEY, None)
    if session is None:
        from .config import read_pyproject_options, resolve
        from .errors import XaiBenchError
        from .registry import UnknownNameError
        from .session import BenchmarkSession

        cli = {dest: config.getoption(f"xb_{dest}") for _, dest, _ in _OPTIONS}
        cli["no_cache"] = config.getoption("xb_no_cache") or None
        cli["trust_remote_code"] = config.getoption("xb_trust_remote_code") or None
        try:
            run_config = resolve(cli, read_pyproject_options(str(config.rootpath)))
        except (XaiBenchError, UnknownNameError) as exc:
            pytest.exit(f"xaibench: {exc}", returncode=4)
        session = BenchmarkSession(run_config)
        session.rootdir = str(config.rootpath)
        config.stash[_SESSION_KEY] = session
    return session


def pytest_generate_tests(metafunc) -> None:
    if "xb_cell" in metafunc.fixturenames:
        cells = _session(metafunc.config).cells()
        metafunc.parametrize("xb_cell", cells, ids=[c.id for c in cells])


@pytest.fixture(scope="session")
def xb_session(request):
    """The benchmark session: ``xb_session.run_cell(cell)`` explains and scores one cell."""
    return _session(request.config)


def _is_worker(config) -> bool:
    return hasattr(config, "workerinput")


def pytest_sessionfinish(session, exitstatus) -> None:
    run = session.config.stash.get(_SESSION_KEY, None)
    if run is None or not run.outcomes or _is_worker(session.config):
        return
    from .results import write_run

    run.output_dir = write_run(run)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    run = config.stash.get(_SESSION_KEY, None)
    if run is None or getattr(run, "output_dir", None) is None:
        return
    tr = terminalreporter
    tr.write_sep("=", "xaibench summary")
    with open(os.path.join(run.output_dir, "summary.md"), encoding="utf-8") as fh:
        tr.write(fh.read())
    tr.write_line(f"results written to {run.output_dir}")
