"""``nl_endpoint`` against a local stub of an OpenAI-compatible chat-completions server started by
the test: requests, concurrency, retries, and per-example errors for a timeout and a malformed
reply that never crash the run."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import xaibench as xb
from xaibench.explainers._chat_completions import ChatCompletionsClient, EndpointError
from xaibench.testing import bag_of_words_classifier

WEIGHTS = {"good": 3.0, "bad": -2.0, "slow": -1.0, "broken": -3.0, "malformed": 0.0, "flaky": 0.0,
           "the": 0.0, "food": 0.0, "is": 0.0, "was": 0.0}


class StubHandler(BaseHTTPRequestHandler):
    """Replies like a chat-completions server: quotes the first weighted word of the text. Texts
    containing "slow" sleep past any test timeout, "malformed" get a reply without choices,
    "flaky" fail with HTTP 503 on their first attempt, "together" wait until four such requests
    are in flight."""

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        prompt = body["messages"][-1]["content"]
        text = prompt.split("Text: ", 1)[-1]
        if "slow" in text:
            time.sleep(self.server.slow_seconds)
        if "together" in text:
            try:
                self.server.barrier.wait()
            except threading.BrokenBarrierError:
                return self._send(500, {"error": "requests did not arrive together"})
        if "flaky" in text and self.server.flaky_seen.setdefault(text, 0) == 0:
            self.server.flaky_seen[text] = 1
            return self._send(503, {"error": "busy"})
        if "malformed" in text:
            return self._send(200, {"id": "x", "object": "chat.completion"})
        word = next((w for w in text.split() if WEIGHTS.get(w)), text.split()[0])
        label = prompt.split('labelled the text below as "', 1)[-1].split('"', 1)[0]
        return self._send(200, {"choices": [{"index": 0, "message": {
            "role": "assistant", "content": f'The classifier said {label} because of "{word}".'}}]})

    def _send(self, status, payload):
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
            pass

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), StubHandler)
    httpd.daemon_threads = True
    httpd.requests, httpd.flaky_seen, httpd.slow_seconds = [], {}, 3.0
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def bow():
    return bag_of_words_classifier(WEIGHTS, 0.25)


def endpoint(server, **params):
    settings = {"base_url": f"http://127.0.0.1:{server.server_address[1]}/v1", "model": "stub-llm", "timeout": 1.0,
                "retries": 1, **params}
    return xb.get_explainer("nl_endpoint", **settings)


def test_sentences_come_from_the_endpoint_and_are_cited(server, bow):
    attrs = endpoint(server).explain(bow, ["the food is good", "the food was bad"])
    assert [a.metadata["explanation"] for a in attrs] == [
        'The classifier said positive because of "good".', 'The classifier said negative because of "bad".']
    assert attrs[0].scores.tolist() == [0, 0, 0, 1.0]
    request = server.requests[0]
    assert request["path"] == "/v1/chat/completions" and request["body"]["model"] == "stub-llm"
    assert request["body"]["messages"][0]["role"] == "system" and request["body"]["temperature"] == 0.0
    assert isinstance(request["body"]["seed"], int) and request["auth"] is None  # no key unless configured


def test_an_api_key_is_sent_only_from_the_named_environment_variable(server, bow, monkeypatch):
    monkeypatch.setenv("XB_TEST_KEY", "sk-test")
    explainer = endpoint(server, api_key_env="XB_TEST_KEY")
    explainer.explain(bow, ["good"])
    assert server.requests[-1]["auth"] == "Bearer sk-test"
    assert "sk-test" not in json.dumps(explainer.params())  # the key never becomes a parameter


def test_nothing_is_sent_without_a_configured_server(bow):
    with pytest.raises(ValueError, match="only when told where"):
        xb.get_explainer("nl_endpoint").explain(bow, ["good"])
    with pytest.raises(ValueError, match="must be an http"):
        xb.get_explainer("nl_endpoint", base_url="localhost:8000", model="m").explain(bow, ["good"])
    with pytest.raises(ValueError, match="containing {text}"):
        xb.get_explainer("nl_endpoint", base_url="http://x", model="m", prompt="no slot").explain(bow, ["good"])


def test_a_retried_503_then_succeeds(server, bow):
    attrs = endpoint(server, retries=2).explain(bow, ["the flaky food is good"])
    assert attrs[0].metadata["explanation"].endswith('"good".')
    assert len(server.requests) == 2


def test_timeout_and_malformed_reply_fail_their_text_with_a_clear_message(server, bow):
    explainer = endpoint(server, retries=0)
    with pytest.raises(RuntimeError) as info:
        explainer.explain(bow, ["the food is good", "slow food", "malformed food"])
    message = str(info.value)
    assert "2 of 3 request(s) failed" in message
    assert "text 1 ('slow food'): timed out after 1 s (1 attempt" in message
    assert "text 2 ('malformed food'): malformed reply" in message and "no choices[0].message.content" in message
    # Retrying the texts one by one sends nothing twice: the replies and failures are kept.
    sent = len(server.requests)
    assert explainer.explain(bow, ["the food is good"])[0].scores.tolist() == [0, 0, 0, 1.0]
    with pytest.raises(RuntimeError, match="timed out"):
        explainer.explain(bow, ["slow food"])
    assert len(server.requests) == sent


def test_a_benchmark_run_records_failed_examples_and_completes_the_others(server, bow, tmp_path, run_tiny_session):
    texts = ["the food is good", "slow food", "the food was bad", "malformed food", "good good"]
    params = {"nl_endpoint": {"base_url": f"http://127.0.0.1:{server.server_address[1]}/v1", "model": "stub-llm",
                              "timeout": 1.0, "retries": 0}}
    session = run_tiny_session(bow, tmp_path, texts, explainers=("nl_endpoint",),
                               metrics=("cited_comprehensiveness", "citation_precision"), explainer_params=params)
    outcome = session.record.outcome_rows[0]
    assert outcome["status"] == "error" and set(outcome["errors"]) == {"e1", "e3"}
    assert "timed out after 1 s" in outcome["errors"]["e1"] and "malformed reply" in outcome["errors"]["e3"]
    rows = [r for r in session.per_example if r["metric"] == "citation_precision"]
    assert [r["status"] for r in rows] == ["ok", "error", "ok", "error", "ok"]
    assert [r["value"] for r in rows if r["status"] == "ok"] == [1.0, 1.0, 1.0]


def test_requests_run_concurrently(server):
    # Texts with "together" wait at a barrier for four requests: a serial client would never get
    # past the first (its request would fail after the barrier's timeout).
    server.barrier = threading.Barrier(4, timeout=10)
    client = ChatCompletionsClient(f"http://127.0.0.1:{server.server_address[1]}/v1", "stub-llm", timeout=30.0,
                                   max_concurrency=4)
    replies = client.complete_many([[{"role": "user", "content": f"Text: together good {i}"}] for i in range(4)])
    assert replies == ['The classifier said Text: together good 0 because of "good".'.replace("0", str(i))
                       for i in range(4)]


def test_an_unreachable_server_is_an_endpoint_error():
    client = ChatCompletionsClient("http://127.0.0.1:9/v1", "m", timeout=1.0, retries=0)
    [reply] = client.complete_many([[{"role": "user", "content": "hi"}]])
    assert isinstance(reply, EndpointError) and "cannot reach" in str(reply)
