"""Run configuration: profiles, ``[tool.xaibench]`` in pyproject.toml, and ``--xb-*`` options.

Precedence: command line > ``[tool.xaibench]`` of the project being benchmarked > profile defaults.
Every option is validated here, before any model is loaded, with one clear sentence per problem.
"""
from __future__ import annotations

import dataclasses
import difflib
import os
from dataclasses import dataclass, field

from xaibench.core.errors import OptionError
from xaibench.harness import validation

#: What each profile runs. Components are not named here: datasets declare the profiles they join
#: and their built-in model (``register(..., profiles=..., default_model=...)``), explainers their
#: ``cheap_params``, metrics their ``family``; a profile picks by those facts.
PROFILES = {
    # CI: two tasks, 16 examples, the cheap end of each method's range, and the stability and sanity
    # metrics with their smoke settings (one kept perturbation per example, two seeds).
    "smoke": {"n": 16, "explainer_settings": "cheap",
              "metric_families": ("faithfulness", "stability", "sanity", "cost")},
    # 64 examples x 6 tasks with the cheap settings (measured time: README). Regression, three-class
    # and planted-cause tasks and the ground-truth metrics run in quick and full only, so smoke
    # (CI) time stays flat.
    "quick": {"n": 64, "explainer_settings": "cheap",
              "metric_families": ("faithfulness", "ground_truth", "plausibility", "stability", "sanity", "cost")},
    # Every test example at each method's default settings: hours on 2 CPU cores.
    "full": {"n": None, "explainer_settings": "default",
             "metric_families": ("faithfulness", "ground_truth", "plausibility", "stability", "sanity", "cost")},
}


def builtin_tasks() -> dict[str, str]:
    """``{dataset: its built-in model}`` for every registered dataset that declares one."""
    from xaibench.core import registry
    from xaibench.core.component import by_declared_order

    return {name: registry.datasets.spec(name).default_model
            for name in by_declared_order(registry.datasets, registry.datasets.names())
            if getattr(registry.datasets.spec(name), "default_model", None)}


def profile_datasets(profile: str) -> list[str]:
    """The built-in datasets that declare ``profile`` in their ``profiles``, in declared order."""
    from xaibench.core import registry

    return [name for name in builtin_tasks() if profile in getattr(registry.datasets.spec(name), "profiles", ())]


def profile_explainers() -> list[str]:
    """Explainers a run selects when none are named: those with ``in_default_runs``, in order."""
    from xaibench.core import registry
    from xaibench.core.component import default_selection

    return default_selection(registry.explainers)


def profile_metrics(profile: str) -> list[str]:
    """Metrics with ``in_default_runs`` whose ``family`` the profile selects, in declared order."""
    from xaibench.core import registry
    from xaibench.core.component import default_selection

    families = PROFILES[profile]["metric_families"]
    return [name for name in default_selection(registry.metrics)
            if registry.metrics.spec(name).family in families]


def profile_metric_settings(profile: str, name: str) -> dict:
    """A metric's settings in ``profile``: its declared ``profile_params[profile]`` (none: defaults)."""
    from xaibench.core import registry

    return dict((getattr(registry.metrics.spec(name), "profile_params", {}) or {}).get(profile, {}))


def profile_explainer_settings(profile: str, name: str) -> dict:
    """An explainer's settings in ``profile``: its ``cheap_params`` or none (constructor defaults)."""
    from xaibench.core import registry

    if PROFILES[profile]["explainer_settings"] != "cheap":
        return {}
    return dict(getattr(registry.explainers.spec(name), "cheap_params", {}) or {})


@dataclass(frozen=True)
class Task:
    """One (dataset, model) pair of the matrix."""

    dataset: str
    model: str


