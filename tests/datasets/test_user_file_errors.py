"""Reliability (issue 9): bad inputs are refused up front with one precise sentence each, odd but
valid inputs run, failures stay contained, GPU out-of-memory shrinks the batch, results are
deterministic, nothing unsafe is loaded and every user text is escaped in the reports.

Most checks call the validation functions directly (fast); a few run `pytest benchmarks/` in a
subprocess to see what a user sees: no traceback, exit code 4, no results folder, no model built.
"""
import ast
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from xaibench.harness.cache import ResultCache
from xaibench.harness.config import RunConfig, Task, resolve
from xaibench.datasets.base import Dataset
from xaibench.datasets.user_file import read_user_file
from xaibench.core.errors import DataValidationError, OptionError
from xaibench.core.records import Example
from xaibench.core.registry import UnknownNameError
from xaibench.report.writer import write_run
from xaibench.harness.session import BenchmarkSession

ROOT = Path(__file__).resolve().parents[2]
CLASSES = ["negative", "positive"]
GBK_ROW = "text,label\n质量很好,positive\n".encode("gbk")

# ---- the catalogue of bad data files: (file name, content, fragment of the message) ---------------
BAD_FILES = [
    ("no_text.csv", "review,label\ngood,1\n", "line 1: missing column 'text' (found: label, review)"),
    ("no_label.csv", "text,stars\ngood,1\n", "line 1: missing column 'label' (classification) or 'target'"),
    ("capital.csv", "Text,label\ngood,1\n", "missing column 'text' (found 'Text': column names are lower-case"),
    ("empty_text.csv", "text,label\ngood,1\n,0\n", "line 3: empty text ''"),
    ("blank_text.csv", "text,label\n   ,1\n", "line 2: empty text '   '"),
    ("ideographic_space.csv", "text,label\n\u3000\u3000,1\n", "line 2: empty text '\\u3000\\u3000'"),
    ("zero_width.csv", "text,label\n\u200b\u200d,1\n", "line 2: empty text '\\u200b\\u200d' (only invisible"),
    ("nan_text.csv", "text,label\nNaN,1\n", "line 2: missing text 'NaN' (NaN/null is not a text)"),
    ("nan_label.csv", "text,label\ngood,NaN\n", "line 2: missing label 'NaN'"),
    ("typo_label.csv", "text,label\ngood,positve\n",
     "line 2: label 'positve' is not one of the classes ['negative', 'positive']"),
    ("zh_label.csv", "text,label\n质量很好,好评\n", "line 2: label '好评' is not one of the classes"),
    ("index_label.csv", "text,label\ngood,7\n", "line 2: label '7' is not one of the classes"),
    ("negative_index.csv", "text,label\ngood,-1\n", "line 2: label '-1' is not one of the classes"),
    ("duplicate_id.csv", "id,text,label\na1,good,1\na1,bad,0\n", "line 3: duplicate id 'a1' (first on line 2)"),
    ("zh_duplicate_id.csv", "id,text,label\n评论1,很好,1\n评论1,很差,0\n", "line 3: duplicate id '评论1' (first on line 2)"),
    ("gbk.csv", GBK_ROW, "cannot be decoded as utf-8 (Chinese exports are often GBK: pass --xb-encoding gbk"),
    ("extra_field.csv", "text,label\ngood, really good,1\n",
     "line 2: 3 fields but the header has 2 (extra: ['1']); quote a text that contains commas"),
    ("short_row.csv", "id,text,label\nx1,good\n", "line 2: 2 field(s) but the header has 3"),
    ("rationale.csv", "text,label,rationale\n物流很快,1,差评\n", "line 2: rationale piece '差评' is not a substring"),
    ("empty.csv", "", "line 1: the file is empty"),
    ("header_only.csv", "text,label\n", "line 2: no data rows (the file has a header only)"),
    ("bad_json.jsonl", '{"text": "good", "label": 1}\n{"text": "bad", label: 0}\n', "line 2: not valid JSON"),
    ("list.jsonl", '["good", 1]\n', "line 1: expected a JSON object, got list"),
    ("number_text.jsonl", '{"text": 5, "label": 1}\n', "line 1: text must be a string, got int 5"),
    ("nan.jsonl", '{"text": "很好", "label": NaN}\n', "line 1: missing label nan"),
    ("null_text.jsonl", '{"text": null, "label": 1}\n', "line 1: missing text None (NaN/null is not a text)"),
    ("missing.csv", None, "file not found"),
]


