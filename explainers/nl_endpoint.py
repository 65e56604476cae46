"""Bring your own language model: sentences from an OpenAI-compatible chat-completions endpoint."""
from __future__ import annotations

import json
import os
import urllib.parse

from xaibench.core import registry
from xaibench.explainers._chat_completions import ChatCompletionsClient, EndpointError
from xaibench.explainers._sentence import SentenceExplainer
from xaibench.explainers.base import ExplainBatch

DEFAULT_SYSTEM = "You explain the predictions of a text classifier. Answer with one sentence."
DEFAULT_PROMPT = (
    'A text classifier labelled the text below as "{label}". In one sentence, say which words of the '
    "text most likely made it choose this label. Quote every word you cite exactly as it appears in "
    "the text, in double quotes.\n\nText: {text}")


class EndpointFailure(RuntimeError):
    """Requests of an ``explain`` call that failed for good; the message names each text's reason."""


@registry.explainers.register
class EndpointGenerator(SentenceExplainer):
    """Sentences from a language model behind an OpenAI-compatible chat-completions endpoint (the
    API of vLLM, llama.cpp's server, Ollama, LM Studio and hosted services), over plain HTTP.

    Each text becomes one request: the ``system`` message and ``prompt`` with ``{text}`` and
    ``{label}`` (the explained class, the predicted one by default) filled in; the reply's text is
    the sentence, and the scores are the units it quotes (``xaibench.core.citations``; the default
    prompt asks for quotes). Nothing is sent anywhere unless ``base_url`` is given: there is no
    default server, and a key is only sent when ``api_key_env`` names an environment variable that
    holds it (the key itself is never a parameter, so it never reaches a results folder).

    Failures: every request has a ``timeout`` (s) and ``retries`` (timeouts, refused connections,
    HTTP 429/5xx); a request that still fails, or a malformed reply, fails *its text* with a message
    saying why (``EndpointFailure``), and in a benchmark run that example is recorded as
    ``status=error`` while the others complete. Replies are kept per request on the explainer, so
    retrying the failed texts of a batch one by one sends nothing twice.

    Parameters: ``base_url`` (e.g. ``"http://localhost:8000/v1"``), ``model`` (the served model's
    name), ``prompt``, ``system``, ``api_key_env``, ``temperature`` (default 0), ``max_tokens``
    (default 96), ``timeout`` (default 30), ``retries`` (default 2), ``max_concurrency`` (requests
    in flight, default 4: servers batch concurrent requests), ``seed`` (sent as the request's
    ``seed``, per example), ``output``. Not in default runs.
    """

    name = "nl_endpoint"
    order = 43
    in_default_runs = False
    deterministic = False

    def __init__(self, *, base_url: str | None = None, model: str | None = None, prompt: str = DEFAULT_PROMPT,
                 system: str | None = DEFAULT_SYSTEM, api_key_env: str | None = None, temperature: float = 0.0,
                 max_tokens: int = 96, timeout: float = 30.0, retries: int = 2, max_concurrency: int = 4,
                 seed: int = 0, output: str | None = None) -> None:
        super().__init__(seed=seed, output=output)
        self.base_url, self.model, self.prompt, self.system = base_url, model, prompt, system
        self.api_key_env, self.temperature, self.max_tokens = api_key_env, temperature, max_tokens
        self.timeout, self.retries, self.max_concurrency = timeout, retries, max_concurrency
        self._replies: dict[str, str | EndpointError] = {}

    def check_params(self) -> None:
        if not self.base_url or not self.model:
            raise ValueError("nl_endpoint sends texts to a server only when told where: give base_url= (e.g. "
                             "'http://localhost:8000/v1') and model= (the served model's name)")
        parsed = urllib.parse.urlparse(str(self.base_url))
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"base_url must be an http(s) URL such as 'http://localhost:8000/v1', got {self.base_url!r}")
        if not isinstance(self.prompt, str) or "{text}" not in self.prompt:
            raise ValueError("prompt must be a str containing {text} (and optionally {label})")
        for name in ("timeout", "temperature"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or (name == "timeout" and value == 0):
                raise ValueError(f"{name} must be a {'positive' if name == 'timeout' else 'non-negative'} number, "
                                 f"got {value!r}")
        for name, low in (("retries", 0), ("max_concurrency", 1), ("max_tokens", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if self.api_key_env is not None and not os.environ.get(str(self.api_key_env)):
            raise ValueError(f"api_key_env={self.api_key_env!r}: that environment variable is not set")

    def client(self) -> ChatCompletionsClient:
        key = os.environ.get(str(self.api_key_env)) if self.api_key_env else None
        return ChatCompletionsClient(self.base_url, self.model, api_key=key, timeout=self.timeout,
                                     retries=self.retries, max_concurrency=self.max_concurrency)

    def request(self, text: str, label: str, seed: int) -> tuple[list[dict], dict]:
        """The conversation and extra request fields for one text."""
        messages = [{"role": "system", "content": self.system}] if self.system else []
        messages.append({"role": "user", "content": self.prompt.format(text=text, label=label)})
        return messages, {"temperature": self.temperature, "max_tokens": self.max_tokens, "seed": int(seed)}

    def sentences(self, model, batch: ExplainBatch, labels: list[str]) -> list[str]:
        requests = [self.request(t, lb, s) for t, lb, s in zip(batch.texts, labels, batch.seeds)]
        keys = [json.dumps(r, sort_keys=True, ensure_ascii=False) for r in requests]
        todo = {k: r for k, r in zip(keys, requests) if k not in self._replies}
        if todo:
            replies = self.client().complete_many([r[0] for r in todo.values()], [r[1] for r in todo.values()])
            self._replies.update(zip(todo, replies))
        out = [self._replies[k] for k in keys]
        failed = [(i, r) for i, r in enumerate(out) if isinstance(r, EndpointError)]
        if failed:
            shown = "; ".join(f"text {i} ({batch.texts[i][:40]!r}): {r}" for i, r in failed[:3])
            raise EndpointFailure(f"nl_endpoint: {len(failed)} of {len(out)} request(s) failed; {shown}"
                                  if len(out) > 1 else f"nl_endpoint: {failed[0][1]}")
        return out
