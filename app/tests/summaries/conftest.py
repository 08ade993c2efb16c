"""Fixtures: a local OpenAI-compatible server and client configs for it."""
from __future__ import annotations

import pytest

from .fake_openai import SECRET, FakeLLM


@pytest.fixture(autouse=True)
def no_proxy_for_loopback(monkeypatch):
    """The client honours proxy variables (a deployment may need them); the
    local server is on loopback and must be reached directly."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake_llm():
    server = FakeLLM().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def llm_config(fake_llm):
    from brefboard.summaries.llm import LLMConfig

    def make(**overrides):
        values = dict(base_url=fake_llm.base_url, model="fake-model", api_key=SECRET,
                      timeout=5.0, max_retries=3, backoff_base=0.01, backoff_max=0.05,
                      deadline=30.0)
        values.update(overrides)
        return LLMConfig(**values)

    return make
