"""Name -> component registries, one per concept (explainer, metric, dataset, model), with discovery.

A component says who it is: an explainer or metric class declares ``name`` and its other facts
(``xaibench.core.component``), and ``@registry.explainers.register`` reads them, so a name is
written once. Function components (dataset loaders, built-in model recipes) give their name and
facts to ``register("name", **facts)``.

Registries find their members themselves (``discover``), the first time a name is looked up:

- **built-in packages**: every module of the registry's packages (``xaibench.explainers``,
  ``xaibench.metrics``, ...) whose name does not start with ``_`` is imported, and importing it
  registers what it defines. Adding an explainer is adding one file.
- **entry points**: third-party packages add components through the entry-point groups
  ``xaibench.explainers``, ``xaibench.metrics``, ``xaibench.datasets``, ``xaibench.models`` and
  ``xaibench.generators``.
  An entry point may name a module (imported; its decorators register) or a component class
  (registered if it is not already).

Nothing central keeps a second list of names: profiles, tables, the compare gate and the
parameter validation read the facts through ``spec(name)``.
"""
from __future__ import annotations

import difflib
import importlib
import inspect
import pkgutil
import warnings
from types import SimpleNamespace
from typing import Any, Callable, Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError, ValueError):
    """A name that is not registered; the message suggests the closest valid one."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


class Registry(Generic[T]):
    """Components of one kind by name.

    ``kind``: what the members are, for messages ("explainer"). ``packages``: dotted names of the
    built-in packages whose modules are imported on discovery. ``entry_point_group``: the
    ``importlib.metadata`` group third-party packages use.
    """

    def __init__(self, kind: str, packages: tuple[str, ...] = (), entry_point_group: str | None = None) -> None:
        self.kind = kind
        self.packages = tuple(packages)
        self.entry_point_group = entry_point_group
        self._factories: dict[str, Callable[..., T]] = {}
        self._specs: dict[str, Any] = {}
        self._discovered = False
        self._discovering = False

    # ---- registration --------------------------------------------------------------------------
    def register(self, name_or_component=None, factory: Callable[..., T] | None = None, **facts):
        """Register a component.

        - ``@register`` on a class: the name is the class's ``name`` attribute, its facts are its
          class attributes.
        - ``@register("name", **facts)`` on a function (or ``register("name", factory)``): the
          function builds the component; ``facts`` (e.g. ``default_model=...``) are readable
          through ``spec(name)``.
        """
        if inspect.isclass(name_or_component):
            return self._add(_declared_name(name_or_component, self.kind), name_or_component, name_or_component)
        name = name_or_component

        def add(f: Callable[..., T]) -> Callable[..., T]:
            if name is None:  # @register() on a class
                return self._add(_declared_name(f, self.kind), f, f)
            for key, value in facts.items():
                setattr(f, key, value)
            spec = f if inspect.isclass(f) else SimpleNamespace(name=name, factory=f, **facts)
            return self._add(str(name), f, spec)

        return add(factory) if factory is not None else add

    def _add(self, name: str, factory, spec):
        if name in self._factories and self._factories[name] is not factory:
            existing = self._factories[name]
            # A module imported twice (e.g. by path and by package) re-creates its classes: same
            # qualified name means the same component, anything else is a real clash.
            if _qualname(existing) != _qualname(factory):
                raise ValueError(f"{self.kind} {name!r} is already registered (by {_qualname(existing)})")
        self._factories[name] = factory
        self._specs[name] = spec
        return factory

    # ---- discovery -----------------------------------------------------------------------------
    def discover(self) -> None:
        """Import the built-in packages' modules and load the entry points (once)."""
        if self._discovered or self._discovering:
            return
        self._discovering = True
        try:
            for package in self.packages:
                module = importlib.import_module(package)
                for info in sorted(pkgutil.iter_modules(module.__path__), key=lambda m: m.name):
                    if not info.name.startswith("_"):
                        importlib.import_module(f"{package}.{info.name}")
            if self.entry_point_group:
                self._load_entry_points()
            self._discovered = True
        finally:
            self._discovering = False

    def _load_entry_points(self) -> None:
        from importlib.metadata import entry_points

        for ep in entry_points(group=self.entry_point_group):
            try:
                loaded = ep.load()
            except Exception as exc:  # one broken plugin must not hide the built-ins
                warnings.warn(f"{self.kind} entry point {ep.name!r} ({ep.value}) failed to load: {exc}",
                              RuntimeWarning, stacklevel=3)
                continue
            if inspect.isclass(loaded) and getattr(loaded, "name", None) and loaded.name not in self._factories:
                self.register(loaded)

    # ---- lookup --------------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Registered names, sorted."""
        self.discover()
        return sorted(self._factories)

    def __contains__(self, name: str) -> bool:
        self.discover()
        return name in self._factories

    def factory(self, name: str) -> Callable[..., T]:
        """The class or function that builds ``name``; an unknown name raises ``UnknownNameError``
        with the closest valid name."""
        self.discover()
        try:
            return self._factories[name]
        except (KeyError, TypeError):
            close = difflib.get_close_matches(str(name), self.names(), n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}{hint} (valid: {', '.join(self.names())})"
            ) from None

    def spec(self, name: str):
        """What ``name`` declares about itself: the class (its class attributes) or, for function
        components, a namespace with ``name``, ``factory`` and the facts given to ``register``."""
        self.factory(name)
        return self._specs[name]

    def create(self, name: str, **params) -> T:
        return self.factory(name)(**params)


def _declared_name(cls, kind: str) -> str:
    name = getattr(cls, "name", "")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{kind} class {cls.__qualname__} must declare a non-empty `name` to be registered")
    return name


def _qualname(obj) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


explainers: Registry = Registry("explainer", ("xaibench.explainers",), "xaibench.explainers")
metrics: Registry = Registry("metric", ("xaibench.metrics",), "xaibench.metrics")
datasets: Registry = Registry("dataset", ("xaibench.datasets",), "xaibench.datasets")
models: Registry = Registry("model", ("xaibench.zoo",), "xaibench.models")
#: Built-in sentence generators (the learned ``nl_generator``'s models), also recipes in the zoo.
generators: Registry = Registry("generator", ("xaibench.zoo",), "xaibench.generators")
