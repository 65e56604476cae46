"""Every model pass goes through the engine, checked on the source (stdlib ``ast``).

Outside ``xaibench/modeling/`` no module calls the Hugging Face model (``hf_model(...)``,
``forward_module(...)``, their ``.forward(...)``) and no module writes the pass counters
``n_forward``/``n_backward``: explainers, metrics, reports and benchmarks ask the engine's passes
(``xaibench.modeling.engine``, ``.gradients``, ``.attention``), which batch, retry after running out
of memory and count. The exceptions below are listed with their reason.
"""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("xaibench", "explainers", "metrics", "datasets", "scripts", "benchmarks")
ENGINE = "xaibench/modeling/"
#: Files that may call the model directly, and why.
DIRECT_CALLS_ALLOWED = {
    "xaibench/zoo/training.py": "the fine-tuning loop: training passes with a loss and an optimiser",
    "benchmarks/test_engine_speed.py": "the one-text-at-a-time reference the engine's speed is measured against",
}
MODEL_CALLABLES = {"hf_model", "forward_module"}
COUNTERS = {"n_forward", "n_backward"}


def _name(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _calls_the_model(call: ast.Call) -> bool:
    """``hf_model(...)``, ``x.forward_module(...)``, ``x.hf_model.forward(...)`` / ``.__call__(...)``."""
    f = call.func
    if _name(f) in MODEL_CALLABLES:
        return True
    return isinstance(f, ast.Attribute) and f.attr in ("forward", "__call__") and _name(f.value) in MODEL_CALLABLES


def _writes_a_counter(node) -> bool:
    """``x.n_forward = ...``, ``x.n_forward += ...`` (tuple targets too), ``setattr(x, "n_forward", ...)``."""
    if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return any(isinstance(t, ast.Attribute) and t.attr in COUNTERS
                   for target in targets for t in ast.walk(target))
    if isinstance(node, ast.Call) and _name(node.func) == "setattr" and len(node.args) >= 2:
        attr = node.args[1]
        return isinstance(attr, ast.Constant) and attr.value in COUNTERS
    return False


def offenders() -> tuple[list[str], list[str]]:
    """(direct model calls, counter writes) outside the engine, as ``file:line: source``."""
    calls, writes = [], []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith(ENGINE):
                continue
            source = path.read_text(encoding="utf-8")
            lines = source.splitlines()
            for node in ast.walk(ast.parse(source)):
                where = f"{rel}:{getattr(node, 'lineno', 0)}: {lines[node.lineno - 1].strip()}" \
                    if hasattr(node, "lineno") else rel
                if isinstance(node, ast.Call) and _calls_the_model(node) and rel not in DIRECT_CALLS_ALLOWED:
                    calls.append(where)
                if _writes_a_counter(node):
                    writes.append(where)
    return calls, writes


def test_only_the_engine_calls_the_model_and_counts_passes():
    calls, writes = offenders()
    assert not calls, "call the engine's passes (xaibench.modeling.engine/gradients/attention) instead of " \
                      "the model:\n" + "\n".join(calls)
    assert not writes, "only the engine's passes count n_forward/n_backward:\n" + "\n".join(writes)


def test_the_exceptions_still_exist():
    for rel in DIRECT_CALLS_ALLOWED:
        assert (ROOT / rel).is_file(), f"{rel} is gone: drop it from DIRECT_CALLS_ALLOWED"


def test_the_rule_catches_a_direct_call_and_a_counter_write(tmp_path, monkeypatch):
    bad = tmp_path / "explainers"
    bad.mkdir()
    (bad / "direct.py").write_text(
        "def f(model, batch):\n"
        "    logits = model.hf_model(**batch).logits\n"
        "    model.n_forward += len(logits)\n"
        "    model.n_forward, model.n_backward = 0, 0\n"
        "    setattr(model, 'n_backward', 1)\n"
        "    return model.hf_model.forward(**batch), model.forward_module(**batch)\n", encoding="utf-8")
    engine = tmp_path / "xaibench" / "modeling"
    engine.mkdir(parents=True)
    (engine / "engine.py").write_text("def g(model, batch):\n    model.n_forward += 1\n"
                                      "    return model.hf_model(**batch)\n", encoding="utf-8")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    calls, writes = offenders()
    assert [c.split(":")[1] for c in calls] == ["2", "6", "6"]
    assert [w.split(":")[1] for w in writes] == ["3", "4", "5"]