def _write(tmp_path: Path, name: str, content) -> str:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return str(path)


@pytest.mark.parametrize("name, content, fragment", BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_bad_data_file_is_refused_with_line_and_value(tmp_path, name, content, fragment):
    with pytest.raises(DataValidationError) as info:
        read_user_file(_write(tmp_path, name, content), label_names=CLASSES)
    assert fragment in str(info.value)


def test_every_problem_of_a_file_is_reported_at_once_in_line_order(tmp_path):
    path = _write(tmp_path, "many.csv", "id,text,label\n"
                  "a,good,positive\n"      # 2 fine
                  "b,,negative\n"          # 3 empty text
                  "a,bad,negative\n"       # 4 duplicate id
                  "c,很好,好评\n"           # 5 label not a class
                  "d,fine,NaN\n"           # 6 NaN label
                  "e,\u200b,positive\n")   # 7 invisible text
    with pytest.raises(DataValidationError) as info:
        read_user_file(path, label_names=CLASSES)
    problems = info.value.problems
    assert [p.split(":")[0] for p in problems] == ["line 3", "line 4", "line 5", "line 6", "line 7"]
    assert "5 problem(s) found" in str(info.value)


def test_undecodable_bytes_are_reported_on_every_line(tmp_path):
    path = _write(tmp_path, "gbk2.csv", "text,label\n质量很好,positive\nok,negative\n太差了,negative\n".encode("gbk"))
    with pytest.raises(DataValidationError) as info:
        read_user_file(path, label_names=CLASSES)
    assert [p.split(":")[0] for p in info.value.problems] == ["line 2", "line 4"]
    ds = read_user_file(path, encoding="gbk", label_names=CLASSES)  # the hint works
    assert ds.texts == ["质量很好", "ok", "太差了"] and ds.labels == [1, 0, 0]


@pytest.mark.parametrize("content", [
    "\ufeffid,text,label\nz1,很好 good 👍,positive\n",                       # BOM
    "text,label\r\n\"a, quoted, text\",1\r\n",                              # CRLF, quoted commas
    '{"text": "مرحبا <b>&amp;</b> 😀", "label": "negative"}\n\n',            # JSONL, blank line
])
def test_odd_but_valid_files_are_accepted(tmp_path, content):
    name = "ok.jsonl" if content.startswith("{") else "ok.csv"
    ds = read_user_file(_write(tmp_path, name, content), label_names=CLASSES)
    assert len(ds) == 1 and ds.labels[0] in (0, 1)
    assert not ds.texts[0].startswith("\ufeff") and not ds.ids[0].startswith("\ufeff")


# ---- the catalogue of bad options: (options, fragment) ---------------------------------------------
BAD_OPTIONS = [
    ({"profile": "fast"}, "--xb-profile must be one of smoke, quick, full; got 'fast'"),
    ({"n": "0"}, "--xb-n must be a positive integer or 'all'; got 0"),
    ({"n": "-5"}, "--xb-n must be a positive integer or 'all'; got -5"),
    ({"n": "ten"}, "--xb-n must be a positive integer or 'all'; got 'ten'"),
    ({"seed": "abc"}, "--xb-seed must be an integer; got 'abc'"),
    ({"explainers": "integrated_gradient"}, "unknown explainer 'integrated_gradient'; did you mean 'integrated_gradients'?"),
    ({"explainers": "random,random"}, "--xb-explainers lists an explainer twice: random,random"),
    ({"metrics": "deletion-auc"}, "unknown metric 'deletion-auc'; did you mean 'deletion_auc'?"),
    ({"dataset": "review-zh"}, "unknown dataset 'review-zh'; did you mean 'reviews-zh'?"),
    ({"dataset": "评论.csv"}, "--xb-dataset '评论.csv': file not found"),
    ({"model": "minilm-review-en"}, "unknown model 'minilm-review-en'; did you mean 'minilm-reviews-en'?"),
    ({"model": "./no-such-model"}, "--xb-model './no-such-model': folder not found"),
    ({"param": ["lime.n_samples=0"]}, "invalid parameter lime.n_samples=0: n_samples must be an int >= 2, got 0"),
    ({"param": ["integrated_gradients.n_steps=-5"]}, "n_steps must be a positive int, got -5"),
    ({"param": ["shap.max_evals=1"]}, "max_evals must be an int >= 3, got 1"),
    ({"param": ["lime.n_sample=100"]}, "explainer 'lime' has no parameter 'n_sample'; did you mean 'n_samples'?"),
    ({"param": ["comprehensiveness.fractions=0,0.5"]},
     "fractions must be a non-empty sequence of floats in (0, 1], got [0, 0.5]"),
    ({"param": ["sufficiency.fractions=1.5"]}, "fractions must be a non-empty sequence of floats in (0, 1], got 1.5"),
    ({"param": ["deletion_auc.fractions=0.5,0.2"]}, "at least two strictly increasing fractions"),
    ({"explainers": "random", "param": ["lime.n_samples=100"]},
     "--xb-param lime.n_samples: explainer 'lime' is not selected in this run"),
    ({"param": ["lmie.n_samples=100"]}, "unknown explainer or metric 'lmie'; did you mean 'lime'?"),
    ({"param": ["lime=100"]}, "--xb-param expects NAME.PARAM=VALUE (e.g. lime.n_samples=200); got 'lime=100'"),
    ({"tolerance": "0.1"}, "--xb-tolerance only applies to a comparison; pass --xb-compare BASELINE as well"),
    ({"tolerance": "-1", "compare": "."}, "--xb-tolerance must be a number >= 0; got -1.0"),
    ({"tolerance": "small", "compare": "."}, "--xb-tolerance must be a number >= 0; got 'small'"),
    ({"compare": "no/such/baseline"}, "--xb-compare 'no/such/baseline': no such results folder or summary.csv"),
    ({"encoding": "gbkk"}, "--xb-encoding 'gbkk' is not a known text encoding"),
    ({"device": "tpu"}, "--xb-device must be cpu, cuda, cuda:N or a comma list of them; got 'tpu'"),
    ({"device": "cpu,cpu"}, "--xb-device lists a device twice: cpu,cpu"),
    ({"dataset": "reviews-en,reviews-en"}, "--xb-dataset lists the same name twice"),
]


@pytest.mark.parametrize("options, fragment", BAD_OPTIONS, ids=[f for _, f in BAD_OPTIONS])
def test_bad_option_is_refused_with_one_sentence(options, fragment):
    with pytest.raises((OptionError, UnknownNameError)) as info:
        resolve(options)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_cuda_without_a_gpu_is_refused():
    with pytest.raises(OptionError, match="--xb-device cuda was requested but no CUDA GPU is available"):
        resolve({"device": "cuda"})


def test_good_parameters_reach_the_run_config():
    cfg = resolve({"explainers": "lime,occlusion", "metrics": "comprehensiveness",
                   "param": ["lime.n_samples=300", "comprehensiveness.fractions=0.1,0.2"]})
    assert cfg.explainers["lime"] == {"n_samples": 300}
    assert cfg.metric_params == {"comprehensiveness": {"fractions": [0.1, 0.2]}}


def test_user_file_is_checked_against_the_models_classes_before_any_model_loads(tmp_path):
    path = _write(tmp_path, "reviews.csv", "text,label\n很好,positive\n很差,坏\n")
    with pytest.raises(DataValidationError, match=r"line 3: label '坏' is not one of the classes \['negative', 'positive'\]"):
        resolve({"dataset": path, "model": "minilm-reviews-en"})


# ---- what a user sees: subprocess runs of `pytest benchmarks/` ----------------------------------
def _run_benchmarks(tmp_path, *args):
    env = {**os.environ, "XAIBENCH_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "pytest", "benchmarks/test_explainer_matrix.py", "-q",
                           "-p", "no:cacheprovider", "--xb-out", str(tmp_path / "out"), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args, fragment", [
    (["--xb-dataset", "{gbk}", "--xb-model", "charbert-reviews-zh"],
     "line 2: bytes b'\\xd6\\xca\\xc1\\xbf' at column 1 cannot be decoded as utf-8 (Chinese exports are often GBK: "
     "pass --xb-encoding gbk"),
    # Under pytest-xdist the controller checks the options before any worker starts.
    (["--xb-param", "lime.n_samples=0", "-n", "2"], "n_samples must be an int >= 2, got 0"),
], ids=["gbk-file", "xdist-lime-n-samples-0"])
def test_user_errors_end_the_run_cleanly(tmp_path, args, fragment):
    gbk = _write(tmp_path, "gbk.csv", GBK_ROW)
    proc = _run_benchmarks(tmp_path, *[a.replace("{gbk}", gbk) for a in args])
    output = proc.stdout + proc.stderr
    assert proc.returncode == 4, output
    assert fragment in output
    assert "Traceback" not in output and "def " not in output and "INTERNALERROR" not in output
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "cache" / "models").exists(), "no model may be built for a user error"


