"""``Component``: what explainers and metrics share: declared facts and parameters read from the
constructor signature.

A component class declares who it is with class attributes; the registry, the run configuration,
the tables and the compare gate read them, so none of them keeps a list of names:

- ``name``: the registry name (written once, here).
- ``order``: where default runs and tables place it (ascending; ties by name). Third-party
  components default to 1000, after the built-ins.
- ``in_default_runs``: whether a run that names no components selects it.

Parameters follow scikit-learn's rule: constructor keyword arguments are stored as attributes of
the same name, and ``params()`` reads them back through the signature, so cache keys, validation,
``repr`` and rebuilt components always see every parameter (a new component cannot forget one).
"""
from __future__ import annotations

import inspect
from typing import ClassVar


class Component:
    """Base of explainers and metrics (see the module docstring)."""

    name: ClassVar[str] = ""
    order: ClassVar[int] = 1000
    in_default_runs: ClassVar[bool] = True

    @classmethod
    def param_names(cls) -> list[str]:
        """Names of the constructor's keyword parameters (``**kwargs`` excluded)."""
        return [p.name for p in inspect.signature(cls.__init__).parameters.values()
                if p.name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]

    def params(self) -> dict:
        """Constructor parameters as stored on the instance (one attribute per parameter)."""
        missing = [n for n in self.param_names() if not hasattr(self, n)]
        if missing:
            raise AttributeError(f"{type(self).__name__} must store its constructor parameters as attributes "
                                 f"of the same name; missing: {', '.join(missing)}")
        return {n: getattr(self, n) for n in self.param_names()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


def by_declared_order(registry, names) -> list[str]:
    """``names`` sorted by each component's declared ``order`` (1000 if it declares none), then name."""
    return sorted(names, key=lambda n: (getattr(registry.spec(n), "order", 1000), n))


def default_selection(registry) -> list[str]:
    """Names of ``registry``'s components with ``in_default_runs``, in declared ``order``."""
    return by_declared_order(registry, [n for n in registry.names()
                                        if getattr(registry.spec(n), "in_default_runs", True)])
