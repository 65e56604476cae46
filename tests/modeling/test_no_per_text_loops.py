"""The speed rule, checked on the source: no Python loop runs the model once per text.

Every model evaluation goes through the batched engine, whose passes (inference, gradients,
attention) run one step per batch in ``run_batches``, so a loop whose body calls the model or one of
those passes must be a loop over *batches*, chunks, rounds or groups, each iteration one batched
call. Such a loop carries the marker comment ``# batched: <why>`` on its first line or the line
above it; any other loop that calls the model fails this test with its file and line, so a per-text
loop cannot slip in unnoticed.
"""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("xaibench", "explainers", "metrics", "datasets")
MARKER = "# batched:"
#: Methods that evaluate the model (called as ``obj.name(...)``).
MODEL_METHODS = {"logits", "predict_proba", "predict", "explained_output", "predicted_targets", "explain",
                 "hf_model", "forward_module", "score", "evaluate", "fill", "attribute"}
#: Functions that evaluate the model (called by name or as an attribute).
MODEL_FUNCTIONS = {"forward_logits", "compute_logits", "batched_logits", "run_batches", "evaluate_metrics",
                   "score_chunk", "answer_all", "gradient_attributions", "input_gradients", "attention_weights",
                   "embedding_forward"}
LOOPS = (ast.For, ast.AsyncFor, ast.While, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _model_calls(nodes):
    for node in nodes:
        for sub in ast.walk(node):
            if not isinstance(sub, ast.Call):
                continue
            f = sub.func
            if isinstance(f, ast.Attribute) and (f.attr in MODEL_METHODS or f.attr in MODEL_FUNCTIONS):
                yield sub.lineno, f.attr
            elif isinstance(f, ast.Name) and f.id in MODEL_FUNCTIONS:
                yield sub.lineno, f.id


def _body(loop):
    if isinstance(loop, (ast.For, ast.AsyncFor, ast.While)):
        return loop.body
    if isinstance(loop, ast.DictComp):
        return [loop.key, loop.value]
    return [loop.elt]


def loops_calling_the_model():
    """(file, line, source line, calls) of every loop whose body calls the model without the marker."""
    found = []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            source = path.read_text(encoding="utf-8")
            lines = source.splitlines()
            for loop in ast.walk(ast.parse(source)):
                if not isinstance(loop, LOOPS):
                    continue
                calls = sorted(set(_model_calls(_body(loop))))
                if not calls:
                    continue
                here = lines[loop.lineno - 1]
                above = lines[loop.lineno - 2] if loop.lineno >= 2 else ""
                if MARKER not in here and MARKER not in above:
                    found.append((str(path.relative_to(ROOT)), loop.lineno, here.strip(), calls))
    return found


def test_no_loop_calls_the_model_once_per_text():
    offenders = loops_calling_the_model()
    listing = "\n".join(f"{f}:{n}: {line}  calls {calls}" for f, n, line, calls in offenders)
    assert not offenders, ("loops that call the model must batch (one call per batch/chunk/group) and say so "
                           f"with '{MARKER} <why>':\n{listing}")


def test_the_rule_catches_a_per_text_loop(tmp_path, monkeypatch):
    bad = tmp_path / "xaibench"
    bad.mkdir()
    (bad / "slow.py").write_text("def f(model, texts):\n    return [model.predict_proba([t]) for t in texts]\n",
                                 encoding="utf-8")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    assert [(f, n) for f, n, _, _ in loops_calling_the_model()] == [("xaibench/slow.py", 2)]