# ---- contained failures ---------------------------------------------------------------------------
METRICS = ["comprehensiveness", "sufficiency", "deletion_auc"]


def _session(model, tmp_path, texts, explainers=("random", "occlusion"), metrics=METRICS, dataset="mine",
             use_cache=False, explainer_params=None):
    examples = [Example(f"e{i}", t, 1) for i, t in enumerate(texts)]
    config = RunConfig(profile="smoke", tasks=[Task(dataset, "tiny")],
                       explainers={e: dict((explainer_params or {}).get(e, {})) for e in explainers},
                       metrics=list(metrics), n=None, seed=0, out=str(tmp_path / "run"), use_cache=use_cache)
    session = BenchmarkSession(config, cache=ResultCache(tmp_path / "cache", read=use_cache))
    session._models[("tiny", "cpu")] = model
    session.model_info["tiny@cpu"] = {"fingerprint": f"tiny-{id(model)}"}
    session._datasets[dataset] = Dataset(name=dataset, examples=examples, label_names=CLASSES)
    session.dataset_info[dataset] = {"n": len(examples)}
    return session


def _run(session):
    for cell in session.cells():
        session.run_cell(cell, progress=False)
    return session


def test_a_metric_that_raises_on_one_example_is_contained(tiny_model, tmp_path, monkeypatch):
    from xaibench.metrics.faithfulness import Comprehensiveness

    original = Comprehensiveness.compute

    def flaky(self, model, attribution, request, outputs):
        if "awful" in attribution.text:
            raise RuntimeError("cannot score an awful text")
        return original(self, model, attribution, request, outputs)

    monkeypatch.setattr(Comprehensiveness, "compute", flaky)
    texts = ["the movie was great", "an awful phone", "nice price", "fast delivery"]
    session = _run(_session(tiny_model, tmp_path, texts))
    rows = pd.DataFrame(session.per_example)
    comp = rows[rows.metric == "comprehensiveness"]
    failed = comp[comp.status == "error"]
    assert sorted(failed.example_id.unique()) == ["e1"] and len(failed) == 2   # one per explainer
    assert failed.note.str.contains("RuntimeError: cannot score an awful text").all()
    assert (rows[rows.metric != "comprehensiveness"].status == "ok").all()      # other metrics untouched
    assert comp[comp.status != "error"].value.notna().all()
    out = Path(write_run(session))
    summary = pd.read_csv(out / "summary.csv")
    counts = summary.set_index(["explainer", "metric"])["n_failed"]
    assert counts[("occlusion", "comprehensiveness")] == 1 and counts[("occlusion", "sufficiency")] == 0
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert "### Failures" in md and "comprehensiveness: 1 example(s) failed, e.g. e1" in md


