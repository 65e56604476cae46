"""Building a built-in sentence generator: teacher pairs, a small GPT-2 trained from scratch, a card.

``build_generator(recipe, folder, progress)`` (the ``build`` of a generator ``BuiltinModel``):

1. **Pairs.** The recipe's classifier explains train-split texts of at most ``max_units`` units
   (its predicted class) with the verbalizer over a faithful teacher (``nl_template`` with
   ``source = recipe["teacher"]``, k = ``recipe["k"]``); each (text, predicted label) prompt gets
   the verbalized sentence as its target. The same for ``n_eval`` validation-split texts, held out.
2. **Model.** A GPT-2 configuration from ``transformers`` (``architecture``), initialised from the
   recipe's seed, with a vocabulary of units built on the train pairs
   (``xaibench.modeling.generator``); conditioned on the classifier's unit states when the recipe
   says so.
3. **Training.** Next-token negative log-likelihood on the target sentence only (the prompt is
   given; with the copy head, of the mixture of vocabulary and copy attention), length-bucketed
   batches, AdamW with linear warm-up and decay (``xaibench.zoo.training``).
4. **Card.** Held-out agreement of the generator's sentences with the teacher's
   (``xaibench.zoo.text_agreement``: exact cited-set match, cited-unit F1, chrF, label match), the
   time each stage took, sizes and versions.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

from xaibench.core import registry
from xaibench.core.seeding import stable_hash


def teacher_pairs(classifier, recipe: dict, split: str, n: int, progress: bool) -> dict:
    """``{"texts", "labels", "sentences"}``: ``n`` texts of ``split`` with 1..``max_units`` units
    (a draw seeded by the recipe's seed), their predicted labels and teacher sentences."""
    from xaibench.core.progress import progress_bar
    from xaibench.datasets import load_dataset

    pool = load_dataset(recipe["dataset"], split=split)
    # A seeded draw over the whole split (its file order groups sentences of one review together).
    ordered = sorted(pool.examples, key=lambda e: stable_hash("generator-pairs", recipe["seed"], e.id))
    texts = [e.text for e in ordered if 1 <= len(classifier.units(e.text)) <= recipe["max_units"]][:n]
    teacher = registry.explainers.create("nl_template", source=recipe["teacher"], k=recipe["k"],
                                         source_params=recipe.get("teacher_params"), seed=recipe["seed"])
    labels, sentences = [], []
    bar = progress_bar(len(texts), f"teacher sentences ({split})", unit="text", leave=True) if progress else None
    chunk = 128
    # batched: one explain call per chunk of texts (the bar needs the chunks)
    for start in range(0, len(texts), chunk):
        for a in teacher.explain(classifier, texts[start:start + chunk]):
            labels.append(classifier.labels[a.target])
            sentences.append(a.metadata["explanation"])
        if bar is not None:
            bar.update(len(texts[start:start + chunk]))
    if bar is not None:
        bar.close()
    return {"texts": texts, "labels": labels, "sentences": sentences}


def build_generator(recipe: dict, out: Path, progress: bool) -> dict:
    """Train the generator ``recipe`` describes into ``out`` (module docstring); returns the card."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from xaibench.modeling.generator import GeneratorNet, SentenceGenerator, UnitVocabulary
    from xaibench.modeling.loading import load_model
    from xaibench.zoo.text_agreement import agreement
    from xaibench.zoo.training import seed_everything

    arch = recipe["architecture"]
    classifier = load_model(recipe["classifier"], progress=progress)
    started = time.perf_counter()
    train = teacher_pairs(classifier, recipe, recipe["split"], recipe["n_pairs"], progress)
    held = teacher_pairs(classifier, recipe, recipe["eval_split"], recipe["n_eval"], progress)
    pairs_seconds = time.perf_counter() - started

    vocabulary = UnitVocabulary.build([*train["texts"], *train["sentences"]], classifier.labels,
                                      min_count=arch["vocab_min_count"])
    conditioned = recipe["conditioning"] == "text+classifier"
    state_size = int(classifier.hf_model.config.hidden_size) if conditioned else None
    settings = {"conditioning": recipe["conditioning"], "max_prompt_units": arch["max_prompt_units"],
                "max_new_tokens": arch["max_new_tokens"], "classifier": recipe["classifier"],
                "state_size": state_size, "copy": bool(arch["copy"]), "no_repeat_ngram": arch["no_repeat_ngram"]}
    seed_everything(recipe["seed"])
    config = GPT2Config(vocab_size=len(vocabulary), n_positions=arch["max_prompt_units"] + 3 + arch["max_new_tokens"],
                        n_embd=arch["n_embd"], n_layer=arch["n_layer"], n_head=arch["n_head"],
                        resid_pdrop=arch["dropout"], embd_pdrop=arch["dropout"], attn_pdrop=arch["dropout"],
                        bos_token_id=vocabulary.id("[BOS]"), eos_token_id=vocabulary.id("[EOS]"),
                        pad_token_id=vocabulary.id("[PAD]"), tie_word_embeddings=True)
    net = GeneratorNet(GPT2LMHeadModel(config), state_size, copy=bool(arch["copy"]))
    generator = SentenceGenerator(net, vocabulary, settings)
    examples = training_examples(generator, classifier, train, arch["max_new_tokens"])
    stats = train_generator(net, examples, recipe, progress)
    generator.net.eval()
    generator.save(out)

    eval_started = time.perf_counter()
    generated = generator.generate(held["texts"], held["labels"], classifier=classifier)
    held_out = agreement(held["texts"], generated, held["sentences"], classifier.labels, units_of=classifier.units)
    return {
        "kind": "sentence generator", "classifier": recipe["classifier"], "teacher": recipe["teacher"],
        "conditioning": recipe["conditioning"], "labels": list(classifier.labels),
        "sizes": {"train": len(train["texts"]), "held_out": len(held["texts"]), "vocabulary": len(vocabulary)},
        "held_out_agreement": held_out,
        "examples": [{"text": t, "teacher": r, "generated": g}
                     for t, r, g in list(zip(held["texts"], held["sentences"], generated))[:5]],
        "pairs_seconds": round(pairs_seconds, 1), "train_seconds": round(stats["seconds"], 1),
        "eval_seconds": round(time.perf_counter() - eval_started, 1),
        "train_stats": {k: v for k, v in stats.items() if k != "seconds"},
        "num_threads": torch.get_num_threads(), "device": "cpu",
        "versions": {"torch": torch.__version__, "transformers": _version("transformers"),
                     "xaibench": _version("xaibench"), "python": sys.version.split()[0]},
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def training_examples(generator, classifier, pairs: dict, max_new_tokens: int) -> list[dict]:
    """Per pair: ``ids`` (prompt + target sentence + [EOS]), ``start`` (index of the first target
    token) and ``states`` (classifier states aligned with the prompt, or None)."""
    v = generator.vocabulary
    states = generator.prompt_states(classifier, pairs["texts"])
    out = []
    for text, label, sentence, s in zip(pairs["texts"], pairs["labels"], pairs["sentences"], states):
        prompt = generator.prompt_ids(text, label)
        target = v.encode(sentence)[:max_new_tokens - 1] + [v.id("[EOS]")]
        out.append({"ids": prompt + target, "start": len(prompt), "states": s})
    return out


def train_generator(net, examples: list[dict], recipe: dict, progress: bool) -> dict:
    """Teacher-forced training of ``net`` on ``examples`` (``training_examples``): cross-entropy of
    each target token given everything before it; the output layer runs on target positions only
    (the prompt's next tokens are not predicted, so computing their vocabulary logits would be
    wasted). Returns steps, examples, seconds and the final loss (mean over the last 50 steps)."""
    from xaibench.zoo.training import adamw, bucketed_batches, linear_warmup_decay

    lengths = [len(e["ids"]) for e in examples]
    plans = [bucketed_batches(lengths, recipe["batch_size"], recipe["seed"], e) for e in range(recipe["epochs"])]
    total = sum(len(p) for p in plans)
    optimizer = adamw(net, recipe["lr"], recipe["weight_decay"])
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, linear_warmup_decay(round(recipe["warmup_ratio"] * total), total))
    bar = None
    if progress:
        from xaibench.core.progress import progress_bar

        bar = progress_bar(total, f"train generator {recipe['dataset']}", unit="step", leave=True)
    losses: list[float] = []
    started = time.perf_counter()
    net.train()
    for epoch, plan in enumerate(plans):
        for idx in plan:
            loss = _batch_loss(net, [examples[i] for i in idx])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
            if bar is not None:
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{np.mean(losses[-50:]):.3f}")
    net.eval()
    if bar is not None:
        bar.close()
    return {"steps": total, "examples": sum(len(p) for plan in plans for p in plan),
            "seconds": time.perf_counter() - started, "final_loss": round(float(np.mean(losses[-50:])), 4)}


def _batch_loss(net, batch: list[dict]) -> torch.Tensor:
    width = max(len(e["ids"]) for e in batch)
    ids = torch.zeros((len(batch), width), dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    units = torch.zeros((len(batch), width), dtype=torch.bool)
    targets = torch.full((len(batch), width), -100, dtype=torch.long)
    states = None
    if net.projection is not None:
        states = torch.zeros((len(batch), width, net.projection.in_features))
    for row, e in enumerate(batch):
        n, start = len(e["ids"]), e["start"]
        ids[row, :n] = torch.as_tensor(e["ids"])
        mask[row, :n] = 1
        units[row, 2:start - 1] = True  # the text's units: not BOS, the label or SEP
        # Position t predicts token t + 1: the targets are the sentence's tokens, from ``start``.
        targets[row, start - 1:n - 1] = torch.as_tensor(e["ids"][start:])
        if states is not None:
            states[row, :len(e["states"])] = torch.as_tensor(e["states"])
    hidden = net.lm.transformer(inputs_embeds=net.embed(ids, states), attention_mask=mask).last_hidden_state
    chosen = targets != -100
    rows = torch.nonzero(chosen)[:, 0]
    keys = net.keys(hidden)
    log_probs, _ = net.log_probs(hidden[chosen], None if keys is None else keys[rows], ids[rows], units[rows])
    return torch.nn.functional.nll_loss(log_probs, targets[chosen])


def _version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
