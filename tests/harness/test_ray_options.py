"""``--xb-ray`` options, checked before any work and without Ray itself: the missing extra is one
sentence, and an address that is not one is refused."""
import sys

import pytest

from xaibench.core.errors import OptionError
from xaibench.harness.ray_backend import RAY_MISSING, check_ray


def test_the_missing_extra_is_one_sentence(monkeypatch):
    from xaibench.harness.config import resolve

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    with pytest.raises(OptionError) as info:
        resolve({"ray": "local", "dataset": "reviews-en"})
    assert str(info.value) == RAY_MISSING
    assert "\n" not in RAY_MISSING and RAY_MISSING.count(". ") == 0 and 'pip install -e ".[ray]"' in RAY_MISSING


def test_ray_addresses_are_checked(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", object())  # installed, as far as the check knows
    assert check_ray(None) is None and check_ray(True) == "local"
    assert check_ray("auto") == "auto" and check_ray("10.0.0.5:6379") == "10.0.0.5:6379"
    assert check_ray("ray://head:10001") == "ray://head:10001"
    with pytest.raises(OptionError, match="looks like a path"):
        check_ray(str(tmp_path))
    with pytest.raises(OptionError, match="must be 'local', 'auto', HOST:PORT"):
        check_ray("headnode")
