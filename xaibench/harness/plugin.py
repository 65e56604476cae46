"""The pytest plugin behind ``pytest benchmarks/`` (registered through the ``pytest11`` entry point).

Options live under ``--xb-*``; defaults come from ``[tool.xaibench]`` in the rootdir's
pyproject.toml and the chosen profile. A test that asks for the ``xb_cell`` fixture is parametrized
with one case per (dataset, model, explainer) cell; the ``xb_session`` fixture runs it. At the end
the run folder is written and its Markdown summary printed in the terminal summary.

This module must stay cheap to import: it is loaded in every pytest run of the environment.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

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
    ("--xb-threads", "threads", "torch threads per process (default: torch's; under pytest-xdist cores // workers "
                                "per worker)"),
    ("--xb-model-seeds", "model_seeds", "run K seeds of each built-in model (default 1): seed 0 is the model, seed s "
                                        "its recipe retrained with seed s on the same data, named <model>-seed<s>; "
                                        "adds model_seeds.csv (spread over seeds, Kendall's W)"),
    ("--xb-attributions", "attributions", "JSONL file(s) of explanations computed elsewhere (comma list; one line per "
                                          "text: text, scores, optional units/spans, target, explainer): scored with "
                                          "every selected metric next to the built-in explainers"),
    ("--xb-budget", "budget", "run in rounds of growing n (16, 32, 64, ... examples per task) and stop when the "
                              "next round would not fit in this time (15m, 90s, 1h30m), when every ranked metric's "
                              "leader is significant, or when --xb-ci-target is met; --xb-n is then a cap"),
    ("--xb-ci-target", "ci_target", "run in rounds until every metric's 95%% CI half-width is at most this (in the "
                                    "metric's units), within --xb-budget if given"),
    ("--xb-explainer-settings", "explainer_settings", "cheap or default explainer parameters, over the profile's "
                                                      "choice (quick: cheap, full: default)"),
    ("--xb-dtype", "dtype", "model weights: float32 (default), bfloat16 or float16 (GPU only); on a CPU bfloat16 "
                            "is usually slower without bf16 units (AMX/AVX512-BF16) and changes the numbers"),
]


def pytest_addoption(parser) -> None:
    group = parser.getgroup("xaibench", "xaibench explanation benchmark")
    for flag, dest, help_text in _OPTIONS:
        group.addoption(flag, dest=f"xb_{dest}", default=None, help=help_text)
    group.addoption("--xb-no-cache", dest="xb_no_cache", action="store_true", default=False,
                    help="recompute explanations and metric values instead of reusing cached ones")
    group.addoption("--xb-trust-remote-code", dest="xb_trust_remote_code", action="store_true", default=False,
                    help="allow a hub model to run its own code (off by default)")
    group.addoption("--xb-compile", dest="xb_compile", action="store_true", default=False,
                    help="torch.compile the model for the engine's inference passes (for GPUs; gradient explainers "
                         "stay eager). On a CPU compiling MiniLM takes ~1 min and gave only 1.07x on 2 cores")
    group.addoption("--xb-no-progress", dest="xb_no_progress", action="store_true", default=False,
                    help="no progress bars (training, cells); by default they reach the terminal despite "
                         "pytest's output capture (also from pytest-xdist workers); TQDM_DISABLE=1 works too")
    group.addoption("--xb-ray", dest="xb_ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                    help="run the cells on a Ray cluster: without ADDRESS a local Ray instance is started (or the one "
                         "RAY_ADDRESS names is joined); 'auto' joins the cluster started on this machine with "
                         "'ray start --head'; HOST:PORT or ray://HOST:PORT joins that cluster. Needs the [ray] extra")
    group.addoption("--xb-ray-workers", dest="xb_ray_workers", default=None, metavar="N",
                    help="Ray actors per device kind (default: the cluster's CPUs // --xb-threads, one per GPU)")
    group.addoption("--xb-param", dest="xb_param", action="append", default=None, metavar="NAME.PARAM=VALUE",
                    help="an explainer or metric parameter, e.g. lime.n_samples=200 or "
                         "comprehensiveness.fractions=0.1,0.2 (repeatable)")


@dataclass
class RunState:
    """What the plugin knows about the run, kept in pytest's stash: the session (None until the
    first benchmark needs it) and, at the end, where results went, the comparison text, and whether
    the run was interrupted."""

    session: object = None
    output_dir: str | None = None
    comparison_text: str | None = None
    interrupted: bool = False


_STATE_KEY = pytest.StashKey[RunState]()


def _state(config) -> RunState:
    state = config.stash.get(_STATE_KEY, None)
    if state is None:
        state = config.stash[_STATE_KEY] = RunState()
    return state


def _session(config):
    """The run's BenchmarkSession, created on first use (validation errors end pytest cleanly)."""
    state = _state(config)
    session = state.session
    if session is None:
        from xaibench.harness.config import read_pyproject_options, resolve
        from xaibench.harness.session import BenchmarkSession

        cli = {dest: config.getoption(f"xb_{dest}") for _, dest, _ in _OPTIONS}
        cli["no_cache"] = config.getoption("xb_no_cache") or None
        cli["trust_remote_code"] = config.getoption("xb_trust_remote_code") or None
        cli["compile"] = config.getoption("xb_compile") or None
        cli["param"] = config.getoption("xb_param")
        cli["ray"] = config.getoption("xb_ray")
        cli["ray_workers"] = config.getoption("xb_ray_workers")
        from xaibench.core.errors import OptionError

        # Raises XaiBenchError / UnknownNameError for bad options or data (see pytest_generate_tests).
        run_config = resolve(cli, read_pyproject_options(str(config.rootpath)))
        from xaibench.modeling.threads import apply_threads

        # Before the session loads any model (also in a run whose sessionstart left threads alone).
        apply_threads(run_config.threads)
        session = state.session = BenchmarkSession(run_config, rootdir=str(config.rootpath))
        if run_config.ray is not None:
            if getattr(config.option, "numprocesses", None):
                raise OptionError("--xb-ray and pytest-xdist's -n both distribute the cells: use one of them")
            from xaibench.harness.ray_backend import RayBackend

            session.distributed = RayBackend(run_config.ray, run_config.ray_workers, run_config.threads)
        if run_config.budget_seconds is not None or run_config.ci_target is not None:
            if getattr(config.option, "numprocesses", None):
                raise OptionError("--xb-budget / --xb-ci-target run every cell in rounds in one process; drop "
                                  "pytest-xdist's -n for a budgeted run")
            from xaibench.harness.budget import BudgetedRun

            session.budgeted = BudgetedRun(run_config.budget_seconds, run_config.ci_target, run_config.n)
    return session


