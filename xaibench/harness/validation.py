"""Checks of a run configuration that need no model: explainer and metric parameters, paths, the
text encoding, the device. Each failure is one ``OptionError`` sentence that names the option, the
bad value and what is expected (``xaibench.harness.config.resolve`` calls these before anything loads).
"""
from __future__ import annotations

import codecs
import difflib
import inspect
import json
import math
import os
import re

from xaibench.core.errors import OptionError
from xaibench.modeling.classifier import DTYPES

# owner/name as the Hugging Face hub spells it (one slash, no leading dot or slash).
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_DATA_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".txt")


def parse_param_assignments(assignments) -> dict[str, dict[str, object]]:
    """``["lime.n_samples=200", "comprehensiveness.fractions=0.1,0.2"]`` -> ``{"lime": {"n_samples": 200},
    "comprehensiveness": {"fractions": [0.1, 0.2]}}``. Values are read as JSON when they parse
    (numbers, true/false, null, lists), as a comma list of such values, else as a plain string."""
    if assignments is None:
        return {}
    if isinstance(assignments, str):
        assignments = [assignments]
    out: dict[str, dict[str, object]] = {}
    for item in assignments:
        head, sep, value = str(item).partition("=")
        name, dot, key = head.strip().partition(".")
        if not sep or not dot or not name or not key.strip():
            raise OptionError(f"--xb-param expects NAME.PARAM=VALUE (e.g. lime.n_samples=200); got {item!r}")
        out.setdefault(name, {})[key.strip()] = _parse_value(value.strip())
    return out


def _parse_value(text: str):
    try:
        return json.loads(text)
    except ValueError:
        pass
    if "," in text:
        return [_parse_value(part.strip()) for part in text.split(",") if part.strip()]
    return text


def _describe_params(params: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in params.items())


