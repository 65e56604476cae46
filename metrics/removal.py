"""The perturbation builder the removal-based metrics share: unit orderings, k = ceil(q·n), and
"x without these units" / "x with only these units" in either removal mode.

Modes (docs/api.md, "Definitions"):
- ``delete`` (default): cut the units' character spans out of the text, collapse whitespace runs to
  one space, strip (``xaibench.core.units.remove_units`` / ``keep_units``). The perturbed input is
  the token ids of that text, built by dropping the removed units' tokens where that equals
  tokenizing the edited text (``xaibench.modeling.edits``), else the edited text itself.
- ``mask``: tokenize the original text once (with special tokens, truncated like every model input)
  and replace the ids of every sub-token that belongs to a removed unit with the tokenizer's mask
  token (its pad token if it has no mask token). The perturbed input is that token-id tuple. We edit
  ids rather than substitute the mask string into the text because re-tokenizing text can merge,
  split or re-number sub-tokens around the edit; editing ids is exact by construction: same length,
  same positions, exactly the removed units' sub-tokens replaced. Tokens that belong to no unit
  (special tokens) are never masked.
"""
from __future__ import annotations

import math
import weakref
from collections import OrderedDict
from typing import Sequence

import numpy as np

from xaibench.core.records import Unit
from xaibench.core.units import keep_units, remove_units
from xaibench.metrics.base import ModelInput

MODES = ("delete", "mask")
#: ERASER's AOPC bins (DeYoung et al. 2020): 1%, 5%, 10%, 20%, 50% of the units.
AOPC_FRACTIONS = (0.01, 0.05, 0.1, 0.2, 0.5)
#: The deletion / insertion curve grid q = 0, 0.1, ..., 1.0 (decimal literals, not linspace).
CURVE_FRACTIONS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
#: ceil(q·n) tolerance: fractions built with ``np.linspace(0, 1, 11)`` or ``np.arange(0, 1.01, 0.1)``
#: hold 0.30000000000000004, and 0.30000000000000004 * 10 == 3.0000000000000004 (likewise 0.6, 0.7,
#: or 0.1 accumulated three times); a plain ceil would take one unit too many.
CEIL_TOLERANCE = 1e-9


def top_k_count(fraction: float, n_units: int) -> int:
    """k = ceil(q·n) with a tolerant ceil (``ceil(q·n - 1e-9)``), clipped to ``[0, n]``."""
    return int(min(max(math.ceil(fraction * n_units - CEIL_TOLERANCE), 0), n_units))


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return mode


def check_fractions(fractions: Sequence[float], name: str = "fractions", curve: bool = False) -> tuple[float, ...]:
    """Validate fractions: in (0, 1] for AOPC (removing q = 0 of the units removes nothing, so it
    would only dilute the mean), in [0, 1] for a curve, which needs >= 2 strictly increasing points
    for a trapezoidal area (q = 0 is its start: x itself, or the empty text for insertion)."""
    interval = "[0, 1]" if curve else "(0, 1]"
    given = fractions
    if isinstance(fractions, (int, float, np.number)) and not isinstance(fractions, bool):
        fractions = (fractions,)  # one fraction given as a bare number
    try:
        out = tuple(float(q) for q in fractions)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a sequence of floats in {interval}, got {given!r}") from None
    if not out or any(not ((0.0 <= q) if curve else (0.0 < q)) or not q <= 1.0 for q in out):
        raise ValueError(f"{name} must be a non-empty sequence of floats in {interval}, got {given!r}")
    if curve and (len(out) < 2 or any(b <= a for a, b in zip(out, out[1:]))):
        raise ValueError(f"{name} must be at least two strictly increasing fractions for an area, got {fractions!r}")
    return out


def check_n_random(n_random: int) -> int:
    if isinstance(n_random, bool) or not isinstance(n_random, (int, np.integer)) or n_random < 0:
        raise ValueError(f"n_random must be an integer >= 0, got {n_random!r}")
    return int(n_random)


def checked_units(model, attribution) -> list[Unit]:
    """``model.units(text)``, after checking that the attribution's scores refer to them."""
    units = model.units(attribution.text)
    if len(units) != len(attribution.scores) or list(attribution.units) != [u.text for u in units]:
        raise ValueError(
            f"attribution of {attribution.text!r} has units {list(attribution.units)} but the model splits the "
            f"text into {[u.text for u in units]}; build attributions with model.units (attribution_from_scores)"
        )
    return units


