"""Registries: names come from the components, facts are readable, discovery finds modules and entry
points, and parameters are read from constructor signatures."""
import sys
import textwrap
from importlib.metadata import EntryPoint

import pytest

from xaibench.core.component import Component, default_selection
from xaibench.core.registry import Registry, UnknownNameError


class _Widget(Component):
    name = "widget"
    order = 5
    colour = "blue"

    def __init__(self, size: int = 3, label: str = "w") -> None:
        self.size = size
        self.label = label


class _Gadget(Component):
    name = "gadget"
    order = 1
    in_default_runs = False


class _Late(Component):
    name = "late"  # no order: after every component that declares one


def test_a_class_registers_under_its_declared_name_and_its_facts_are_readable():
    reg = Registry("widget")
    assert reg.register(_Widget) is _Widget
    assert reg.names() == ["widget"] and reg.spec("widget").colour == "blue"
    assert reg.create("widget", size=7).params() == {"size": 7, "label": "w"}


def test_function_components_give_their_name_and_facts_to_register():
    reg = Registry("dataset")

    @reg.register("reviews", default_model="m", profiles=("quick",))
    def load():
        return "rows"

    assert reg.create("reviews") == "rows"
    spec = reg.spec("reviews")
    assert (spec.name, spec.default_model, spec.profiles) == ("reviews", "m", ("quick",))


def test_registration_errors_are_clear():
    reg = Registry("explainer")
    reg.register(_Widget)
    with pytest.raises(ValueError, match="must declare a non-empty `name`"):
        reg.register(type("Nameless", (Component,), {}))
    other = type("_Widget", (Component,), {"name": "widget", "__module__": "elsewhere"})
    with pytest.raises(ValueError, match="'widget' is already registered"):
        reg.register(other)
    with pytest.raises(UnknownNameError, match="unknown explainer 'widgit'; did you mean 'widget'"):
        reg.factory("widgit")


def test_default_selection_follows_declared_order_and_flags():
    reg = Registry("thing")
    for cls in (_Late, _Widget, _Gadget):
        reg.register(cls)
    assert default_selection(reg) == ["widget", "late"]  # gadget is not in default runs


def test_params_come_from_the_signature_and_a_missing_attribute_is_an_error():
    class Forgetful(Component):
        name = "forgetful"

        def __init__(self, alpha: float = 0.5, beta: int = 2) -> None:
            self.alpha = alpha  # beta is not stored

    assert Forgetful.param_names() == ["alpha", "beta"]
    with pytest.raises(AttributeError, match="missing: beta"):
        Forgetful().params()
    assert repr(_Widget(size=2)) == "_Widget(size=2, label='w')"


def test_discovery_imports_every_public_module_of_a_package(tmp_path, monkeypatch):
    package = tmp_path / "xb_discovery_demo"
    package.mkdir()
    (package / "_private.py").write_text("raise RuntimeError('private modules are not imported')\n")
    (package / "first.py").write_text(textwrap.dedent("""
        from xaibench.core.component import Component
        from xb_discovery_demo import REGISTRY

        @REGISTRY.register
        class First(Component):
            name = "first"
    """))
    (package / "__init__.py").write_text("from xaibench.core.registry import Registry\n"
                                         "REGISTRY = Registry('demo', ('xb_discovery_demo',))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "xb_discovery_demo", raising=False)
    import xb_discovery_demo

    assert xb_discovery_demo.REGISTRY.names() == ["first"]


def test_entry_points_register_classes_and_a_broken_one_only_warns(monkeypatch):
    reg = Registry("explainer", entry_point_group="xaibench.test_group")
    points = [EntryPoint("widget", f"{__name__}:_Widget", "xaibench.test_group"),
              EntryPoint("broken", "no_such_module_xb:Thing", "xaibench.test_group")]
    monkeypatch.setattr("importlib.metadata.entry_points",
                        lambda group=None: [p for p in points if p.group == group])
    with pytest.warns(RuntimeWarning, match="'broken'.*failed to load"):
        assert reg.names() == ["widget"]
    assert reg.factory("widget") is _Widget


def test_builtin_components_declare_their_facts():
    import xaibench as xb
    from xaibench.core import registry

    for name in xb.list_explainers():
        spec = registry.explainers.spec(name)
        assert spec.name == name and spec.family in ("control", "attention", "gradient", "perturbation",
                                                     "natural_language", "external")
    for name in xb.list_metrics():
        spec = registry.metrics.spec(name)
        assert spec.name == name and isinstance(spec.higher_is_better, bool)
        assert spec.family in ("faithfulness", "ground_truth", "plausibility", "natural_language", "stability",
                               "sanity", "diagnostic", "complexity", "cost")
    sentence = [n for n in xb.list_explainers() if registry.explainers.spec(n).family == "natural_language"]
    assert sentence == ["nl_callable", "nl_endpoint", "nl_generator", "nl_template"]
    about_sentences = [n for n in xb.list_metrics() if registry.metrics.spec(n).explainer_family == "natural_language"]
    assert about_sentences == ["citation_precision", "cited_comprehensiveness", "cited_sufficiency",
                               "counterfactual_mention", "label_agreement"]
    assert all(registry.metrics.spec(n).family == "natural_language" for n in about_sentences)
    gradient = [n for n in xb.list_explainers() if registry.explainers.spec(n).gradient_based]
    assert gradient == ["deeplift", "grad_x_input", "gradient_shap", "integrated_gradients", "saliency", "smoothgrad"]
    noisy = [n for n in xb.list_metrics() if registry.metrics.spec(n).noisy]
    assert noisy == ["peak_memory_mb", "runtime_seconds"]
