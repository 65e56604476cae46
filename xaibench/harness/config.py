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
              "metric_families": ("faithfulness", "stability", "sanity", "complexity", "cost")},
    # 64 examples x 6 tasks with the cheap settings (measured time: README). Regression, three-class
    # and planted-cause tasks and the ground-truth metrics run in quick and full only, so smoke
    # (CI) time stays flat.
    # quick and full also re-ask the faithfulness metrics with their removal variants (declared
    # ``variant_of``: mask and soft removal), so the citable table comes with its removal agreement.
    # Their default explainers include the sentence explainers (``profiles``), whose metrics
    # (family natural_language) come with them.
    "quick": {"n": 64, "explainer_settings": "cheap", "removal_variants": True,
              "metric_families": ("faithfulness", "ground_truth", "plausibility", "stability", "sanity", "diagnostic",
                                  "complexity", "cost")},
    # Every test example at each method's default settings: hours on 2 CPU cores.
    "full": {"n": None, "explainer_settings": "default", "removal_variants": True,
             "metric_families": ("faithfulness", "ground_truth", "plausibility", "stability", "sanity", "diagnostic",
                                 "complexity", "cost")},
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


def profile_explainers(profile: str | None = None) -> list[str]:
    """Explainers a run selects when none are named: those with ``in_default_runs`` that declare no
    ``profiles`` (every profile) or, for ``profile``, that declare it (the sentence explainers run
    in quick and full only), in declared order."""
    from xaibench.core import registry
    from xaibench.core.component import default_selection

    return [name for name in default_selection(registry.explainers)
            if getattr(registry.explainers.spec(name), "profiles", None) is None
            or (profile is not None and profile in registry.explainers.spec(name).profiles)]


def profile_metrics(profile: str, explainers: list[str] | None = None) -> list[str]:
    """Metrics with ``in_default_runs`` whose ``family`` the profile selects, in declared order;
    in a profile with ``removal_variants`` also every metric declaring ``variant_of`` one of those
    (the mask and soft removals of the faithfulness metrics, for the removal-agreement report).

    A metric that declares an ``explainer_family`` (the sentence metrics) is selected exactly when
    ``explainers`` (default: the profile's) include an explainer of that family, whatever the
    profile's metric families: naming ``nl_template`` in a smoke run scores its sentences too."""
    from xaibench.core import registry
    from xaibench.core.component import by_declared_order, default_selection

    families = PROFILES[profile]["metric_families"]
    explainers = profile_explainers(profile) if explainers is None else explainers
    explainer_families = {getattr(registry.explainers.spec(e), "family", None) for e in explainers}

    def wanted(name: str) -> bool:
        spec = registry.metrics.spec(name)
        if getattr(spec, "profiles", None) is not None and profile not in spec.profiles:
            return False
        about = getattr(spec, "explainer_family", None)
        return about in explainer_families if about else spec.family in families

    selected = [name for name in default_selection(registry.metrics) if wanted(name)]
    if PROFILES[profile].get("removal_variants"):
        variants = [name for name in registry.metrics.names()
                    if getattr(registry.metrics.spec(name), "variant_of", None) in selected and name not in selected]
        selected = by_declared_order(registry.metrics, selected + variants)
    return selected


def profile_metric_settings(profile: str, name: str) -> dict:
    """A metric's settings in ``profile``: its declared ``profile_params[profile]`` (none: defaults)."""
    from xaibench.core import registry

    return dict((getattr(registry.metrics.spec(name), "profile_params", {}) or {}).get(profile, {}))


EXPLAINER_SETTINGS = ("cheap", "default")


def profile_explainer_settings(profile: str, name: str, settings: str | None = None) -> dict:
    """An explainer's settings in ``profile``: its ``cheap_params`` or none (constructor defaults).
    ``settings`` (``--xb-explainer-settings``) overrides the profile's choice of the two."""
    from xaibench.core import registry

    if (settings or PROFILES[profile]["explainer_settings"]) != "cheap":
        return {}
    return dict(getattr(registry.explainers.spec(name), "cheap_params", {}) or {})