_USER_ERROR_KEY = pytest.StashKey[str]()


def pytest_generate_tests(metafunc) -> None:
    if "xb_cell" in metafunc.fixturenames:
        from xaibench.core.errors import XaiBenchError
        from xaibench.core.registry import UnknownNameError

        try:
            cells = _session(metafunc.config).cells()
        except (XaiBenchError, UnknownNameError) as exc:
            # A user error: remember it and end the run after collection with the message alone
            # (raising here would print a collection traceback).
            metafunc.config.stash[_USER_ERROR_KEY] = str(exc)
            cells = []
        metafunc.parametrize("xb_cell", cells, ids=[c.id for c in cells])
    if "xb_session" in metafunc.fixturenames and _USER_ERROR_KEY not in metafunc.config.stash:
        from xaibench.core.errors import XaiBenchError
        from xaibench.core.registry import UnknownNameError

        try:
            _session(metafunc.config)
        except (XaiBenchError, UnknownNameError) as exc:
            metafunc.config.stash[_USER_ERROR_KEY] = str(exc)


def _apply_thread_option(config) -> None:
    """Set torch's thread count before anything loads a model, in every process (each pytest-xdist
    worker runs this hook too): ``--xb-threads`` or ``threads`` of ``[tool.xaibench]``, else cores //
    workers in an xdist worker (``xaibench.modeling.threads``). Runs that do not use xaibench (no ``--xb-*``
    option, no ``[tool.xaibench]``) are left alone and do not import torch."""
    option = config.getoption("xb_threads")
    file_options = {}
    if option is None:
        from xaibench.harness.config import read_pyproject_options

        try:
            file_options = read_pyproject_options(str(config.rootpath))
        except (OSError, ValueError):  # an unreadable pyproject.toml is reported where the run needs it
            file_options = {}
        option = file_options.get("threads")
    given = any(config.getoption(f"xb_{dest}") for _, dest, _ in _OPTIONS) or config.getoption("xb_param") \
        or config.getoption("xb_compile")
    if option is None and not file_options and not given:
        return
    from xaibench.core.errors import OptionError
    from xaibench.harness.validation import check_threads
    from xaibench.modeling.threads import apply_threads

    try:
        threads = check_threads(option)
    except OptionError as exc:
        pytest.exit(f"xaibench: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)
    apply_threads(threads)


def pytest_sessionstart(session) -> None:
    """Apply the thread count first (``_apply_thread_option``). Under pytest-xdist the controller
    collects nothing and a user error in a worker surfaces as a worker crash with a traceback: when
    --xb-* options were given, check them here first and end the run with the message alone."""
    config = session.config
    _apply_thread_option(config)
    if _is_worker(config) or not config.pluginmanager.has_plugin("xaibench-xdist"):
        return
    if not any(config.getoption(f"xb_{dest}") for _, dest, _ in _OPTIONS) and not config.getoption("xb_param"):
        return
    from xaibench.core.errors import XaiBenchError
    from xaibench.core.registry import UnknownNameError

    try:
        _session(config)
    except (XaiBenchError, UnknownNameError) as exc:
        pytest.exit(f"xaibench: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)


def pytest_collection_finish(session) -> None:
    message = session.config.stash.get(_USER_ERROR_KEY, None)
    if message is not None:
        pytest.exit(f"xaibench: {message}", returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.fixture(scope="session")
def xb_session(request):
    """The benchmark session: ``xb_session.run_cell(cell)`` explains and scores one cell."""
    return _session(request.config)


def _is_worker(config) -> bool:
    return hasattr(config, "workerinput")


class _XdistHooks:
    """Controller side of pytest-xdist: hand every worker a shard folder to write its rows into."""

    def __init__(self, config) -> None:
        import tempfile

        self.config = config
        self.shard_dir = tempfile.mkdtemp(prefix="xaibench-shards-")
        config.stash[_SHARD_KEY] = self.shard_dir

    def pytest_configure_node(self, node) -> None:
        node.workerinput["xb_shard_dir"] = self.shard_dir


_SHARD_KEY = pytest.StashKey[str]()


@pytest.hookimpl(trylast=True)
def pytest_configure(config) -> None:
    from xaibench.core import progress

    # Bars of training, cells and scaling go to the terminal despite capture (xaibench.core.progress);
    # trylast: after pytest's terminal reporter exists.
    progress.attach(config, enabled=not config.getoption("xb_no_progress"))
    if config.pluginmanager.hasplugin("xdist") and not _is_worker(config) and getattr(config.option, "numprocesses", None):
        config.pluginmanager.register(_XdistHooks(config), "xaibench-xdist")


def pytest_unconfigure(config) -> None:
    from xaibench.core import progress

    progress.detach(config)


def pytest_sessionfinish(session, exitstatus) -> None:
    config = session.config
    state = _state(config)
    if _is_worker(config):
        shard_dir = config.workerinput.get("xb_shard_dir")
        if state.session is not None and shard_dir and state.session.record.outcome_rows:
            import torch

            from xaibench.core.storage import atomic_write_json

            record = state.session.record
            # The threads this worker computed with travel to provenance.json (the controller's differ).
            record.torch_threads = torch.get_num_threads()
            atomic_write_json(os.path.join(shard_dir, f"{config.workerinput['workerid']}.json"), record.shard())
        return
    shard_dir = config.stash.get(_SHARD_KEY, None)
    if shard_dir:
        _merge_shards(config, shard_dir)
    run = state.session
    if run is None:
        return
    if run.distributed is not None:
        run.distributed.shutdown()
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        # Every finished chunk is already in the cache; a half matrix must not pose as a result.
        state.interrupted = True
        return
    if not run.record.outcome_rows:
        return
    from xaibench.report.writer import write_run

    state.output_dir = write_run(run.record, models=run.loaded_models)
    if run.config.compare:
        import pandas as pd

        from xaibench.core.errors import XaiBenchError
        from xaibench.report.compare import compare, load_baseline

        try:
            result = compare(load_baseline(run.config.compare),
                             pd.read_csv(os.path.join(state.output_dir, "summary.csv")), run.config.tolerance)
        except XaiBenchError as exc:
            state.comparison_text = f"xaibench: {exc}"
            session.exitstatus = pytest.ExitCode.USAGE_ERROR
            return
        state.comparison_text = result.report()
        if len(result.regressions):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _merge_shards(config, shard_dir: str) -> None:
    """Merge the workers' shards into the controller's session (rows in serial order)."""
    import json
    import shutil

    shards = sorted(f for f in os.listdir(shard_dir) if f.endswith(".json"))
    if shards:
        run = _session(config)
        worker_threads = set()
        for name in shards:
            with open(os.path.join(shard_dir, name), encoding="utf-8") as fh:
                shard = json.load(fh)
            run.record.merge(shard)
            if shard.get("torch_threads") is not None:
                worker_threads.add(int(shard["torch_threads"]))
        run.sort_rows()
        # One count when the workers agree (the usual case), else every count seen.
        run.record.torch_threads = (next(iter(worker_threads)) if len(worker_threads) == 1
                                    else sorted(worker_threads) or None)
    shutil.rmtree(shard_dir, ignore_errors=True)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    state = _state(config)
    tr = terminalreporter
    if state.interrupted:
        tr.write_line("xaibench: interrupted; every finished chunk of explanations and metric values is cached. "
                      "Run the same command again to resume.")
        return
    if state.output_dir is None:
        return
    tr.write_sep("=", "xaibench summary")
    with open(os.path.join(state.output_dir, "summary.md"), encoding="utf-8") as fh:
        tr.write(fh.read())
    if state.comparison_text:
        tr.write_sep("-", f"comparison with {state.session.config.compare}")
        tr.write(state.comparison_text)
    tr.write_line(f"results written to {state.output_dir}")
