"""Nothing unsafe is loaded: no module of the sources imports pickle or its relatives, every
``torch.load`` passes ``weights_only``, and no call switches on remote code or pickled arrays."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ["xaibench", "explainers", "metrics", "datasets", "benchmarks"]
UNSAFE_MODULES = {"pickle", "cPickle", "dill", "joblib", "cloudpickle", "marshal", "shelve"}


def _python_files():
    for folder in SOURCE_DIRS:
        yield from sorted((ROOT / folder).rglob("*.py"))


def test_no_pickle_and_no_remote_code_in_the_sources():
    problems = []
    for path in _python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Import):
                problems += [f"{where} imports {a.name}" for a in node.names if a.name.split(".")[0] in UNSAFE_MODULES]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in UNSAFE_MODULES:
                problems.append(f"{where} imports from {node.module}")
            elif isinstance(node, ast.Call):
                name = ast.unparse(node.func)
                kwargs = {k.arg: k.value for k in node.keywords}
                if name == "torch.load" and "weights_only" not in kwargs:
                    problems.append(f"{where} torch.load without weights_only=True")
                if name.endswith(("read_pickle", "to_pickle")):
                    problems.append(f"{where} {name}")
                weights_only = kwargs.get("weights_only")
                if isinstance(weights_only, ast.Constant) and weights_only.value is False:
                    problems.append(f"{where} weights_only=False")
                for flag in ("trust_remote_code", "allow_pickle"):
                    value = kwargs.get(flag)
                    if isinstance(value, ast.Constant) and value.value is True:
                        problems.append(f"{where} {flag}=True")
    assert not problems, problems
