"""A small client for OpenAI-compatible chat-completions endpoints, over plain HTTP (``urllib``).

The API local LLM servers expose (vLLM, llama.cpp's server, Ollama, LM Studio; and hosted services):
``POST {base_url}/chat/completions`` with ``{"model", "messages", ...}``, answered by
``{"choices": [{"message": {"content": "..."}}]}``.

- **Timeouts and retries**: each request has a timeout (seconds, for connecting and for each
  read); a timeout, a refused or reset connection, HTTP 429 and HTTP 5xx are retried up to
  ``retries`` more times with exponential back-off (``backoff`` · 2^attempt seconds). Other HTTP
  errors (400, 401, 404, ...) and malformed replies are not retried: they will not get better.
- **Batching**: ``complete_many`` sends up to ``max_concurrency`` requests at once (threads);
  servers such as vLLM batch concurrent requests on the GPU. Results come back in order.
- **Failures are values**: ``complete_many`` returns, per request, the reply text or an
  ``EndpointError`` whose message says what went wrong for that request (timed out, HTTP status,
  malformed reply), so one bad request never loses the others.
- Nothing is sent anywhere the caller did not name: there is no default URL, and an API key is
  only sent when given.
"""
from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

RETRIED_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class EndpointError(Exception):
    """One request that failed for good (after its retries); the message says why."""


class ChatCompletionsClient:
    """``base_url`` (e.g. ``http://localhost:8000/v1``), ``model`` (the served model's name),
    ``api_key`` (sent as ``Authorization: Bearer ...`` when given), ``timeout`` seconds per
    attempt, ``retries`` more attempts, ``backoff`` seconds before the first retry,
    ``max_concurrency`` requests in flight."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 30.0,
                 retries: int = 2, backoff: float = 0.5, max_concurrency: int = 4) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.max_concurrency = int(max_concurrency)

    def complete(self, messages: list[dict], **options) -> str:
        """The reply text to one conversation; raises ``EndpointError``."""
        body = json.dumps({"model": self.model, "messages": messages, **options}).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    raw = response.read()
            except urllib.error.HTTPError as exc:
                detail = exc.read()[:200].decode("utf-8", "replace")
                last = f"HTTP {exc.code} from {self.url}: {detail}"
                if exc.code in RETRIED_STATUS:
                    continue
                raise EndpointError(last) from None
            except (TimeoutError, socket.timeout):
                last = f"timed out after {self.timeout:g} s"
                continue
            except urllib.error.URLError as exc:
                reason = exc.reason
                last = (f"timed out after {self.timeout:g} s" if isinstance(reason, (TimeoutError, socket.timeout))
                        else f"cannot reach {self.url}: {reason}")
                continue
            except (ConnectionError, OSError) as exc:
                last = f"connection to {self.url} failed: {exc}"
                continue
            return _reply_text(raw, self.url)
        raise EndpointError(f"{last} ({self.retries + 1} attempt{'s' if self.retries else ''} to {self.url})")

    def complete_many(self, conversations: Sequence[list[dict]], options: Sequence[dict] | None = None
                      ) -> list[str | EndpointError]:
        """Replies to ``conversations`` in order (up to ``max_concurrency`` at a time); a failed
        request gives its ``EndpointError`` in its place. ``options[i]`` are extra request fields."""
        options = list(options) if options is not None else [{}] * len(conversations)

        def one(i: int) -> str | EndpointError:
            try:
                return self.complete(conversations[i], **options[i])
            except EndpointError as exc:
                return exc

        if len(conversations) <= 1 or self.max_concurrency <= 1:
            return [one(i) for i in range(len(conversations))]
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(conversations))) as pool:
            return list(pool.map(one, range(len(conversations))))


def _reply_text(raw: bytes, url: str) -> str:
    """``choices[0].message.content`` of a reply, or ``EndpointError`` naming what is missing."""
    try:
        reply = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise EndpointError(f"malformed reply from {url}: not JSON ({raw[:80]!r})") from None
    try:
        content = reply["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise EndpointError(f"malformed reply from {url}: no choices[0].message.content in "
                            f"{json.dumps(reply)[:120]}") from None
    if not isinstance(content, str):
        raise EndpointError(f"malformed reply from {url}: choices[0].message.content is "
                            f"{type(content).__name__}, not text")
    return content.strip()
