"""``--xb-model-seeds K`` / ``model_seeds = K``: validation, task expansion and the run record (no
model is loaded: ``resolve`` only reads names and recipes)."""
from __future__ import annotations

import pytest

from xaibench.core.errors import OptionError
from xaibench.harness import plugin
from xaibench.harness.config import RunConfig, Task, expand_model_seeds, resolve
from xaibench.harness.session import Cell
from xaibench.report.provenance import model_seeds as provenance_seeds


def test_the_option_is_a_pytest_flag():
    assert ("--xb-model-seeds", "model_seeds") in [(flag, dest) for flag, dest, _ in plugin._OPTIONS]


@pytest.mark.parametrize("value", ["0", "-2", "1.5", "three", 0, 2.5, True, ""])
def test_bad_seed_counts_are_one_sentence(value):
    if value == "":
        assert resolve({"model_seeds": value}).model_seeds == 1  # an empty command-line value is "not given"
        return
    with pytest.raises(OptionError, match=r"^--xb-model-seeds must be an integer >= 1 .*; got ") as info:
        resolve({"model_seeds": value})
    assert "\n" not in str(info.value)


def test_default_is_one_seed_and_tasks_stay_as_they_were():
    config = resolve({"dataset": "reviews-en,reviews-zh"})
    assert config.model_seeds == 1
    assert config.tasks == [Task("reviews-en", "minilm-reviews-en"), Task("reviews-zh", "charbert-reviews-zh")]
    assert [t.model_seed for t in config.tasks] == [0, 0]
    assert RunConfig().model_seeds == 1


def test_three_seeds_give_three_tasks_per_dataset_next_to_each_other():
    config = resolve({"dataset": "reviews-en,reviews-zh", "model_seeds": "3"})
    assert config.model_seeds == 3
    assert [(t.dataset, t.model, t.model_seed, t.base_model) for t in config.tasks] == [
        ("reviews-en", "minilm-reviews-en", 0, "minilm-reviews-en"),
        ("reviews-en", "minilm-reviews-en-seed1", 1, "minilm-reviews-en"),
        ("reviews-en", "minilm-reviews-en-seed2", 2, "minilm-reviews-en"),
        ("reviews-zh", "charbert-reviews-zh", 0, "charbert-reviews-zh"),
        ("reviews-zh", "charbert-reviews-zh-seed1", 1, "charbert-reviews-zh"),
        ("reviews-zh", "charbert-reviews-zh-seed2", 2, "charbert-reviews-zh"),
    ]
    assert config.to_dict()["tasks"][1] == {"dataset": "reviews-en", "model": "minilm-reviews-en-seed1",
                                             "model_seed": 1}
    cell = Cell(config.tasks[2], "lime")
    assert cell.id == "reviews-en-minilm-reviews-en-seed2-lime"
    assert cell.columns["base_model"] == "minilm-reviews-en" and cell.columns["model_seed"] == 2
    assert provenance_seeds(config.to_dict()) == {"k": 3, "models": {
        "minilm-reviews-en": ["minilm-reviews-en", "minilm-reviews-en-seed1", "minilm-reviews-en-seed2"],
        "charbert-reviews-zh": ["charbert-reviews-zh", "charbert-reviews-zh-seed1", "charbert-reviews-zh-seed2"]}}


def test_named_built_in_model_and_pyproject_setting():
    config = resolve({"dataset": "reviews-en", "model": "minilm-reviews-en"}, {"model_seeds": 2})
    assert [t.model for t in config.tasks] == ["minilm-reviews-en", "minilm-reviews-en-seed1"]
    # The command line wins over [tool.xaibench].
    assert resolve({"dataset": "reviews-en", "model_seeds": "1"}, {"model_seeds": 4}).model_seeds == 1


def test_a_seed_model_can_be_named_on_its_own():
    config = resolve({"dataset": "reviews-en", "model": "minilm-reviews-en-seed3"})
    assert config.tasks == [Task("reviews-en", "minilm-reviews-en-seed3", 3)]
    assert config.tasks[0].base_model == "minilm-reviews-en"


@pytest.mark.parametrize("model, fragment", [
    ("owner/some-model", "model seeds only apply to built-in models"),
    ("minilm-reviews-en-seed1", "is already seed 1 of 'minilm-reviews-en'"),
])
def test_more_seeds_than_one_need_a_built_in_base_model(model, fragment):
    with pytest.raises(OptionError, match=fragment):
        resolve({"dataset": "reviews-en", "model": model, "model_seeds": 2})
    assert resolve({"dataset": "reviews-en", "model": model}).model_seeds == 1  # one seed: any model


def test_expansion_keeps_non_seed_tasks_at_one_seed():
    tasks = [Task("mine.csv", "owner/model")]
    assert expand_model_seeds(tasks, 1) == [Task("mine.csv", "owner/model", 0)]