def unit_orderings(attribution, n_random: int, seed: int) -> list[np.ndarray]:
    """The attribution's ranking (score descending, ties by position), then ``n_random`` random
    permutations of the units (``random_orderings``)."""
    orders = [np.asarray(attribution.ranking(), dtype=int)]
    return orders + random_orderings(attribution.text, len(attribution.scores), n_random, seed)


def random_orderings(text: str, n_units: int, n_random: int, seed: int) -> list[np.ndarray]:
    """``n_random`` random permutations of ``n_units`` units. Their seed derives from (seed, text)
    only, so adding or reordering examples changes nothing, every metric with the same seed reuses
    the same perturbations, and they are the same for every explainer (which is what lets the
    session compute them once per example: ``Metric.shared_inputs``)."""
    from xaibench.core.seeding import stable_hash

    if not n_random:
        return []
    rng = np.random.default_rng(stable_hash("random-ordering", seed, text))
    return [rng.permutation(n_units) for _ in range(n_random)]


#: Perturbers kept per model (least recently used dropped first): the metrics of one engine chunk
#: ask for the same edits of the same texts (comprehensiveness and deletion_auc both remove the top
#: units, every metric with the same seed uses the same random orderings), so they build each
#: perturbed text once. Bounded, and keyed weakly by model, so memory stays flat.
PERTURBER_CACHE_SIZE = 512
_perturbers: "weakref.WeakKeyDictionary[object, OrderedDict]" = weakref.WeakKeyDictionary()


def perturber_for(model, text: str, units: Sequence[Unit], mode: str = "delete") -> "Perturber":
    """A (shared, cached) ``Perturber`` of ``text`` for ``model``."""
    try:
        cache = _perturbers.setdefault(model, OrderedDict())
    except TypeError:  # a model that cannot be weakly referenced: no sharing
        return Perturber(model, text, units, mode)
    key = (text, mode)
    hit = cache.get(key)
    if hit is None:
        hit = cache[key] = Perturber(model, text, units, mode)
        if len(cache) > PERTURBER_CACHE_SIZE:
            cache.popitem(last=False)
    else:
        cache.move_to_end(key)
    return hit


def clear_perturber_cache() -> None:
    """Forget every cached perturbation (benchmarks time cold runs with it)."""
    _perturbers.clear()


class Perturber:
    """Builds the perturbed model inputs of one text (see the module docstring for the modes)."""

    def __init__(self, model, text: str, units: Sequence[Unit], mode: str = "delete") -> None:
        self.text = text
        self.units = list(units)
        self.mode = check_mode(mode)
        self._cache: dict[tuple[bool, frozenset], ModelInput] = {}
        # Delete mode: token ids where they equal the re-tokenized edited text (modeling.edits).
        self._edits = model.edits(text) if self.mode == "delete" and hasattr(model, "edits") else None
        if self.mode == "mask":
            ids, maps = model.encode([text])
            self._ids = np.asarray(ids[0], dtype=np.int64)
            self._token_unit = np.asarray(maps[0], dtype=np.int64)
            mask_id = model.tokenizer.mask_token_id
            self._mask_id = int(model.pad_token_id if mask_id is None else mask_id)

    def original(self) -> ModelInput:
        """x itself (the text, or its token ids in mask mode)."""
        if self.mode == "delete":
            return self.text
        return tuple(int(t) for t in self._ids)

    def without(self, units: Sequence[int]) -> ModelInput:
        """x with ``units`` removed."""
        return self._build(frozenset(int(i) for i in units), keep=False)

    def only(self, units: Sequence[int]) -> ModelInput:
        """Only ``units`` of x, in their original order; every other unit removed."""
        return self._build(frozenset(int(i) for i in units), keep=True)

    def _build(self, chosen: frozenset, keep: bool) -> ModelInput:
        key = (keep, chosen)
        hit = self._cache.get(key)
        if hit is None:
            if self.mode == "delete" and self._edits is not None:
                hit = self._edits.only(chosen) if keep else self._edits.without(chosen)
            elif self.mode == "delete":
                edit = keep_units if keep else remove_units
                hit = edit(self.text, self.units, chosen)
            else:
                in_set = np.isin(self._token_unit, np.fromiter(chosen, dtype=np.int64, count=len(chosen)))
                masked = (self._token_unit >= 0) & (~in_set if keep else in_set)
                hit = tuple(int(t) for t in np.where(masked, self._mask_id, self._ids))
            self._cache[key] = hit
        return hit
