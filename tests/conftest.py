import pytest

#: The faithfulness metrics a ``run_tiny_session`` scores by default.
SESSION_METRICS = ("comprehensiveness", "sufficiency", "deletion_auc")


@pytest.fixture(scope="module")
def one_torch_thread():
    """torch runs on one thread for the rest of the module, restored after it (also when a fixture
    that uses this one fails): tiny matrices gain nothing from more threads, and on shared CI
    cores extra threads stall on each other."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_model():
    """A tiny randomly initialised 2-class BERT (fast; for shape and plumbing tests only).

    Shared by every test of the process: read it, never change it. A test that needs another
    token budget, max length, patched method or counters from zero builds its own with
    ``xaibench.testing.tiny_classifier(num_labels=2, seed=0)`` (the same weights)."""
    from xaibench.testing import tiny_classifier

    return tiny_classifier(num_labels=2, seed=0)


@pytest.fixture
def run_tiny_session():
    """``run(model, folder, texts, ...)``: a smoke-profile ``BenchmarkSession`` of ``model`` (task
    model name "tiny") on a user data set ``dataset`` made of ``texts`` (ids e0, e1, ...; label
    "positive"), every cell run, results cached under ``folder / "cache"``, the run folder at
    ``folder / "run"``. Returns the finished session (``write_run(session.record)`` writes the folder)."""
    from xaibench.core.records import Example
    from xaibench.datasets.base import Dataset
    from xaibench.harness.cache import ResultCache
    from xaibench.harness.config import RunConfig, Task
    from xaibench.harness.session import BenchmarkSession

    def run(model, folder, texts, explainers=("random", "occlusion"), metrics=SESSION_METRICS, dataset="mine",
            use_cache=False, explainer_params=None):
        examples = [Example(f"e{i}", t, 1) for i, t in enumerate(texts)]
        config = RunConfig(profile="smoke", tasks=[Task(dataset, "tiny")],
                           explainers={e: dict((explainer_params or {}).get(e, {})) for e in explainers},
                           metrics=list(metrics), n=None, seed=0, out=str(folder / "run"), use_cache=use_cache)
        session = BenchmarkSession(config, cache=ResultCache(folder / "cache", read=use_cache))
        session.use_model("tiny", model)
        session.use_dataset(dataset, Dataset(name=dataset, examples=examples, label_names=["negative", "positive"]))
        for cell in session.cells():
            session.run_cell(cell, progress=False)
        return session

    return run
