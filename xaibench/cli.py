"""The ``xaibench`` console script.

- ``xaibench prepare [--model NAME ...] [--model-seeds K]``: build (train and cache) built-in models
  and sentence generators now, so a later benchmark run does not pay for it; prints each model
  card's numbers. With
  ``--model-seeds K`` it builds seeds 0..K−1 of each (``<model>``, ``<model>-seed1``, ...; what
  ``pytest benchmarks/ --xb-model-seeds K`` runs on).
- ``xaibench device-report [--out DIR] [--n N] [--cpu-only]``: the CPU-vs-GPU report (speed,
  throughput, score parity; float32, bfloat16 and compiled on the GPU) in one command
  (``xaibench.harness.device_report``); without CUDA it refuses unless ``--cpu-only``.
- ``xaibench list``: the registered models, sentence generators, datasets, explainers and metrics.
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence


def _prepare(args: argparse.Namespace) -> int:
    from xaibench.core import registry
    from xaibench.harness.validation import check_model_seeds
    from xaibench.modeling.loading import builtin_model, seed_model_name, split_seed_name

    try:
        k = check_model_seeds(args.model_seeds)
    except ValueError as exc:  # the run's sentence, with this command's flag
        raise ValueError(str(exc).replace("--xb-model-seeds", "--model-seeds")) from None
    names = args.model or registry.models.names() + registry.generators.names()
    generators = [name for name in names if name in registry.generators]
    names = [name for name in names if name not in registry.generators]
    for name in names:
        if builtin_model(name) is None:
            registry.models.factory(name)  # fail on a typo before training anything
        if k > 1 and split_seed_name(name)[1]:
            raise ValueError(f"--model-seeds {k}: {name!r} is already a model seed; name its base model")
    names = [seed_model_name(name, s) for name in names for s in range(k)]
    for name in names:
        model = builtin_model(name)
        folder = model.ensure_built(progress=not args.quiet)
        print(format_card(name, folder, model.card()))
    # Sentence generators after the classifiers they explain (a generator's build loads its classifier).
    for name in generators:
        generator = registry.generators.create(name)
        folder = generator.ensure_built(progress=not args.quiet)
        print(format_generator_card(name, folder, generator.card()))
    return 0


def format_generator_card(name: str, folder, card: dict) -> str:
    """A sentence generator's card as a few lines: what it explains, its held-out agreement with
    its teacher, and what building it took."""
    agreement = ", ".join(f"{k} {v:g}" for k, v in (card.get("held_out_agreement") or {}).items()) or "n/a"
    sizes = card.get("sizes", {})
    return "\n".join([
        f"{name}  ({folder})",
        f"  explains            {card.get('classifier')} (teacher: verbalized {card.get('teacher')}; "
        f"conditioning: {card.get('conditioning')})",
        f"  held-out agreement  {agreement}  (n={sizes.get('held_out')})",
        f"  built from          {sizes.get('train')} pairs: pairs {card.get('pairs_seconds')} s, training "
        f"{card.get('train_seconds')} s ({card.get('num_threads')} threads; build {card.get('build_seconds')} s)",
    ])


def format_card(name: str, folder, card: dict) -> str:
    """One model card as a few human-readable lines (accuracy and macro-F1 for classifiers,
    Pearson r, MAE and RMSE for regressors)."""
    sizes = card.get("sizes", {})
    metrics = card.get("metrics") or {split: {"accuracy": value} for split, value in card.get("accuracy", {}).items()}
    lines = [f"{name}  ({folder})"]
    for split in ("test", "validation"):
        values = ", ".join(f"{k} {v:.4f}" for k, v in (metrics.get(split) or {}).items()) or "n/a"
        lines.append(f"  {split:<11} {values}  (n={sizes.get(split)})")
    lines += [
        f"  trained on          {sizes.get('train')} examples in {card.get('train_seconds')} s "
        f"({card.get('num_threads')} threads; build {card.get('build_seconds')} s)",
    ]
    return "\n".join(lines)


def _device_report(args: argparse.Namespace) -> int:
    from xaibench.core.errors import OptionError
    from xaibench.harness.device_report import run_device_report

    def split(value):
        return [v.strip() for v in value.split(",") if v.strip()] if value else None

    try:
        run_device_report(args.out, n=args.n, datasets=split(args.dataset), models=split(args.model),
                          explainers=split(args.explainers), cpu_only=args.cpu_only, progress=not args.quiet)
    except OptionError as exc:
        print(f"xaibench: {exc}", file=sys.stderr)
        return 2
    print(open(f"{args.out}/device_report.md", encoding="utf-8").read())
    return 0


def _list(args: argparse.Namespace) -> int:
    from xaibench import api

    groups = {"models": api.list_models, "generators": api.list_generators, "datasets": api.list_datasets,
              "explainers": api.list_explainers, "metrics": api.list_metrics}
    for title, list_names in groups.items():
        try:
            names = list_names()
        except ImportError as exc:  # a plugin package failing to import should not hide the rest
            print(f"{title}: (could not load: {exc})")
            continue
        print(f"{title}: {', '.join(names) if names else '(none)'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xaibench", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    prepare = commands.add_parser("prepare", help="train and cache the built-in models now")
    prepare.add_argument("--model", action="append", metavar="NAME",
                         help="a built-in model or sentence generator name (repeatable; default: all built-in "
                              "models, then all built-in sentence generators)")
    prepare.add_argument("--model-seeds", metavar="K", default=None,
                         help="also build seeds 1..K-1 of each model (<model>-seed<s>: the recipe retrained with "
                              "seed s on the same data; default 1: the models only)")
    prepare.add_argument("--quiet", action="store_true", help="no progress bars")
    prepare.set_defaults(run=_prepare)
    report = commands.add_parser("device-report", help="CPU vs GPU: speed, throughput and score parity of the "
                                                       "quick explainers (needs CUDA; --cpu-only for the CPU half)")
    report.add_argument("--out", default="results/device-report", help="folder for device_report.md/.csv")
    report.add_argument("--n", type=int, default=32, help="test examples per task (default 32)")
    report.add_argument("--dataset", help="comma list (default: the smoke tasks)")
    report.add_argument("--model", help="comma list (default: each dataset's built-in model)")
    report.add_argument("--explainers", help="comma list (default: the quick profile's, without sentence explainers)")
    report.add_argument("--cpu-only", action="store_true", help="only the CPU half (no GPU needed)")
    report.add_argument("--quiet", action="store_true", help="no progress bars")
    report.set_defaults(run=_device_report)
    listing = commands.add_parser("list", help="registered models, datasets, explainers and metrics")
    listing.set_defaults(run=_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (KeyError, ValueError) as exc:  # unknown names: the message already suggests a fix
        print(f"xaibench: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
