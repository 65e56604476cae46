"""Run options (``--xb-*``, the ``resolve`` step) are checked before anything runs: a bad option
is refused with one sentence (no traceback), good ones reach the ``RunConfig``, a user data file is
checked against the chosen model's classes before any model loads, and remote code runs only
when asked."""
import pytest
import torch

from xaibench.core.errors import DataValidationError, OptionError
from xaibench.core.registry import UnknownNameError
from xaibench.harness.config import resolve

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
    path = tmp_path / "reviews.csv"
    path.write_text("text,label\n很好,positive\n很差,坏\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match=r"line 3: label '坏' is not one of the classes \['negative', 'positive'\]"):
        resolve({"dataset": str(path), "model": "minilm-reviews-en"})


def test_remote_code_runs_only_when_asked(monkeypatch):
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
