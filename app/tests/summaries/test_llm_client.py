"""The OpenAI-compatible client against a real local HTTP server (conftest)."""
from __future__ import annotations

import logging
import random
import socket
import time
import traceback
from email.utils import formatdate

import pytest

from brefboard.summaries.llm import (
    ChatClient,
    LLMClientError,
    LLMConfig,
    LLMConnectionError,
    LLMError,
    LLMNotConfigured,
    LLMRateLimited,
    LLMResponseError,
    LLMServerError,
    LLMTimeout,
    parse_retry_after,
)

from .fake_openai import SECRET, Reply

MESSAGES = [{"role": "system", "content": "Sois bref."}, {"role": "user", "content": "Bonjour"}]


class Sleeps(list):
    """Records the backoff schedule instead of waiting it out."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text, text


def test_posts_an_openai_chat_completion_with_the_bearer_key(fake_llm, llm_config):
    with ChatClient(llm_config()) as client:
        result = client.complete(MESSAGES, max_tokens=42, json_mode=True)
    assert result.content == "Résumé formel de la réunion."
    assert result.model == "fake-model" and result.attempts == 1
    [req] = fake_llm.requests
    assert req.path == "/v1/chat/completions"
    assert req.headers["Authorization"] == f"Bearer {SECRET}"
    assert req.body["model"] == "fake-model"
    assert req.body["messages"] == MESSAGES
    assert req.body["max_tokens"] == 42 and req.body["stream"] is False
    assert req.body["response_format"] == {"type": "json_object"}


def test_no_authorization_header_without_a_key(fake_llm, llm_config):
    with ChatClient(llm_config(api_key="")) as client:
        client.complete(MESSAGES)
    assert "Authorization" not in fake_llm.requests[0].headers


def test_base_url_may_already_name_the_endpoint(fake_llm, llm_config):
    config = llm_config(base_url=fake_llm.base_url + "/chat/completions/")
    with ChatClient(config) as client:
        client.complete(MESSAGES)
    assert fake_llm.requests[0].path == "/v1/chat/completions"


def test_429_honours_retry_after_then_succeeds(fake_llm, llm_config):
    fake_llm.push(Reply(status=429, raw=b'{"error":"slow down"}', headers={"Retry-After": "2"}))
    sleeps = Sleeps()
    with ChatClient(llm_config(), sleep=sleeps) as client:
        result = client.complete(MESSAGES)
    assert result.attempts == 2 and len(fake_llm.requests) == 2
    assert sleeps == [2.0]  # the server's word, not our backoff


def test_429_with_an_http_date_retry_after(fake_llm, llm_config):
    fake_llm.push(Reply(status=429, headers={"Retry-After": formatdate(time.time() + 3, usegmt=True)}))
    sleeps = Sleeps()
    with ChatClient(llm_config(), sleep=sleeps) as client:
        client.complete(MESSAGES)
    assert len(sleeps) == 1 and 1.0 <= sleeps[0] <= 3.0


def test_429_asking_for_too_long_a_wait_fails_fast(fake_llm, llm_config):
    fake_llm.push(Reply(status=429, headers={"Retry-After": "3600"}))
    sleeps = Sleeps()
    with ChatClient(llm_config(max_retry_after=60), sleep=sleeps) as client:
        with pytest.raises(LLMRateLimited) as info:
            client.complete(MESSAGES)
    assert sleeps == [] and len(fake_llm.requests) == 1
    assert "3600" in str(info.value) and info.value.kind == "rate_limited"


def test_429_without_retry_after_backs_off_exponentially_with_jitter(fake_llm, llm_config):
    fake_llm.push(*[Reply(status=429)] * 3)
    sleeps = Sleeps()
    config = llm_config(backoff_base=1.0, backoff_max=30.0, max_retries=3)
    with ChatClient(config, sleep=sleeps, rng=random.Random(7)) as client:
        client.complete(MESSAGES)
    assert len(sleeps) == 3
    for attempt, slept in enumerate(sleeps):
        assert 0.0 <= slept <= 1.0 * 2**attempt
    assert len(set(sleeps)) == 3  # jittered, not a fixed schedule


def test_5xx_is_retried_then_reported_with_attempts(fake_llm, llm_config):
    fake_llm.push(*[Reply(status=500, raw=b"boom")] * 10)
    sleeps = Sleeps()
    with ChatClient(llm_config(max_retries=2), sleep=sleeps) as client:
        with pytest.raises(LLMServerError) as info:
            client.complete(MESSAGES)
    assert len(fake_llm.requests) == 3 and len(sleeps) == 2
    assert info.value.status == 500 and info.value.attempts == 3
    assert "HTTP 500" in str(info.value)


def test_502_then_success(fake_llm, llm_config):
    fake_llm.push(Reply(status=502), Reply(status=503))
    with ChatClient(llm_config(), sleep=Sleeps()) as client:
        assert client.complete(MESSAGES).attempts == 3


def test_a_slow_server_times_out_and_is_retried_within_bounds(fake_llm, llm_config):
    fake_llm.push(Reply(delay=2.0, content="late"), Reply(delay=2.0, content="late"))
    config = llm_config(timeout=0.3, max_retries=1)
    started = time.monotonic()
    with ChatClient(config, sleep=Sleeps()) as client:
        with pytest.raises(LLMTimeout) as info:
            client.complete(MESSAGES)
    elapsed = time.monotonic() - started
    assert len(fake_llm.requests) == 2 and info.value.attempts == 2
    assert elapsed < 1.9, "the client waited for the slow answer instead of timing out"
    assert "0.3 s" in str(info.value)


def test_slow_then_fast_succeeds(fake_llm, llm_config):
    fake_llm.push(Reply(delay=1.0, content="late"))
    with ChatClient(llm_config(timeout=0.3), sleep=Sleeps()) as client:
        assert client.complete(MESSAGES).content == "Résumé formel de la réunion."


def test_503_retry_after_is_honoured_and_the_deadline_bounds_the_call(fake_llm, llm_config):
    fake_llm.push(*[Reply(status=503, headers={"Retry-After": "5"})] * 5)
    sleeps = Sleeps()
    with ChatClient(llm_config(deadline=8, max_retries=10), sleep=sleeps) as client:
        with pytest.raises(LLMServerError):
            client.complete(MESSAGES)
    # one wait of 5 s fits in the 8 s budget, a second one would not
    assert sleeps == [5.0] and len(fake_llm.requests) == 2


@pytest.mark.parametrize(
    "raw",
    [b"<html>gateway</html>", b'{"choices": []}', b'{"choices": [{"message": {}}]}',
     b'{"choices": [{"message": {"content": 12}}]}', b"\xff\xfe\x00garbage"],
)
def test_malformed_answers_raise_a_response_error_without_retry(fake_llm, llm_config, raw):
    fake_llm.push(Reply(raw=raw))
    with ChatClient(llm_config(), sleep=Sleeps()) as client:
        with pytest.raises(LLMResponseError) as info:
            client.complete(MESSAGES)
    assert len(fake_llm.requests) == 1 and info.value.kind == "malformed"


def test_content_parts_are_joined(fake_llm, llm_config):
    fake_llm.push(Reply(raw=b'{"choices":[{"message":{"content":[{"type":"text","text":"a"},'
                          b'{"type":"text","text":"b"}]}}]}'))
    with ChatClient(llm_config()) as client:
        assert client.complete(MESSAGES).content == "ab"


def test_4xx_is_not_retried(fake_llm, llm_config):
    fake_llm.push(Reply(status=404, raw=b'{"error":"model not found"}'))
    with ChatClient(llm_config(), sleep=Sleeps()) as client:
        with pytest.raises(LLMClientError) as info:
            client.complete(MESSAGES)
    assert len(fake_llm.requests) == 1 and info.value.status == 404
    assert "model not found" in str(info.value)


def test_connection_refused_is_a_connection_error(llm_config):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = llm_config(base_url=f"http://127.0.0.1:{port}/v1", max_retries=1)
    with ChatClient(config, sleep=Sleeps()) as client:
        with pytest.raises(LLMConnectionError):
            client.complete(MESSAGES)


def test_the_key_never_reaches_logs_exceptions_or_reprs(fake_llm, llm_config, caplog):
    """A server that echoes the key back in its error body (some do) must not
    make the key appear in our exception, traceback, log records or reprs."""
    caplog.set_level(logging.DEBUG)  # httpx and httpcore included
    fake_llm.push(Reply(status=503), Reply(status=401,
                        raw=f'{{"error":"invalid key Bearer {SECRET}"}}'.encode()))
    config = llm_config()
    client = ChatClient(config, sleep=Sleeps())
    with pytest.raises(LLMError) as info:
        client.complete(MESSAGES)
    client.close()
    assert fake_llm.requests[0].headers["Authorization"] == f"Bearer {SECRET}"  # it was sent
    assert "***" in str(info.value)  # the echoed key, redacted
    tb = "".join(traceback.format_exception(info.value))
    logs = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)
    assert caplog.records, "expected the retry to be logged"
    assert_no_secret(str(info.value), repr(info.value), tb, logs, repr(config), repr(client), str(config))


def test_configuration_from_env_mapping():
    assert LLMConfig.from_mapping({}) is None
    assert LLMConfig.from_mapping({"LLM_BASE_URL": "  "}) is None
    config = LLMConfig.from_mapping({"LLM_BASE_URL": "http://127.0.0.1:11434/v1", "LLM_MODEL": "mistral",
                                     "LLM_API_KEY": SECRET, "LLM_CONTEXT_TOKENS": "4096",
                                     "LLM_TIMEOUT": "12.5"})
    assert config.context_tokens == 4096 and config.timeout == 12.5
    assert config.chat_url == "http://127.0.0.1:11434/v1/chat/completions"
    assert_no_secret(repr(config))
    with pytest.raises(LLMNotConfigured):
        LLMConfig.from_mapping({"LLM_BASE_URL": "http://x/v1"})  # no model
    with pytest.raises(LLMNotConfigured):
        LLMConfig.from_mapping({"LLM_BASE_URL": "ftp://x", "LLM_MODEL": "m"})
    with pytest.raises(LLMNotConfigured) as info:
        LLMConfig.from_mapping({"LLM_BASE_URL": "http://x/v1", "LLM_MODEL": "m", "LLM_TIMEOUT": "soon"})
    assert "LLM_TIMEOUT" in str(info.value)


def test_key_from_a_file(tmp_path):
    key_file = tmp_path / "llm.key"
    key_file.write_text(SECRET + "\n")
    config = LLMConfig.from_mapping({"LLM_BASE_URL": "http://127.0.0.1:1/v1", "LLM_MODEL": "m",
                                     "LLM_API_KEY_FILE": str(key_file)})
    assert config.api_key == SECRET
    with pytest.raises(LLMNotConfigured) as info:
        LLMConfig.from_mapping({"LLM_BASE_URL": "http://x/v1", "LLM_MODEL": "m",
                                "LLM_API_KEY_FILE": str(tmp_path / "missing")})
    assert "LLM_API_KEY_FILE" in str(info.value)


def test_parse_retry_after():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("tomorrow") is None
    assert parse_retry_after(formatdate(1000.0, usegmt=True), now=990.0) == pytest.approx(10.0)
    assert parse_retry_after(formatdate(1000.0, usegmt=True), now=2000.0) == 0.0