def test_an_explainer_that_raises_on_one_example_is_contained(tiny_model, tmp_path, monkeypatch):
    from xaibench.explainers.occlusion import Occlusion

    original = Occlusion.explain

    def flaky(self, model, texts, *args, **kwargs):
        if any("awful" in t for t in texts):
            raise ValueError("occlusion broke on purpose")
        return original(self, model, texts, *args, **kwargs)

    monkeypatch.setattr(Occlusion, "explain", flaky)
    session = _run(_session(tiny_model, tmp_path, ["great movie", "an awful phone", "nice price"]))
    rows = pd.read_csv(Path(write_run(session)) / "per_example.csv")
    occ = rows[rows.explainer == "occlusion"]
    assert set(occ[occ.status == "error"].example_id) == {"e1"}
    assert occ[occ.status == "error"].note.str.contains("ValueError: occlusion broke on purpose").all()
    assert (rows[rows.explainer == "random"].status == "ok").all()


# ---- odd but valid texts through the whole harness ------------------------------------------------
ODD_TEXTS = [
    "good " * 150,                                    # far past the tiny model's 64 tokens
    "great 👍🏽 phone 👨‍👩‍👧 ❤️",                           # emoji with modifiers and joiners
    "fast\u200bdelivery\u200d \u2060nice\ufeff",      # zero-width characters
    "مرحبا بك hello שלום 很好",                         # RTL and mixed scripts
    "&lt;b&gt;bad&lt;/b&gt; &amp; &#39;poor&#39;",    # HTML entities (kept as text)
    "x",                                              # one character
    "好",                                              # one CJK character
    "!!!",                                            # punctuation only
]