@dataclass
class RunConfig:
    profile: str = "smoke"
    tasks: list[Task] = field(default_factory=list)
    explainers: dict[str, dict] = field(default_factory=dict)
    metrics: list[str] = field(default_factory=list)
    n: int | None = 16
    seed: int = 0
    devices: list[str] = field(default_factory=lambda: ["cpu"])
    out: str | None = None
    compare: str | None = None
    tolerance: float | None = None
    use_cache: bool = True
    encoding: str = "utf-8"
    trust_remote_code: bool = False
    metric_params: dict[str, dict] = field(default_factory=dict)
    # Engine options (``--xb-threads``, ``--xb-dtype``, ``--xb-compile``). threads=None leaves torch's
    # default (or, under pytest-xdist, cores // workers; see ``xaibench.modeling.threads``).
    threads: int | None = None
    dtype: str = "float32"
    compile: bool = False

    def model_options(self) -> dict:
        """The ``Classifier`` keyword arguments of this run that differ from the defaults (float32,
        eager), for ``load_model(name, **config.model_options())``; empty for a default run."""
        options = {}
        if self.dtype != "float32":
            options["dtype"] = self.dtype
        if self.compile:
            options["compile"] = True
        return options

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["tasks"] = [dataclasses.asdict(t) for t in self.tasks]
        return d


def _split_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    else:
        items = str(value).split(",")
    return [s.strip() for s in items if s.strip()]


def resolve(cli: dict, file_options: dict | None = None) -> RunConfig:
    """Merge command-line options (``None`` = not given) over ``[tool.xaibench]`` over the profile."""
    from xaibench.core import registry

    opts = {k: v for k, v in (file_options or {}).items()}
    opts.update({k: v for k, v in cli.items() if v not in (None, [], "")})
    profile = str(opts.get("profile", "smoke"))
    if profile not in PROFILES:
        raise OptionError(f"--xb-profile must be one of {', '.join(PROFILES)}; got {profile!r}")
    base = PROFILES[profile]

    datasets = _split_list(opts.get("dataset")) or profile_datasets(profile)
    models = _split_list(opts.get("model"))
    for d in datasets:
        validation.check_dataset_name(d, registry.datasets.names())
    for option, values in (("--xb-dataset", datasets), ("--xb-model", models)):
        if len(set(values)) != len(values):
            raise OptionError(f"{option} lists the same name twice: {','.join(values)}")
    if models:
        tasks = [Task(d, m) for d in datasets for m in models]
    else:
        default_models = builtin_tasks()
        missing = [d for d in datasets if d not in default_models]
        if missing:
            raise OptionError(f"--xb-dataset {missing[0]!r} has no built-in model; pass --xb-model "
                              "(a built-in name, hub id or local folder)")
        tasks = [Task(d, default_models[d]) for d in datasets]
    for m in models:
        validation.check_model_name(m, registry.models.names())

    explainer_names = _split_list(opts.get("explainers")) or profile_explainers()
    for name in explainer_names:
        registry.explainers.factory(name)
    if len(set(explainer_names)) != len(explainer_names):
        raise OptionError(f"--xb-explainers lists an explainer twice: {','.join(explainer_names)}")
    settings = {name: profile_explainer_settings(profile, name) for name in explainer_names}
    # [tool.xaibench] may set parameters for explainers this run does not select: those are ignored.
    for name, params in (opts.get("explainer_params") or {}).items():
        if name in settings:
            settings[name].update(params)

    metric_names = _split_list(opts.get("metrics")) or profile_metrics(profile)
    for name in metric_names:
        registry.metrics.factory(name)
    if len(set(metric_names)) != len(metric_names):
        raise OptionError(f"--xb-metrics lists a metric twice: {','.join(metric_names)}")
    metric_settings = {name: profile_metric_settings(profile, name) for name in metric_names}
    for name, params in (opts.get("metric_params") or {}).items():
        if name in metric_settings:
            metric_settings[name].update(params)
    metric_settings = {name: params for name, params in metric_settings.items() if params}
    _apply_param_option(cli.get("param"), settings, metric_settings, metric_names, registry)

    n = opts.get("n", base["n"])
    if n is not None and str(n).lower() not in ("all", "none"):
        try:
            n = int(n)
        except (TypeError, ValueError):
            raise OptionError(f"--xb-n must be a positive integer or 'all'; got {n!r}") from None
        if n <= 0:
            raise OptionError(f"--xb-n must be a positive integer or 'all'; got {n}")
    else:
        n = None
    try:
        seed = int(opts.get("seed", 0))
    except (TypeError, ValueError):
        raise OptionError(f"--xb-seed must be an integer; got {opts.get('seed')!r}") from None
    for name, params in settings.items():
        validation.check_component_params("explainer", name, params, registry.explainers.factory(name), seed,
                                          source="invalid parameter")
    for name, params in metric_settings.items():
        validation.check_component_params("metric", name, params, registry.metrics.factory(name),
                                          source="invalid parameter")
    devices = _split_list(opts.get("device")) or ["cpu"]
    validation.check_devices(devices)
    threads = validation.check_threads(opts.get("threads"))
    dtype = validation.check_dtype(opts.get("dtype"), devices)
    compile_ = validation.check_flag("--xb-compile", opts.get("compile"))
    tolerance = validation.check_compare(opts.get("compare"), opts.get("tolerance"))
    validation.check_out(opts.get("out"))
    encoding = str(opts.get("encoding", "utf-8"))
    validation.check_encoding(encoding)
    _validate_user_data(tasks, encoding, bool(opts.get("trust_remote_code", False)))
    return RunConfig(
        profile=profile, tasks=tasks, explainers=settings, metrics=metric_names, n=n, seed=seed,
        devices=devices, out=opts.get("out"), compare=opts.get("compare"), tolerance=tolerance,
        use_cache=not bool(opts.get("no_cache", False)), encoding=encoding,
        trust_remote_code=bool(opts.get("trust_remote_code", False)), metric_params=metric_settings,
        threads=threads, dtype=dtype, compile=compile_,
    )


