"""Profiles select components by what they declare, so a new component joins the default runs
without an edit to the run configuration."""
import pytest

from xaibench.core import registry
from xaibench.core.errors import OptionError
from xaibench.harness.config import profile_datasets, profile_explainers, profile_metrics, resolve
from xaibench.metrics import Metric, MetricResult


def test_default_runs_read_the_declared_facts():
    assert profile_explainers() == ["random", "attention", "attention_rollout", "saliency", "grad_x_input",
                                    "integrated_gradients", "lime", "shap", "occlusion"]
    stability_and_sanity = ["perturbation_stability", "topk_intersection", "seed_stability", "max_sensitivity",
                            "randomization_sanity"]
    faithfulness = ["comprehensiveness", "sufficiency", "deletion_auc", "insertion_auc", "auc_tp",
                    "faithfulness_correlation", "infidelity", "loo_correlation"]
    assert profile_metrics("smoke") == [*faithfulness, *stability_and_sanity, "sparseness", "complexity",
                                        "runtime_seconds", "forward_passes", "backward_passes", "peak_memory_mb"]
    quick = profile_metrics("quick")
    variants = ["comprehensiveness_mask", "sufficiency_mask", "deletion_auc_mask", "insertion_auc_mask",
                "soft_comprehensiveness", "soft_sufficiency"]
    # quick and full re-ask the faithfulness metrics under the removal variants they declare; smoke does not
    assert quick[8:14] == variants and profile_metrics("full")[8:14] == variants
    assert not set(variants) & set(profile_metrics("smoke"))
    assert quick[14:22] == ["ground_truth_top1", "ground_truth_rank", "contrast_hit@3", "plausibility_auprc",
                            "plausibility_token_f1", "plausibility_iou", "plausibility_iou_f1",
                            "lexicon_agreement_auprc"]
    # The metrics that re-explain every text again, and the diagnostic family, join quick and full only.
    assert {"random_logit", "confidence_indication", "dataset_consistency"} <= set(quick)
    assert not {"random_logit", "confidence_indication", "dataset_consistency"} & set(profile_metrics("smoke"))
    assert "rationale_consistency" in profile_metrics("full") and "rationale_consistency" not in quick
    # Every profile has the stability and sanity axis (issue: the table people cite has all three).
    for profile in ("smoke", "quick", "full"):
        assert set(stability_and_sanity) <= set(profile_metrics(profile)), profile
    assert "contrast_hit@1" not in quick
    # Smoke keeps its budget with declared cheaper metric settings; user parameters still win.
    assert resolve({}).metric_params["perturbation_stability"] == {"n_tries": 4, "n_keep": 1}
    assert "perturbation_stability" not in resolve({"profile": "full"}).metric_params
    assert resolve({}, {"metric_params": {"seed_stability": {"n_seeds": 4}}}).metric_params["seed_stability"] == {
        "n_seeds": 4}
    assert profile_datasets("smoke") == ["reviews-en", "reviews-zh"]
    assert len(profile_datasets("full")) == 6
    config = resolve({})
    assert config.explainers["integrated_gradients"] == {"n_steps": 16}  # its declared cheap_params
    assert resolve({"profile": "full"}).explainers["integrated_gradients"] == {}


@pytest.fixture
def scratch_metrics(monkeypatch):
    """The metric registry with room for test metrics, restored afterwards."""
    registry.metrics.names()  # discover the built-ins first
    monkeypatch.setattr(registry.metrics, "_factories", dict(registry.metrics._factories))
    monkeypatch.setattr(registry.metrics, "_specs", dict(registry.metrics._specs))
    return registry.metrics


def test_a_new_metric_joins_the_profiles_of_its_family(scratch_metrics):
    class TextLength(Metric):
        name = "text_length_test"
        family = "faithfulness"
        order = 15  # after loo_correlation, before the ground-truth family

        def evaluate(self, model, attributions):
            return MetricResult(self.name, [len(a.text) for a in attributions], self.higher_is_better, {})

    class Hidden(TextLength):
        name = "hidden_test"
        in_default_runs = False

    class TextLengthVariant(TextLength):
        name = "text_length_variant_test"
        in_default_runs = False
        variant_of = "text_length_test"  # a removal variant of a selected metric: quick/full re-ask it

    scratch_metrics.register(TextLength)
    scratch_metrics.register(Hidden)
    scratch_metrics.register(TextLengthVariant)
    smoke = profile_metrics("smoke")
    assert smoke.index("text_length_test") == smoke.index("loo_correlation") + 1
    assert "hidden_test" not in smoke and "hidden_test" not in profile_metrics("full")
    assert "hidden_test" in resolve({"metrics": "hidden_test"}).metrics  # still selectable by name
    assert "text_length_variant_test" not in smoke and "text_length_variant_test" in profile_metrics("quick")


def test_contrast_hit_parameters_are_validated_from_its_signature():
    config = resolve({"profile": "quick", "param": ["contrast_hit@3.max_candidates=8"]})
    assert config.metric_params["contrast_hit@3"] == {"max_candidates": 8}
    with pytest.raises(OptionError, match="has no parameter 'k'"):
        resolve({"profile": "quick", "param": ["contrast_hit@3.k=5"]})


SENTENCE_METRICS = ["cited_comprehensiveness", "cited_sufficiency", "citation_precision", "label_agreement",
                    "counterfactual_mention"]


def test_sentence_explainers_run_in_quick_and_full_and_bring_their_metrics():
    assert profile_explainers("smoke") == profile_explainers()
    for profile in ("quick", "full"):
        new = ["smoothgrad", "deeplift", "gradient_shap", *(["kernel_shap"] if profile == "full" else [])]
        assert set(profile_explainers(profile)) == set(profile_explainers() + ["nl_template", "nl_generator", *new])
        assert [m for m in profile_metrics(profile) if m in SENTENCE_METRICS] == SENTENCE_METRICS
    assert not set(SENTENCE_METRICS) & set(profile_metrics("smoke"))
    # Naming sentence explainers in a smoke run scores their sentences too, whatever the profile's families.
    config = resolve({"explainers": "nl_template,nl_generator", "dataset": "reviews-en"})
    assert list(config.explainers) == ["nl_template", "nl_generator"]
    assert set(SENTENCE_METRICS) <= set(config.metrics) and "comprehensiveness" in config.metrics
    # ... and a quick run without them does not carry metrics that apply to nothing.
    assert not set(SENTENCE_METRICS) & set(resolve({"profile": "quick", "explainers": "occlusion"}).metrics)
    assert resolve({"profile": "quick", "param": ["nl_template.source=lime"]}).explainers["nl_template"] == {
        "source": "lime"}
