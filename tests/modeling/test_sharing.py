"""Work shared across explainers and metrics (xaibench.modeling.sharing) and the engine's batch planner.

Checked: the planner covers every input once within the budget and beats plain longest-first
packing under its own cost model; shared tables serve identical inputs without running the model,
give the same values as a run without sharing, and charge the reused work to the method's cost;
the canonical (read-only) table is order-independent; gradient calls are reused bit for bit; the two
Integrated Gradients variants come from one path integral and agree with captum's own.
"""
import numpy as np
import pytest
import torch

import xaibench as xb
from xaibench.modeling import engine
from xaibench.modeling.sharing import SharedComputations

TEXTS = ["the product is great and the delivery was fast", "bad quality , never buy again",
         "质量很好，物流也快！", "i love this phone", "the movie was not good", "ok"]


@pytest.fixture(scope="module")
def tiny_model():
    """This module's own tiny model (the shared session one is never mutated): its tests reset and
    read the pass counters."""
    from xaibench.testing import tiny_classifier

    return tiny_classifier(num_labels=2, seed=0)


def _greedy(lengths, budget, max_batch):
    """Longest-first packing until the budget is full (the engine's previous planner)."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    batches, current = [], []
    for i in order:
        longest = max([lengths[j] for j in current] + [lengths[i]])
        if current and (longest * (len(current) + 1) > budget or len(current) >= max_batch):
            batches.append(current)
            current = []
        current.append(int(i))
    return batches + ([current] if current else [])


def _cost(batches, lengths, overhead=engine.BATCH_OVERHEAD_TOKENS, rows=1):
    return sum(overhead + len(b) * rows * max(lengths[i] for i in b) for b in batches)


@pytest.mark.parametrize("seed", range(5))
def test_planner_covers_everything_within_budget_and_beats_greedy(seed):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, 40, size=int(rng.integers(5, 400))).tolist()
    batches = engine.plan_batches(lengths, token_budget=512, max_batch=64)
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(lengths)))
    for b in batches:
        assert len(b) <= 64
        assert len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 512
    assert _cost(batches, lengths) <= _cost(_greedy(lengths, 512, 64), lengths)


def test_planner_does_not_pad_short_texts_to_a_long_one():
    # One long text and many short ones: greedy pads all of them to 30 tokens.
    lengths = [30] + [5] * 40
    batches = engine.plan_batches(lengths, token_budget=2048, max_batch=256)
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    assert padded == 30 + 5 * 40
    assert len(_greedy(lengths, 2048, 256)) == 1  # ... where greedy spends 41 * 30 = 1230 tokens


def test_planner_merges_near_lengths_when_a_batch_costs_more_than_padding():
    lengths = [10, 9, 10, 9, 10]
    assert len(engine.plan_batches(lengths, token_budget=2048, max_batch=256)) == 1


def test_planner_counts_rows_per_item():
    # 3 texts x 50 steps x 20 tokens = 3000 rows·tokens > 2048: at most 2 texts per batch.
    batches = engine.plan_batches([20, 20, 20], token_budget=2048, max_batch=256, rows_per_item=50)
    assert sorted(len(b) for b in batches) == [1, 2]


def test_open_sharing_reuses_inputs_and_keeps_values(tiny_model):
    plain_attrs = xb.get_explainer("occlusion").explain(tiny_model, TEXTS)
    plain_tau = xb.get_metric("loo_correlation").score(tiny_model, plain_attrs)
    tiny_model.reset_counters()
    with tiny_model.sharing() as shared:
        attrs = xb.get_explainer("occlusion").explain(tiny_model, TEXTS)
        after_explain = tiny_model.n_forward
        tau = xb.get_metric("loo_correlation").score(tiny_model, attrs)
    assert len(shared) == after_explain > 0
    assert tiny_model.n_forward == after_explain, "loo_correlation needs exactly occlusion's inputs"
    assert tiny_model.n_forward_reused >= sum(len(tiny_model.units(t)) + 1 for t in TEXTS if len(tiny_model.units(t)) > 1)
    for a, b in zip(attrs, plain_attrs):
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-6)
    np.testing.assert_allclose(tau, plain_tau, atol=1e-9, equal_nan=True)
    assert tiny_model.shared is None  # restored after the block


def test_reused_work_is_charged_to_the_method(tiny_model):
    with tiny_model.sharing():
        first = xb.get_explainer("occlusion").explain(tiny_model, TEXTS)
        again = xb.get_explainer("occlusion").explain(tiny_model, TEXTS)
    for a, b in zip(first, again):
        assert b.cost["n_forward"] == a.cost["n_forward"]     # what occlusion needs on its own
        assert b.cost["n_forward_reused"] == b.cost["n_forward"]
        assert a.cost["n_forward_reused"] == 1  # f(x) of the target pass, reused for the score's f(x)
        assert b.cost["seconds"] > 0
        np.testing.assert_array_equal(a.scores, b.scores)


def test_canonical_table_is_read_only_and_order_independent(tiny_model):
    inputs = [t for t in TEXTS] + [""]
    table = SharedComputations(grow=False).fill(tiny_model, inputs)
    assert len(table) == len(inputs)
    with tiny_model.sharing(table):
        tiny_model.reset_counters()
        forward = tiny_model.logits(TEXTS[::-1])[::-1]
        backward = tiny_model.logits(TEXTS)
        assert tiny_model.n_forward == 0 and tiny_model.n_forward_reused == 2 * len(TEXTS)
        tiny_model.logits(["something new"])
        assert tiny_model.n_forward == 1 and len(table) == len(inputs)  # misses are not added
    np.testing.assert_array_equal(forward, backward)
    np.testing.assert_array_equal(backward, np.stack([table.get(t)[0] for t in TEXTS]))


def test_token_id_inputs_share_the_table_with_texts(tiny_model):
    ids = tuple(tiny_model.token_ids([TEXTS[0]])[0])
    with tiny_model.sharing():
        by_text = tiny_model.logits([TEXTS[0]])
        tiny_model.reset_counters()
        by_ids = engine.forward_logits(tiny_model, [ids, TEXTS[0]])
    np.testing.assert_array_equal(by_ids[1], by_text[0])
    np.testing.assert_allclose(by_ids[0], by_text[0], atol=1e-6)
    assert tiny_model.n_forward == 1  # the id tuple is a new key; the text was reused


def test_saliency_and_gradient_x_input_share_one_backward_pass(tiny_model):
    alone = xb.get_explainer("grad_x_input").explain(tiny_model, TEXTS)
    tiny_model.reset_counters()
    with tiny_model.sharing():
        xb.get_explainer("saliency").explain(tiny_model, TEXTS)
        backward = tiny_model.n_backward
        shared = xb.get_explainer("grad_x_input").explain(tiny_model, TEXTS)
    assert tiny_model.n_backward == backward == len(TEXTS)
    assert tiny_model.n_backward_reused == len(TEXTS)
    for a, b in zip(alone, shared):
        np.testing.assert_array_equal(a.scores, b.scores)
        assert b.cost["n_backward"] == 1 and b.cost["n_backward_reused"] == 1


def test_integrated_gradients_variants_share_the_path_and_match_captum(tiny_model):
    from captum.attr import LayerIntegratedGradients

    texts, targets = TEXTS[:3], [1, 0, 1]
    with tiny_model.sharing():
        times = xb.get_explainer("integrated_gradients", n_steps=8).explain(tiny_model, texts, targets=targets)
        tiny_model.reset_counters()
        plain = xb.get_explainer("integrated_gradients", n_steps=8, multiply_by_inputs=False).explain(
            tiny_model, texts, targets=targets)
    assert tiny_model.n_backward == 0 and tiny_model.n_backward_reused == 8 * len(texts)
    assert "convergence_delta" in times[0].metadata and "convergence_delta" not in plain[0].metadata

    kept = set(tiny_model.tokenizer.all_special_ids) - {tiny_model.tokenizer.unk_token_id}
    for text, target, a_times, a_plain in zip(texts, targets, times, plain):
        ids = torch.tensor([tiny_model.token_ids([text])[0]])
        baseline = torch.where(torch.isin(ids, torch.tensor(sorted(kept))), ids,
                               torch.full_like(ids, tiny_model.pad_token_id))

        def f(input_ids):
            return tiny_model.hf_model(input_ids=input_ids).logits.softmax(-1)[:, target]

        emb = tiny_model.hf_model.get_input_embeddings()
        token_units = tiny_model.token_units(text)
        for multiply, got in ((True, a_times), (False, a_plain)):
            ref = LayerIntegratedGradients(f, emb, multiply_by_inputs=multiply).attribute(
                ids, baselines=baseline, n_steps=8).sum(-1)[0].detach().double().numpy()
            expected = np.zeros(len(tiny_model.units(text)))
            np.add.at(expected, token_units[token_units >= 0], ref[token_units >= 0])
            np.testing.assert_allclose(got.scores, expected, atol=1e-6)


def test_session_shares_work_across_cells_and_costs_stay_per_method(tmp_path, monkeypatch):
    """Two cells of one task: the second serves its f(x), leave-one-out and random-ordering inputs
    from the chunk's shared table; values equal a run without sharing, costs are unchanged."""
    from xaibench.harness.cache import ResultCache
    from xaibench.harness.config import resolve
    from xaibench.harness.session import BenchmarkSession
    from xaibench.harness.shared_tables import SharedTables
    from xaibench.testing import tiny_classifier

    folder = tmp_path / "model"
    tiny = tiny_classifier(num_labels=2, seed=1)
    tiny.hf_model.save_pretrained(folder)
    tiny.tokenizer.save_pretrained(folder)
    data = tmp_path / "reviews.csv"
    data.write_text("text,label\n" + "\n".join(f'"{t}",{i % 2}' for i, t in enumerate(TEXTS)) + "\n",
                    encoding="utf-8")
    config = resolve({"model": str(folder), "dataset": str(data), "n": "all", "explainers": "occlusion,random",
                      "metrics": "loo_correlation,comprehensiveness,forward_passes"})

    def run(tag: str):
        s = BenchmarkSession(config, cache=ResultCache(tmp_path / f"cache-{tag}"))
        for cell in s.cells():
            s.run_cell(cell, progress=False)
        return s, s.model(str(folder)).n_forward

    shared_session, shared_passes = run("shared")
    monkeypatch.setattr(SharedTables, "table", lambda self, *a, **k: SharedComputations(grow=False))
    plain_session, plain_passes = run("plain")
    assert shared_passes < plain_passes
    values = {(r["explainer"], r["metric"], r["example_id"]): r["value"] for r in plain_session.per_example}
    for r in shared_session.per_example:
        assert r["value"] == pytest.approx(values[(r["explainer"], r["metric"], r["example_id"])], abs=1e-6,
                                           nan_ok=True), r
    costs = {(r["explainer"], r["example_id"]): r["cost"]["n_forward"] for r in plain_session.attribution_rows}
    for r in shared_session.attribution_rows:
        assert r["cost"]["n_forward"] == costs[(r["explainer"], r["example_id"])]
    assert any(r["cost"]["n_forward_reused"] > 0 for r in shared_session.attribution_rows)


def test_gradient_store_is_bounded_in_bytes():
    from xaibench.modeling.sharing import GradientStore

    store = GradientStore(max_bytes=3 * 800)
    for i in range(5):
        store.put(i, (torch.zeros(100, dtype=torch.float64),), {})  # 800 bytes each
    assert len(store) == 3 and store.bytes == 2400
    assert store.get(0) is None and store.get(4) is not None
    store.put("big", np.zeros(1000), {})  # larger than the whole budget: not kept
    assert store.get("big") is None and len(store) == 3
