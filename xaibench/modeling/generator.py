"""``SentenceGenerator``: a small GPT-2 that writes an explanation sentence for a classifier's prediction.

The built-in ``nl_generator`` explainer's model (trained by ``xaibench.zoo.generator_training``).
It reads a prompt and continues it with a sentence:

    [BOS] <label:negative> u_1 u_2 ... u_n [SEP]  ->  predicted negative , mainly because of “ died ” ... [EOS]

- **Tokens are units** (``xaibench.core.units``: English words, Chinese characters, punctuation),
  case-folded, from a vocabulary built on the training pairs (``UnitVocabulary``); rarer units are
  ``[UNK]``. Units make copying a cited word one token, in both languages, and the output is read
  back with the same unit split the citations use.
- **Conditioning.** The label token is the explained class (what the classifier predicted). With
  ``conditioning = "text+classifier"`` each prompt unit's input embedding also gets a learned
  projection of the classifier's last-layer state of that unit (``hidden_states.unit_states``), so
  the generator reads what the classifier computed, not only the words; with ``"text"`` it sees
  the words alone.
- **Generation** is greedy, batched over length-sorted prompts (left-padded, with position ids
  counted from each prompt's first real token and a key/value cache), under
  ``torch.inference_mode``, with n-gram blocking (``no_repeat_ngram`` in the settings: no
  n-gram of the sentence twice, so it cannot quote the same word again); it is deterministic,
  and a text's sentence does not depend on the other texts of the batch beyond float rounding.

A folder holds ``lm/`` (the GPT-2, ``save_pretrained``), ``heads.safetensors`` (the state
projection and the copy head, where the generator has them), ``vocabulary.json`` and
``generator.json`` (settings).
"""
from __future__ import annotations

import functools
import json
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import regex
import torch

from xaibench.core.units import split_units

PAD, BOS, SEP, EOS, UNK = "[PAD]", "[BOS]", "[SEP]", "[EOS]", "[UNK]"
SPECIALS = (PAD, BOS, SEP, EOS, UNK)
CONDITIONINGS = ("text", "text+classifier")
#: Shown for a generated [UNK] (a word the vocabulary does not hold): it cites nothing.
UNKNOWN_SHOWN = "<unk>"
_NO_SPACE_BEFORE = set(".,!?;:%)]}”’»。，、！？；：）") | {"'s", "n't"}
_NO_SPACE_AFTER = set("([{“‘«（")
_CJK = regex.compile(r"[\p{Han}\u3000-\u303f\uff00-\uffef]")


def unit_tokens(text: str) -> list[str]:
    """The generator's tokens of ``text``: its units, case-folded."""
    return [u.text.casefold() for u in split_units(text)]


def label_token(label: str) -> str:
    return f"<label:{str(label).casefold()}>"