def test_odd_texts_give_finite_scores_or_an_explained_nan(tiny_model, tmp_path):
    session = _run(_session(tiny_model, tmp_path, ODD_TEXTS, explainers=("occlusion", "lime"),
                            metrics=METRICS + ["loo_correlation"], explainer_params={"lime": {"n_samples": 20}}))
    rows = pd.DataFrame(session.per_example)
    assert (rows.status != "error").all(), rows[rows.status == "error"].note.tolist()
    nan_rows = rows[~np.isfinite(rows.value.astype(float))]
    assert nan_rows.note.notna().all() and (nan_rows.status == "nan").all()
    assert set(nan_rows.metric) <= {"loo_correlation"}    # a ranking of one unit has no correlation
    for row in session.attribution_rows:
        assert np.all(np.isfinite(row["scores"])) and len(row["scores"]) == len(row["units"]) > 0


def test_truncation_is_recorded_per_example_and_reported(tiny_model, tmp_path):
    texts = ["good " * 150, "a short and fine text"]
    session = _run(_session(tiny_model, tmp_path, texts, explainers=("occlusion",), dataset="long<b>_%.csv"))
    out = Path(write_run(session))
    rows = pd.read_csv(out / "per_example.csv")
    dropped = rows.groupby("example_id")["n_units_truncated"].unique()
    assert list(dropped["e1"]) == [0]
    n = int(dropped["e0"][0])
    assert n == 150 - (tiny_model.max_length - 2)         # [CLS] + 62 words + [SEP] fit
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert f"1 example(s) truncated to the model's max length, {n} unit(s) never seen" in md
    assert "long\\<b\\>\\_%.csv" in md
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "long&lt;b&gt;_%.csv · tiny: 1 example(s) truncated" in html


# ---- GPU out of memory: retry with a smaller batch ---------------------------------------------------
class _OutOfMemoryAbove(torch.nn.Module):
    """Wraps a model; raises CUDA's out-of-memory error for batches of more than ``limit`` tokens."""

    def __init__(self, inner, limit):
        super().__init__()
        self.inner, self.limit, self.calls = inner, limit, []

    def forward(self, input_ids, attention_mask, **kwargs):
        self.calls.append(input_ids.numel())
        if input_ids.numel() > self.limit:
            raise torch.cuda.OutOfMemoryError(f"CUDA out of memory (simulated, {input_ids.numel()} tokens)")
        return self.inner(input_ids=input_ids, attention_mask=attention_mask, **kwargs)


