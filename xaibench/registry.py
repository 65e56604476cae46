"""Name -> factory registries, one per concept (explainer, metric, dataset, model).

Adding an explainer, metric, dataset or built-in model is one file plus one ``register`` call;
nothing central branches on names.
"""
from __future__ import annotations

import difflib
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError, ValueError):
    """A name that is not registered; the message suggests the closest valid one."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}

    def register(self, name: str, factory: Callable[..., T] | None = None):
        """Register ``factory`` under ``name``; usable as a decorator."""

        def add(f: Callable[..., T]) -> Callable[..., T]:
            if name in self._factories and self._factories[name] is not f:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._factories[name] = f
            return f

        return add(factory) if factory is not None else add

    def names(self) -> list[str]:
        return sorted(self._factories)

    def __contains__(self, name: str) -> bool:
        return name in self._factories

    def factory(self, name: str) -> Callable[..., T]:
        try:
            return self._factories[name]
        except KeyError:
            close = difflib.get_close_matches(str(name), self.names(), n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}{hint} (valid: {', '.join(self.names())})"
            ) from None

    def create(self, name: str, **params) -> T:
        return self.factory(name)(**params)


explainers: Registry = Registry("explainer")
metrics: Registry = Registry("metric")
datasets: Registry = Registry("dataset")
models: Registry = Registry("model")
