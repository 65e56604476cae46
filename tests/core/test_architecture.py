"""The layers import one way: a walk over every module's imports (stdlib ``ast``), function-level
imports included, fails on any upward import and on any import cycle between modules.

Layers, bottom to top: core; datasets; modeling; zoo; explainers; metrics; report; harness; the
facade (``xaibench``, ``xaibench.api``, ``xaibench.cli``, ``xaibench.testing``). A module may import
its own layer and the ones below. Registries find components by module *name*
(``importlib.import_module``), which is discovery, not an import, and is not counted.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Import package -> folder, as in pyproject.toml's package-dir.
FOLDERS = {"xaibench.explainers": "explainers", "xaibench.metrics": "metrics", "xaibench.datasets": "datasets",
           "xaibench": "xaibench"}
LAYERS = ["xaibench.core", "xaibench.datasets", "xaibench.modeling", "xaibench.zoo", "xaibench.explainers",
          "xaibench.metrics", "xaibench.report", "xaibench.harness", "xaibench"]


def modules() -> dict[str, Path]:
    """Every module of the import package ``xaibench``: dotted name -> file."""
    found = {}
    for package, folder in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            name = ".".join([package, *parts])
            if package == "xaibench" and parts and f"xaibench.{parts[0]}" in FOLDERS:
                continue  # not a real folder of the layout
            found[name] = path
    return found


def layer_of(module: str) -> int:
    for i, prefix in enumerate(LAYERS[:-1]):
        if module == prefix or module.startswith(prefix + "."):
            return i
    return len(LAYERS) - 1


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules of the package that ``name`` imports (anywhere in the file, except under
    ``if TYPE_CHECKING:``), resolved to the most specific known module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()

    def resolve(module: str) -> str | None:
        while module and module not in known:
            module = module.rsplit(".", 1)[0] if "." in module else ""
        return module or None

    def visit(node) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("xaibench"):
                    found.add(resolve(alias.name))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.startswith("xaibench"):
                for alias in node.names:
                    target = resolve(f"{module}.{alias.name}")
                    found.add(target if target == f"{module}.{alias.name}" else resolve(module))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(None)
    found.discard(name)
    return found


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports_of(name, path, known) for name, path in found.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def connect(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            connect(v)
    return out


def test_the_walk_sees_the_layout():
    found = modules()
    for expected in ("xaibench.core.registry", "xaibench.modeling.engine", "xaibench.explainers.occlusion",
                     "xaibench.metrics.faithfulness", "xaibench.datasets.base", "xaibench.harness.session",
                     "xaibench.report.writer", "xaibench.zoo.recipes"):
        assert expected in found
    edges = graph()
    assert "xaibench.modeling.engine" in edges["xaibench.modeling.classifier"]
    assert "xaibench.core.registry" in edges["xaibench.explainers.occlusion"]


def test_imports_flow_one_way():
    upward = sorted(f"{src} ({LAYERS[layer_of(src)]}) imports {dst} ({LAYERS[layer_of(dst)]})"
                    for src, targets in graph().items() for dst in targets if layer_of(dst) > layer_of(src))
    assert upward == []


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_the_checks_can_fail():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert layer_of("xaibench.core.units") < layer_of("xaibench.modeling.engine") < layer_of("xaibench.api")