def test_out_of_memory_halves_the_token_budget_and_retries():
    from xaibench.metrics.evaluation import forward_inputs
    from xaibench.testing import tiny_classifier

    model = tiny_classifier(num_labels=2, seed=0)
    vocab = "the movie was good bad great awful phone works nice poor fine".split()
    texts = [" ".join(vocab[(i + j) % len(vocab)] for j in range(3 + i % 9)) for i in range(40)]
    expected = model.logits(texts)
    model.n_forward = 0
    budget = model.token_budget
    model.hf_model = _OutOfMemoryAbove(model.hf_model, limit=300)
    with pytest.warns(RuntimeWarning, match=f"out of memory .* token budget of {budget}; retrying with"):
        got = model.logits(texts)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert model.token_budget <= 300 and model.n_oom_retries >= 1
    assert model.n_forward == len(set(texts))             # each distinct text counted once
    first, *retries = model.hf_model.calls
    assert first > 300 and retries and all(c <= 300 for c in retries)   # one failure, then smaller batches
    # The metric engine's path (token-id inputs) shares the retry.
    model.token_budget = budget
    ids = [tuple(x) for x in model.token_ids(texts)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        np.testing.assert_allclose(forward_inputs(model, ids), expected, rtol=1e-5, atol=1e-6)


def test_out_of_memory_on_a_single_text_is_reported():
    from xaibench.testing import tiny_classifier

    model = tiny_classifier(num_labels=2, seed=0)
    model.hf_model = _OutOfMemoryAbove(model.hf_model, limit=3)
    with pytest.raises(torch.cuda.OutOfMemoryError, match="out of memory on cpu with a single text of 6 tokens"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            model.logits(["good bad movie nice", "bad"])


# ---- determinism ----------------------------------------------------------------------------------
DETERMINISM_PARAMS = {"lime": {"n_samples": 30}, "shap": {"max_evals": 20}, "integrated_gradients": {"n_steps": 4}}


def test_same_configuration_gives_identical_values(tiny_model, tmp_path):
    texts = ["the movie was great", "bad phone , never again", "质量很好", "i love this product"]
    explainers = ("random", "lime", "shap", "occlusion")
    first = _run(_session(tiny_model, tmp_path / "a", texts, explainers, explainer_params=DETERMINISM_PARAMS))
    second = _run(_session(tiny_model, tmp_path / "b", texts, explainers, explainer_params=DETERMINISM_PARAMS))
    pd.testing.assert_frame_equal(pd.DataFrame(first.per_example), pd.DataFrame(second.per_example),
                                  check_exact=True)


def test_adding_an_example_does_not_change_the_others(tiny_model, tmp_path):
    """Seeds are per (explainer, example): a new example leaves every other value as it was."""
    texts = ["the movie was great", "bad phone , never again", "质量很好", "i love this product"]
    extra = texts[:2] + ["an awful , slow delivery of a broken book"] + texts[2:]
    explainers = ("random", "lime", "shap")
    small = pd.DataFrame(_run(_session(tiny_model, tmp_path / "a", texts, explainers,
                                       explainer_params=DETERMINISM_PARAMS)).per_example)
    large = pd.DataFrame(_run(_session(tiny_model, tmp_path / "b", extra, explainers,
                                       explainer_params=DETERMINISM_PARAMS)).per_example)
    text_of = {f"e{i}": t for i, t in enumerate(texts)}
    id_in_large = {t: f"e{i}" for i, t in enumerate(extra)}
    small["example_id"] = small.example_id.map(lambda e: id_in_large[text_of[e]])
    key = ["explainer", "metric", "example_id"]
    merged = small.merge(large, on=key, suffixes=("_small", "_large"))
    assert len(merged) == len(small)
    # Same samples, same rankings; only the float rounding of differently padded batches may differ
    # (another seed would move these values by orders of magnitude more).
    np.testing.assert_allclose(merged.value_small, merged.value_large, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", ["random", "lime", "shap"])
def test_a_stochastic_explainer_samples_each_example_alone(tiny_model, name):
    import xaibench as xb

    texts = ["the movie was great", "bad phone , never again", "质量很好"]
    explainer = xb.get_explainer(name, **DETERMINISM_PARAMS.get(name, {}))
    alone = [explainer.explain(tiny_model, [t])[0].scores for t in texts]
    together = [a.scores for a in explainer.explain(tiny_model, ["an awful slow delivery", *texts])[1:]]
    for a, b in zip(alone, together):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    if name != "shap":  # shap's partition tree on a short text needs no random tie-breaking
        other = xb.get_explainer(name, seed=1, **DETERMINISM_PARAMS.get(name, {})).explain(tiny_model, texts[:1])[0]
        assert not np.allclose(other.scores, alone[0], rtol=1e-6, atol=1e-9)


def test_seeds_are_per_explainer_and_example():
    import xaibench as xb

    lime, shap = xb.get_explainer("lime", seed=3), xb.get_explainer("shap", seed=3)
    assert lime.example_seed("good") == xb.get_explainer("lime", seed=3).example_seed("good")
    assert lime.example_seed("good") != lime.example_seed("bad")
    assert lime.example_seed("good") != shap.example_seed("good")
    assert lime.example_seed("good") != xb.get_explainer("lime", seed=4).example_seed("good")


def test_pytest_xdist_is_in_the_test_extra():
    import tomllib

    extra = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    assert any(req.replace(" ", "").startswith("pytest-xdist") for req in extra["test"])


# ---- cache integrity --------------------------------------------------------------------------------
def test_a_corrupted_cache_entry_is_detected_and_recomputed(tiny_model, tmp_path):
    texts = ["the movie was great", "bad phone"]
    first = _run(_session(tiny_model, tmp_path, texts, explainers=("occlusion",), use_cache=True))
    for entry in (tmp_path / "cache").rglob("*.json"):   # flip one value, keep valid JSON
        data = json.loads(entry.read_text(encoding="utf-8"))
        if "attributions" in data["payload"]:
            data["payload"]["attributions"][0]["scores"][0] += 1.0
            entry.write_text(json.dumps(data), encoding="utf-8")
    second = _run(_session(tiny_model, tmp_path, texts, explainers=("occlusion",), use_cache=True))
    assert second.cache.corrupt == 1
    pd.testing.assert_frame_equal(pd.DataFrame(first.per_example), pd.DataFrame(second.per_example))


# ---- security -----------------------------------------------------------------------------------------
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


def test_remote_code_runs_only_when_asked(monkeypatch, tmp_path):
    import transformers

    from xaibench.modeling.loading import load_model, model_labels

    seen = []

    def record(name):
        def fake(*args, **kwargs):
            seen.append((name, kwargs.get("trust_remote_code")))
            raise OSError("offline")
        return fake

    for cls in ("AutoTokenizer", "AutoModelForSequenceClassification", "AutoConfig"):
        monkeypatch.setattr(getattr(transformers, cls), "from_pretrained", record(cls))
    with pytest.raises(OSError):
        load_model("someone/custom-model")
    assert model_labels("someone/custom-model") is None
    assert seen and all(flag is False for _, flag in seen)
    seen.clear()
    with pytest.raises(OSError):
        load_model("someone/custom-model", trust_remote_code=True)
    assert seen and all(flag is True for _, flag in seen)
    assert resolve({}).trust_remote_code is False
    assert resolve({"trust_remote_code": True}).trust_remote_code is True


def test_user_text_is_escaped_in_every_report(tiny_model, tmp_path, monkeypatch):
    from xaibench.explainers.occlusion import Occlusion

    original = Occlusion.explain
    evil = "<script>alert('x')</script> | 100% & fun_stuff"

    def flaky(self, model, texts, *args, **kwargs):
        if any("broken" in t for t in texts):
            raise RuntimeError(f"cannot explain {evil}")
        return original(self, model, texts, *args, **kwargs)

    monkeypatch.setattr(Occlusion, "explain", flaky)
    name = "rev<script>_|&%.csv"
    session = _run(_session(tiny_model, tmp_path, [evil, "a broken phone"], dataset=name))
    out = Path(write_run(session))
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert "&lt;script&gt;" in html or "&lt;" in html
    assert "rev&lt;script&gt;_|&amp;%.csv" in html
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert "<script>" not in md
    assert "rev\\<script\\>\\_\\|&%.csv" in md                                  # heading
    assert "cannot explain \\<script\\>alert('x')\\</script\\> \\| 100% & fun\\_stuff" in md  # failure line
    tex = (out / "summary.tex").read_text(encoding="utf-8")
    caption = next(line for line in tex.splitlines() if "\\caption" in line)
    assert "rev\\textless{}script\\textgreater{}\\_\\textbar{}\\&\\%.csv" in caption


def test_rerun_into_the_same_out_folder_replaces_the_run_but_keeps_the_scaling_sweep(tmp_path):
    from xaibench.report.writer import _publish

    final, staging = tmp_path / "out", tmp_path / "staging"
    (final / "scaling").mkdir(parents=True)
    (final / "summary.csv").write_text("old run")
    (final / "stale.csv").write_text("only the old run wrote this")
    (final / "scaling" / "scaling.csv").write_text("sweep")
    staging.mkdir()
    (staging / "summary.csv").write_text("new run")
    _publish(staging, final)
    assert (final / "summary.csv").read_text() == "new run"
    assert not (final / "stale.csv").exists()
    assert (final / "scaling" / "scaling.csv").read_text() == "sweep"
    assert not staging.exists() and [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_scaling_sweep_in_the_out_folder_goes_into_the_report(tmp_path):
    import pandas as pd

    from xaibench.report.writer import _scaling_sweep

    assert _scaling_sweep(tmp_path / "scaling") == ([], [])
    folder = tmp_path / "scaling"
    folder.mkdir()
    (folder / "scaling.png").write_bytes(b"\x89PNG")
    pd.DataFrame([{"model": "m", "explainer": "lime", "exponent": 0.987, "lengths": 6},
                  {"model": "m", "explainer": "occlusion", "exponent": 2.08, "lengths": 6}]).to_csv(
        folder / "scaling_exponents.csv", index=False)
    pictures, tables = _scaling_sweep(folder)
    assert pictures == [folder / "scaling.png"]
    (title, table), = tables
    assert "tokens" in title and table.loc["lime", "m"] == 0.99 and table.loc["occlusion", "m"] == 2.08