@dataclass(frozen=True)
class Task:
    """One (dataset, model) pair of the matrix. ``model_seed``: which seed of a built-in model
    ``model`` is (0 unless the run has ``--xb-model-seeds`` > 1 or names a ``<name>-seed<s>`` model;
    see ``expand_model_seeds``)."""

    dataset: str
    model: str
    model_seed: int = 0

    @property
    def base_model(self) -> str:
        """The model this is a seed of: ``model`` without its ``-seed<s>`` suffix (``model`` for seed 0)."""
        suffix = f"-seed{self.model_seed}"
        return self.model[: -len(suffix)] if self.model_seed and self.model.endswith(suffix) else self.model


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
    # ``--xb-model-seeds K``: tasks run on seeds 0..K-1 of each built-in model (``expand_model_seeds``).
    model_seeds: int = 1
    # ``--xb-ray [ADDRESS]`` / ``ray = ...``: run the cells on a Ray cluster (``xaibench.harness.ray_backend``);
    # None: in this process (or pytest-xdist workers). ``ray_workers``: actors per device kind.
    ray: str | None = None
    ray_workers: int | None = None
    # ``--xb-budget`` (seconds) / ``--xb-ci-target`` (a CI half-width): run in rounds of growing n
    # until one of them (or a resolved ranking) ends the run (``xaibench.harness.budget``); ``n`` is
    # then the cap (None: the whole test split).
    budget_seconds: float | None = None
    ci_target: float | None = None
    # ``--xb-explainer-settings``: "cheap" or "default" explainer parameters, over the profile's choice.
    explainer_settings: str | None = None
    # Explainers whose name in ``explainers`` is not a registry name (the explainers of an
    # ``--xb-attributions`` file): display name -> registry name (``attributions_file``).
    explainer_sources: dict[str, str] = field(default_factory=dict)

    def explainer(self, name: str):
        """The explainer of cell explainer ``name``, built with this run's seed and its settings."""
        from xaibench.core import registry

        return registry.explainers.create(self.explainer_sources.get(name, name), seed=self.seed,
                                          **self.explainers[name])

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
    from xaibench.modeling.loading import is_builtin

    for m in models:
        if not is_builtin(m):  # a <name>-seed<s> model is a built-in name without its own registry entry
            validation.check_model_name(m, registry.models.names())
    model_seeds = validation.check_model_seeds(opts.get("model_seeds"))
    tasks = expand_model_seeds(tasks, model_seeds)

    explainer_names = _split_list(opts.get("explainers")) or profile_explainers(profile)
    for name in explainer_names:
        registry.explainers.factory(name)
    if len(set(explainer_names)) != len(explainer_names):
        raise OptionError(f"--xb-explainers lists an explainer twice: {','.join(explainer_names)}")
    explainer_settings = opts.get("explainer_settings")
    if explainer_settings is not None and explainer_settings not in EXPLAINER_SETTINGS:
        raise OptionError(f"--xb-explainer-settings must be one of {', '.join(EXPLAINER_SETTINGS)}; "
                          f"got {explainer_settings!r}")
    settings = {name: profile_explainer_settings(profile, name, explainer_settings) for name in explainer_names}
    external = attribution_explainers(_split_list(opts.get("attributions")), registry)
    # [tool.xaibench] may set parameters for explainers this run does not select: those are ignored.
    for name, params in (opts.get("explainer_params") or {}).items():
        if name in settings:
            settings[name].update(params)

    metric_names = _split_list(opts.get("metrics")) or profile_metrics(profile, explainer_names)
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

    from xaibench.harness.validation import parse_ci_target, parse_duration

    budget_seconds = parse_duration(opts.get("budget"))
    ci_target = parse_ci_target(opts.get("ci_target"))
    budgeted = budget_seconds is not None or ci_target is not None
    # A budgeted run's n is a cap, given or none (the whole test split), never the profile's.
    n = opts.get("n", None if budgeted else base["n"])
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
    settings.update(external)
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
    ray = validation.check_ray(opts.get("ray"))
    ray_workers = validation.check_positive_int("--xb-ray-workers", opts.get("ray_workers"))
    if ray_workers is not None and ray is None:
        raise OptionError("--xb-ray-workers needs --xb-ray")
    if budgeted and ray is not None:
        raise OptionError("--xb-budget / --xb-ci-target run the matrix in rounds in this process; they do not "
                          "combine with --xb-ray yet: use one of them")
    encoding = str(opts.get("encoding", "utf-8"))
    validation.check_encoding(encoding)
    _validate_user_data(tasks, encoding, bool(opts.get("trust_remote_code", False)))
    return RunConfig(
        profile=profile, tasks=tasks, explainers=settings, metrics=metric_names, n=n, seed=seed,
        devices=devices, out=opts.get("out"), compare=opts.get("compare"), tolerance=tolerance,
        use_cache=not bool(opts.get("no_cache", False)), encoding=encoding,
        trust_remote_code=bool(opts.get("trust_remote_code", False)), metric_params=metric_settings,
        threads=threads, dtype=dtype, compile=compile_, model_seeds=model_seeds, ray=ray, ray_workers=ray_workers,
        explainer_sources={name: "attributions_file" for name in external},
        budget_seconds=budget_seconds, ci_target=ci_target, explainer_settings=explainer_settings,
    )