def _apply_param_option(assignments, explainer_settings: dict, metric_settings: dict, metric_names: list[str],
                        registry) -> None:
    """``--xb-param NAME.PARAM=VALUE`` (repeatable): NAME is a selected explainer or metric."""
    for name, params in validation.parse_param_assignments(assignments).items():
        if name in explainer_settings:
            explainer_settings[name].update(params)
        elif name in metric_names:
            metric_settings.setdefault(name, {}).update(params)
        elif name in registry.explainers or name in registry.metrics:
            kind = "explainer" if name in registry.explainers else "metric"
            raise OptionError(f"--xb-param {name}.{next(iter(params))}: {kind} {name!r} is not selected in this run "
                              f"(add it to --xb-{kind}s or drop the parameter)")
        else:
            known = registry.explainers.names() + registry.metrics.names()
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise OptionError(f"--xb-param {name}.{next(iter(params))}: unknown explainer or metric {name!r}{hint}")


def read_pyproject_options(rootdir: str) -> dict:
    """``[tool.xaibench]`` of ``rootdir/pyproject.toml`` (empty if absent)."""
    path = os.path.join(rootdir, "pyproject.toml")
    if not os.path.isfile(path):
        return {}
    import tomllib

    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    return dict(data.get("tool", {}).get("xaibench", {}))


def _validate_user_data(tasks: list[Task], encoding: str, trust_remote_code: bool) -> None:
    """Check every user data file completely (and its labels against the model's classes) before
    any model is loaded; raises DataValidationError listing every problem with its line."""
    from xaibench.core import registry
    from xaibench.datasets.user_file import read_user_file
    from xaibench.modeling.loading import model_labels, model_task_type

    for task in tasks:
        if task.dataset in registry.datasets:
            continue
        labels = model_labels(task.model, trust_remote_code=trust_remote_code)
        read_user_file(task.dataset, encoding=encoding, label_names=labels,
                       task_type=model_task_type(task.model, trust_remote_code=trust_remote_code))
