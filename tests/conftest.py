import pytest


@pytest.fixture(scope="session")
def tiny_model():
    """A tiny randomly initialised 2-class BERT (fast; for shape and plumbing tests only)."""
    from xaibench.testing import tiny_classifier

    return tiny_classifier(num_labels=2, seed=0)