def attribution_explainers(paths: list[str], registry) -> dict[str, dict]:
    """``--xb-attributions FILE[,FILE]``: one explainer per name in the files (``{name: its
    attributions_file parameters}``), every file checked completely first (``DataValidationError``
    with line numbers); a name that two files use, or a built-in explainer's name, is an error."""
    from xaibench.datasets.attribution_file import read_attribution_file

    out: dict[str, dict] = {}
    for path in paths:
        for name in read_attribution_file(path, reserved=set(registry.explainers.names())):
            if name in out:
                raise OptionError(f"--xb-attributions: explainer {name!r} is in {out[name]['path']} and in {path}; "
                                  "give each file's explainers their own names")
            out[name] = {"path": os.path.abspath(path), "explainer": name}
    return out


def expand_model_seeds(tasks: list[Task], model_seeds: int) -> list[Task]:
    """Each task once per model seed 0..``model_seeds``−1, seeds of a task next to each other:
    ``(reviews-en, minilm-reviews-en)`` with 3 seeds -> ``minilm-reviews-en``,
    ``minilm-reviews-en-seed1``, ``minilm-reviews-en-seed2`` on the same examples. With one seed the
    tasks stay as they are (a task naming ``<name>-seed<s>`` records ``model_seed = s``).

    More than one seed needs built-in models (they are retrained from their recipe with another
    seed); a hub id, a local folder or a name that already is a seed is an ``OptionError``."""
    from xaibench.modeling.loading import is_builtin, seed_model_name, split_seed_name

    out = []
    for task in tasks:
        base, seed = split_seed_name(task.model)
        if model_seeds == 1:
            out.append(Task(task.dataset, task.model, seed))
            continue
        if seed:
            raise OptionError(f"--xb-model-seeds {model_seeds}: {task.model!r} is already seed {seed} of {base!r}; "
                              f"name the base model {base!r} to run its seeds 0..{model_seeds - 1}")
        if not is_builtin(task.model):
            raise OptionError(f"--xb-model-seeds {model_seeds}: model seeds only apply to built-in models (retrained "
                              f"from their recipe), and {task.model!r} is not one; drop --xb-model-seeds or use a "
                              "built-in model")
        out += [Task(task.dataset, seed_model_name(task.model, s), s) for s in range(model_seeds)]
    return out


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