def check_component_params(kind: str, name: str, params: dict, cls_or_factory, seed: int | None = None,
                           source: str = "--xb-param"):
    """Build an explainer or metric with ``params`` and run its own checks; return the instance.

    Unknown parameter names get the closest valid one; out-of-range values get the component's own
    sentence (e.g. "n_samples must be an int >= 2, got 0")."""
    signature = inspect.signature(cls_or_factory)
    accepted = [p.name for p in signature.parameters.values()
                if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self"]
    for key in params:
        if key not in accepted:
            close = difflib.get_close_matches(key, accepted, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise OptionError(f"{source} {name}.{key}: {kind} {name!r} has no parameter {key!r}{hint} "
                              f"(parameters: {', '.join(accepted)})")
    kwargs = dict(params)
    if seed is not None and "seed" in accepted:
        kwargs.setdefault("seed", seed)
    try:
        instance = cls_or_factory(**kwargs)
        check = getattr(instance, "check_params", None)
        if callable(check):
            check()
    except (TypeError, ValueError) as exc:
        raise OptionError(f"{source} {name}.{_describe_params(params)}: {exc}") from None
    return instance


def check_encoding(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise OptionError(f"--xb-encoding {encoding!r} is not a known text encoding "
                          "(e.g. utf-8, gbk, gb18030, big5, latin-1)") from None


def check_dataset_name(name: str, known: list[str]) -> None:
    """A dataset is a built-in name or an existing file; a path-like name that does not exist is
    reported as a missing file, anything else as an unknown name with the closest valid one."""
    if name in known or os.path.isfile(name):
        return
    if os.path.isdir(name):
        raise OptionError(f"--xb-dataset {name!r} is a folder; give a CSV or JSONL file or a built-in name")
    if name.lower().endswith(_DATA_SUFFIXES) or os.sep in name or "/" in name:
        raise OptionError(f"--xb-dataset {name!r}: file not found (current folder: {os.getcwd()})")
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise OptionError(f"unknown dataset {name!r}{hint} (valid: {', '.join(known)}, or a CSV/JSONL path)")


def check_model_name(name: str, known: list[str]) -> None:
    """A model is a built-in name, an existing folder or a hub id ``owner/name``."""
    if name in known or os.path.isdir(name):
        return
    looks_local = name.startswith((".", "/", "~")) or os.path.isabs(name) or name.count("/") > 1 or "\\" in name
    if os.path.exists(name):
        raise OptionError(f"--xb-model {name!r} is a file; give the model's folder (config.json, weights, "
                          "tokenizer), a hub id or a built-in name")
    if looks_local:
        raise OptionError(f"--xb-model {name!r}: folder not found (current folder: {os.getcwd()})")
    if _HUB_ID.match(name):
        return
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise OptionError(f"unknown model {name!r}{hint} (valid: {', '.join(known)}, a local folder or a hub id "
                      "owner/name)")


def check_devices(devices: list[str]) -> None:
    for dev in devices:
        if dev not in ("cpu", "cuda", "auto") and not re.fullmatch(r"cuda:\d+", dev):
            raise OptionError(f"--xb-device must be cpu, cuda, cuda:N or a comma list of them; got {dev!r}")
    if len(set(devices)) != len(devices):
        raise OptionError(f"--xb-device lists a device twice: {','.join(devices)}")
    wanted = [d for d in devices if d.startswith("cuda")]
    if wanted:
        import torch

        if not torch.cuda.is_available():
            raise OptionError(f"--xb-device {wanted[0]} was requested but no CUDA GPU is available; use cpu")
        for dev in wanted:
            if ":" in dev and int(dev.split(":")[1]) >= torch.cuda.device_count():
                raise OptionError(f"--xb-device {dev}: only {torch.cuda.device_count()} CUDA device(s) are visible")


def check_compare(compare: str | None, tolerance) -> float | None:
    """``--xb-compare`` must exist before the run starts; ``--xb-tolerance`` needs it and must be >= 0."""
    if tolerance is not None:
        try:
            tolerance = float(tolerance)
        except (TypeError, ValueError):
            raise OptionError(f"--xb-tolerance must be a number >= 0; got {tolerance!r}") from None
        if not tolerance >= 0:
            raise OptionError(f"--xb-tolerance must be a number >= 0; got {tolerance}")
        if not compare:
            raise OptionError("--xb-tolerance only applies to a comparison; pass --xb-compare BASELINE as well")
    if compare and not os.path.exists(compare):
        raise OptionError(f"--xb-compare {compare!r}: no such results folder or summary.csv")
    return tolerance


def check_out(out: str | None) -> None:
    if out and os.path.exists(out) and not os.path.isdir(out):
        raise OptionError(f"--xb-out {out!r} is an existing file; give a folder (it is replaced as a whole)")


# Weight dtypes a run can ask for (``--xb-dtype``); float32 is the default and the reference.


def check_threads(threads) -> int | None:
    """``--xb-threads``: torch intra-op threads per process, a positive integer (None: not given)."""
    return check_positive_int("--xb-threads", threads)


def check_positive_int(option: str, value) -> int | None:
    """A positive integer option (None: not given); an ``OptionError`` naming ``option`` otherwise."""
    if value is None:
        return None
    text = str(value).strip()
    if isinstance(value, bool) or not re.fullmatch(r"[0-9]+", text) or int(text) <= 0:
        raise OptionError(f"{option} must be a positive integer; got {value!r}")
    return int(text)


def check_model_seeds(value) -> int:
    """``--xb-model-seeds`` / ``model_seeds``: how many seeds of each built-in model to run, an
    integer >= 1 (None: not given, 1)."""
    if value is None:
        return 1
    text = str(value).strip()
    if isinstance(value, bool) or not re.fullmatch(r"[0-9]+", text) or int(text) < 1:
        raise OptionError(f"--xb-model-seeds must be an integer >= 1 (how many seeds of each built-in model to "
                          f"train and run); got {value!r}")
    return int(text)


def check_dtype(dtype, devices: list[str]) -> str:
    """``--xb-dtype``: one of ``DTYPES`` (None: float32). float16 is refused on the CPU up front,
    where half-precision kernels are missing or slow (``Classifier`` refuses it too)."""
    name = "float32" if dtype is None else str(dtype).strip().lower()
    if name not in DTYPES:
        raise OptionError(f"--xb-dtype must be one of {', '.join(DTYPES)}; got {dtype!r}")
    if name == "float16" and any(_runs_on_cpu(d) for d in devices):
        raise OptionError("--xb-dtype float16 is not supported on the CPU (half-precision CPU kernels are missing "
                          "or slow); use bfloat16 or float32 there, or run on --xb-device cuda")
    return name


def _runs_on_cpu(device: str) -> bool:
    if device == "auto":
        import torch

        return not torch.cuda.is_available()
    return device == "cpu"


def check_flag(option: str, value) -> bool:
    """A flag such as ``--xb-compile`` (None: not given); ``[tool.xaibench]`` must give true or false."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise OptionError(f"{option} is a flag (true or false in [tool.xaibench]); got {value!r}")
    return value


RAY_MISSING = ('--xb-ray needs Ray, which is not installed here: pip install -e ".[ray]" '
               '(or pip install "ray[default]>=2.9" next to xaibench)')
#: ``--xb-ray`` without an address: start a local Ray instance (or join the one RAY_ADDRESS names).
LOCAL = "local"


def check_ray(value) -> str | None:
    """The Ray address of a run (``LOCAL``, ``"auto"``, ``host:port`` or ``ray://host:port``), or
    None without ``--xb-ray``; raises ``OptionError`` when Ray is not installed or the value is
    not an address."""
    if value in (None, False, ""):
        return None
    address = LOCAL if value is True else str(value).strip()
    if os.path.exists(address) and ":" not in address:
        raise OptionError(f"--xb-ray {address!r} looks like a path, not a Ray address: put --xb-ray after the test "
                          f"paths (pytest benchmarks/ --xb-ray) or write --xb-ray=ADDRESS")
    if address not in (LOCAL, "auto") and ":" not in address:
        raise OptionError(f"--xb-ray must be 'local', 'auto', HOST:PORT or ray://HOST:PORT; got {address!r}")
    try:
        import ray  # noqa: F401
    except ImportError:
        raise OptionError(RAY_MISSING) from None
    return address


# ---- budgeted runs (--xb-budget, --xb-ci-target; xaibench.harness.budget) -------------------------
def parse_duration(value) -> float | None:
    """Seconds of a duration: ``90s``, ``15m``, ``1.5h``, ``1h30m``, or a plain number of seconds
    (None: not given). Raises ``OptionError`` naming ``--xb-budget`` otherwise."""
    if value is None or value == "":
        return None
    text = str(value).strip().lower().replace(" ", "")
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    if re.fullmatch(r"[0-9]*\.?[0-9]+", text):
        seconds = float(text)
    else:
        parts = re.findall(r"([0-9]*\.?[0-9]+)([smh])", text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise OptionError(f"--xb-budget must be a duration such as 15m, 90s, 1.5h or 1h30m; got {value!r}")
        seconds = sum(float(n) * units[u] for n, u in parts)
    if seconds <= 0:
        raise OptionError(f"--xb-budget must be a positive duration; got {value!r}")
    return seconds


def parse_ci_target(value) -> float | None:
    """``--xb-ci-target``: a positive half-width (None: not given)."""
    if value is None or value == "":
        return None
    try:
        target = float(value)
    except (TypeError, ValueError):
        raise OptionError(f"--xb-ci-target must be a positive number (a CI half-width); got {value!r}") from None
    if not math.isfinite(target) or target <= 0:
        raise OptionError(f"--xb-ci-target must be a positive number (a CI half-width); got {value!r}")
    return target