class UnitVocabulary:
    """Token strings <-> ids: the specials first, then label tokens, then units."""

    def __init__(self, tokens: Sequence[str]) -> None:
        if tuple(tokens[:len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a vocabulary starts with {SPECIALS}")
        self.tokens = list(tokens)
        self.index = {t: i for i, t in enumerate(self.tokens)}
        if len(self.index) != len(self.tokens):
            raise ValueError("a vocabulary lists each token once")

    @classmethod
    def build(cls, texts: Iterable[str], labels: Iterable[str], min_count: int = 2) -> "UnitVocabulary":
        """Units seen at least ``min_count`` times in ``texts`` (prompts and target sentences), most
        frequent first (ties alphabetical), after the specials and one token per label."""
        counts = Counter(t for text in texts for t in unit_tokens(text))
        units = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
        label_tokens = sorted({label_token(lb) for lb in labels})
        return cls([*SPECIALS, *label_tokens, *(u for u in units if u not in SPECIALS)])

    def __len__(self) -> int:
        return len(self.tokens)

    def id(self, token: str) -> int:
        return self.index.get(token, self.index[UNK])

    def encode(self, text: str, max_units: int | None = None) -> list[int]:
        tokens = unit_tokens(text)
        return [self.id(t) for t in (tokens if max_units is None else tokens[:max_units])]

    def decode(self, ids: Iterable[int]) -> str:
        """The sentence of generated ids (see ``decode_tokens``)."""
        return self.decode_tokens(self.tokens[int(i)] for i in ids)

    def decode_tokens(self, tokens: Iterable[str]) -> str:
        """The sentence of generated tokens: up to [EOS], specials and label tokens dropped,
        ``[UNK]`` shown as ``UNKNOWN_SHOWN``."""
        out = []
        for t in tokens:
            if t == EOS:
                break
            if t == UNK:
                out.append(UNKNOWN_SHOWN)
            elif t not in SPECIALS and not t.startswith("<label:"):
                out.append(t)
        return join_tokens(out)


def join_tokens(tokens: Sequence[str]) -> str:
    """Tokens as text, capitalised: a space between two tokens except before a closing mark, after
    an opening one, and next to a Chinese character or Chinese punctuation."""
    out = ""
    for t in tokens:
        if out and _space_between(out[-1], t):
            out += " "
        out += t
    return out[:1].upper() + out[1:]


def _space_between(prev: str, token: str) -> bool:
    if token in _NO_SPACE_BEFORE or prev in _NO_SPACE_AFTER:
        return False
    return not (_CJK.match(prev) or _CJK.match(token[0]))


def _repeated_ngram_ends(tokens: list[int], n: int) -> list[int]:
    """Tokens that would complete an n-gram already in ``tokens`` (trigram blocking, Paulus et al.
    2018, "A Deep Reinforced Model for Abstractive Summarization", ICLR: a sentence that quotes the
    same word twice says nothing more)."""
    if len(tokens) < n - 1:
        return []
    tail = tuple(tokens[len(tokens) - (n - 1):])
    return [tokens[i + n - 1] for i in range(len(tokens) - n + 1) if tuple(tokens[i:i + n - 1]) == tail]


def _past(result):
    """The key/value cache of a model output (named ``cache`` in newer transformers)."""
    past = getattr(result, "past_key_values", None)
    return past if past is not None else getattr(result, "cache", None)


@functools.lru_cache(maxsize=1)
def _cache_argument() -> str:
    """The forward keyword of the key/value cache in this transformers version."""
    import inspect

    from transformers import GPT2LMHeadModel

    return "cache" if "cache" in inspect.signature(GPT2LMHeadModel.forward).parameters else "past_key_values"


class GeneratorNet(torch.nn.Module):
    """The trainable parts: a ``GPT2LMHeadModel``; when conditioned on the classifier, the
    projection of its unit states into the GPT-2's embedding space; when ``copy`` is on, a copy
    head (pointer-generator, See et al. 2017, "Get To The Point: Summarization with
    Pointer-Generator Networks", ACL): the next token is drawn from a mixture of the vocabulary
    and an attention over the prompt's units, so quoting a word of the text is one attention step
    rather than a word the vocabulary layer must learn to produce (it can still generate a word
    that is not in the text)."""

    def __init__(self, lm, state_size: int | None = None, copy: bool = False) -> None:
        super().__init__()
        self.lm = lm
        self.projection = torch.nn.Linear(state_size, lm.config.n_embd) if state_size else None
        d = lm.config.n_embd
        self.copy_query = torch.nn.Linear(d, d) if copy else None
        self.copy_key = torch.nn.Linear(d, d) if copy else None
        self.copy_gate = torch.nn.Linear(d, 1) if copy else None

    @property
    def copies(self) -> bool:
        return self.copy_query is not None

    def heads(self) -> dict[str, torch.Tensor]:
        """The weights outside the GPT-2 (projection, copy head), for ``heads.safetensors``."""
        return {k: v.detach().contiguous() for k, v in self.state_dict().items() if not k.startswith("lm.")}

    def load_heads(self, weights: dict[str, torch.Tensor]) -> None:
        expected = set(self.heads())
        if set(weights) != expected:
            raise ValueError(f"generator heads: expected weights {sorted(expected)}, found {sorted(weights)}")
        self.load_state_dict({**{f"lm.{k}": v for k, v in self.lm.state_dict().items()}, **weights})

    def embed(self, input_ids: torch.Tensor, states: torch.Tensor | None) -> torch.Tensor:
        """Token embeddings, plus the projected classifier states where ``states`` is non-zero."""
        embeds = self.lm.get_input_embeddings()(input_ids)
        if self.projection is not None and states is not None:
            present = (states.abs().sum(-1, keepdim=True) > 0).to(embeds.dtype)
            embeds = embeds + self.projection(states) * present
        return embeds

    def keys(self, hidden: torch.Tensor) -> torch.Tensor | None:
        """The copy keys of final hidden states ``[..., d]`` (None without copying)."""
        return self.copy_key(hidden) if self.copies else None

    def log_probs(self, hidden: torch.Tensor, keys: torch.Tensor | None, key_ids: torch.Tensor | None,
                  key_mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(log p(next token) [N, V], copy attention [N, P] or None)`` from final hidden states
        ``hidden [N, d]``. With copying: ``keys [N, P, d]`` of the prompt positions, their token
        ids ``key_ids [N, P]`` and ``key_mask [N, P]`` (True on the text's units) give
        p = g · softmax(vocabulary logits) + (1 − g) · attention mass on each token, g = σ(gate)."""
        logits = self.lm.lm_head(hidden).float()
        if not self.copies:
            return torch.log_softmax(logits, -1), None
        scores = torch.einsum("nd,npd->np", self.copy_query(hidden), keys) / hidden.shape[-1] ** 0.5
        attention = torch.nan_to_num(torch.softmax(scores.float().masked_fill(~key_mask, -float("inf")), -1))
        gate = torch.sigmoid(self.copy_gate(hidden).float())
        copied = torch.zeros_like(logits).scatter_add(1, key_ids, attention)
        probs = gate * torch.softmax(logits, -1) + (1 - gate) * copied
        return torch.log(probs.clamp_min(1e-12)), attention


class SentenceGenerator:
    """A trained generator (see the module docstring), ready to ``generate``.

    ``settings``: ``conditioning`` (``CONDITIONINGS``), ``max_prompt_units`` (units of a text the
    prompt keeps), ``max_new_tokens``, ``classifier`` (the model it was trained to explain).
    ``n_generated``: running count of sentences generated; ``n_steps``: decoder steps run.
    """

    def __init__(self, net: GeneratorNet, vocabulary: UnitVocabulary, settings: dict, info: dict | None = None,
                 device: str = "cpu") -> None:
        conditioning = settings.get("conditioning", "text")
        if conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning must be one of {CONDITIONINGS}, got {conditioning!r}")
        if (conditioning == "text+classifier") != (net.projection is not None):
            raise ValueError(f"conditioning {conditioning!r} does not match the network (projection: "
                             f"{net.projection is not None})")
        self.net = net.to(device).eval()
        self.vocabulary = vocabulary
        self.settings = dict(settings)
        self.info = dict(info or {})
        self.device = torch.device(device)
        self.n_generated = 0
        self.n_steps = 0

    @property
    def conditioning(self) -> str:
        return self.settings.get("conditioning", "text")

    # ---- prompts -------------------------------------------------------------------------------
    def prompt_ids(self, text: str, label: str) -> list[int]:
        """[BOS] <label> units of ``text`` (at most ``max_prompt_units``) [SEP]."""
        v = self.vocabulary
        units = v.encode(text, int(self.settings["max_prompt_units"]))
        return [v.id(BOS), v.id(label_token(label)), *units, v.id(SEP)]

    def prompt_states(self, classifier, texts: Sequence[str]) -> list[np.ndarray | None]:
        """Per text, the classifier states aligned with ``prompt_ids`` (zeros on BOS, label and
        SEP), or None per text for a text-only generator. One batched classifier pass."""
        if self.conditioning != "text+classifier":
            return [None] * len(texts)
        from xaibench.modeling.hidden_states import unit_states

        keep = int(self.settings["max_prompt_units"])
        out = []
        for states in unit_states(classifier, texts):
            states = states[:keep]
            padded = np.zeros((len(states) + 3, self.net.projection.in_features), dtype=np.float32)
            if len(states):
                padded[2:2 + len(states)] = states
            out.append(padded)
        return out

    # ---- generation ----------------------------------------------------------------------------
    def generate(self, texts: Sequence[str], labels: Sequence[str], classifier=None,
                 max_new_tokens: int | None = None, batch_size: int = 64) -> list[str]:
        """One sentence per text, explaining class ``labels[i]``; ``classifier`` (a ``Classifier``)
        is needed by a generator conditioned on it. Greedy decoding in length-sorted batches."""
        texts, labels = list(texts), [str(lb) for lb in labels]
        if len(texts) != len(labels):
            raise ValueError(f"got {len(labels)} labels for {len(texts)} texts")
        if self.conditioning == "text+classifier" and classifier is None:
            raise ValueError("this generator is conditioned on the classifier: pass classifier=")
        limit = int(max_new_tokens or self.settings.get("max_new_tokens", 40))
        prompts = [self.prompt_ids(t, lb) for t, lb in zip(texts, labels)]
        units = [unit_tokens(t)[:int(self.settings["max_prompt_units"])] for t in texts]
        states = self.prompt_states(classifier, texts)
        order = np.argsort([len(p) for p in prompts], kind="stable")
        out: list[str] = [""] * len(texts)
        # batched: one greedy decode per length-sorted batch of prompts
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            tokens = self._decode_batch([prompts[i] for i in idx], [states[i] for i in idx],
                                        [units[i] for i in idx], limit)
            for i, row in zip(idx, tokens):
                out[i] = self.vocabulary.decode_tokens(row)
        self.n_generated += len(texts)
        return out

    def _decode_batch(self, prompts: list[list[int]], states: list, units: list[list[str]],
                      limit: int) -> list[list[str]]:
        """Greedy continuation of left-padded ``prompts``: per prompt the generated tokens as
        strings (up to [EOS]); a copied unknown word is the text's own unit (``units``)."""
        v, net = self.vocabulary, self.net
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), v.id(PAD), dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        unit_mask = torch.zeros((len(prompts), width), dtype=torch.bool)
        state_tensor = None
        if net.projection is not None:
            state_tensor = torch.zeros((len(prompts), width, net.projection.in_features))
        for row, p in enumerate(prompts):  # left padding: every prompt ends at the last column
            first = width - len(p)
            ids[row, first:] = torch.as_tensor(p)
            mask[row, first:] = 1
            unit_mask[row, first + 2:width - 1] = True  # not BOS, the label or SEP
            if state_tensor is not None:
                state_tensor[row, first:] = torch.as_tensor(states[row])
        ids, mask, unit_mask = ids.to(self.device), mask.to(self.device), unit_mask.to(self.device)
        if state_tensor is not None:
            state_tensor = state_tensor.to(self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        eos = v.id(EOS)
        done = torch.zeros(len(prompts), dtype=torch.bool, device=self.device)
        block = int(self.settings.get("no_repeat_ngram", 0) or 0)
        chosen: list[list[int]] = [[] for _ in prompts]
        out: list[list[str]] = [[] for _ in prompts]
        with torch.inference_mode():
            result = net.lm.transformer(inputs_embeds=net.embed(ids, state_tensor), attention_mask=mask,
                                        position_ids=positions, use_cache=True)
            keys = net.keys(result.last_hidden_state)
            for _ in range(limit):
                self.n_steps += 1
                log_probs, attention = net.log_probs(result.last_hidden_state[:, -1], keys, ids, unit_mask)
                if block:
                    for row, banned in enumerate(_repeated_ngram_ends(r, block) for r in chosen):
                        if banned:
                            log_probs[row, banned] = -float("inf")
                nxt = torch.where(done, torch.full_like(done, eos, dtype=torch.long), log_probs.argmax(-1))
                for row, token in enumerate(nxt.tolist()):
                    if done[row]:
                        continue
                    chosen[row].append(token)
                    out[row].append(self._token_text(token, row, attention, ids, units, width, len(prompts[row])))
                done |= nxt == eos
                if bool(done.all()):
                    break
                mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
                positions = positions[:, -1:] + 1
                result = net.lm.transformer(inputs_embeds=net.embed(nxt[:, None], None), attention_mask=mask,
                                            position_ids=positions, use_cache=True,
                                            **{_cache_argument(): _past(result)})
        return out

    def _token_text(self, token: int, row: int, attention, ids, units, width: int, prompt_length: int) -> str:
        """The text of a generated token: the vocabulary's, except an [UNK] the copy head chose,
        which is the text's own unit at the unknown position it attended to most."""
        if token != self.vocabulary.id(UNK) or attention is None:
            return self.vocabulary.tokens[token]
        unknown = (ids[row] == token) & (attention[row] > 0)
        if not bool(unknown.any()):
            return UNK
        position = int(torch.where(unknown, attention[row], torch.zeros_like(attention[row])).argmax())
        return units[row][position - (width - prompt_length) - 2]

    # ---- files ---------------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        from safetensors.torch import save_file

        from xaibench.core.storage import atomic_write_json

        folder = Path(folder)
        self.net.lm.save_pretrained(folder / "lm")
        heads = self.net.heads()
        if heads:
            save_file(heads, str(folder / "heads.safetensors"))
        atomic_write_json(folder / "vocabulary.json", {"tokens": self.vocabulary.tokens})
        atomic_write_json(folder / "generator.json", self.settings)

    @classmethod
    def from_folder(cls, folder, device: str = "cpu") -> "SentenceGenerator":
        from safetensors.torch import load_file
        from transformers import GPT2LMHeadModel

        folder = Path(folder)
        settings = json.loads((folder / "generator.json").read_text(encoding="utf-8"))
        vocabulary = UnitVocabulary(json.loads((folder / "vocabulary.json").read_text(encoding="utf-8"))["tokens"])
        lm = GPT2LMHeadModel.from_pretrained(folder / "lm")
        state_size = settings.get("state_size") if settings.get("conditioning") == "text+classifier" else None
        net = GeneratorNet(lm, state_size, copy=bool(settings.get("copy", False)))
        heads = load_file(str(folder / "heads.safetensors")) if (folder / "heads.safetensors").is_file() else {}
        net.load_heads(heads)
        info = {"path": str(folder)}
        card = folder / "xaibench_card.json"
        if card.is_file():
            info["card"] = json.loads(card.read_text(encoding="utf-8"))
        return cls(net, vocabulary, settings, info=info, device=device)
