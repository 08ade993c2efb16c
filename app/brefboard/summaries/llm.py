"""A small client for OpenAI-compatible chat-completions endpoints.

Mistral's API, Ollama, vLLM and the llama.cpp server all speak the same
``POST {base_url}/chat/completions`` dialect, so one client serves them all;
only the base URL, the model name and (for hosted APIs) the key change.

Why not an SDK: we need three things SDKs make awkward to guarantee, and
which are the whole point of this module:

* the API key never leaves the ``Authorization`` header: not in ``repr``,
  log records, exception messages or anything a page could show;
* bounded waiting: per-request timeouts, a bounded number of retries with
  exponential backoff and full jitter on 429 (honouring ``Retry-After``),
  5xx and transport errors, and an overall deadline for one call;
* one error type (``LLMError`` and its subclasses) whose message is safe to
  show a user and to count in a metric by ``kind``.
"""
from __future__ import annotations

import email.utils
import json
import logging
import os
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import httpx

log = logging.getLogger(__name__)

REDACTED = "***"


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------
class LLMError(Exception):
    """Any failure to get an answer from the endpoint.

    ``kind`` is a short, bounded identifier fit for a metric label
    (``timeout``, ``rate_limited``, ``server_error``, ``client_error``,
    ``connection``, ``malformed``, ``not_configured``); ``str(err)`` is a
    sentence safe to show a user: it never contains the API key.
    """

    kind = "error"

    def __init__(self, message: str, *, status: int | None = None, attempts: int = 0):
        super().__init__(message)
        self.status = status
        self.attempts = attempts


class LLMNotConfigured(LLMError):
    kind = "not_configured"


class LLMTimeout(LLMError):
    kind = "timeout"


class LLMConnectionError(LLMError):
    kind = "connection"


class LLMRateLimited(LLMError):
    kind = "rate_limited"


class LLMServerError(LLMError):
    kind = "server_error"


class LLMClientError(LLMError):
    """A 4xx other than 429: a wrong key, model or request. Never retried."""

    kind = "client_error"


class LLMResponseError(LLMError):
    """The endpoint answered 200 but not with a chat completion we can read."""

    kind = "malformed"


# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class LLMConfig:
    """Where and how to call the endpoint.

    ``base_url`` is the API root that ``/chat/completions`` hangs off, e.g.
    ``https://<mistral host>/v1``, ``http://127.0.0.1:11434/v1`` (Ollama) or
    ``http://127.0.0.1:8000/v1`` (vLLM, llama.cpp server).
    """

    base_url: str
    model: str
    api_key: str = field(default="", repr=False)
    timeout: float = 60.0  # seconds to wait for one response
    connect_timeout: float = 5.0
    max_retries: int = 4  # retries after the first attempt
    backoff_base: float = 1.0  # first backoff ceiling, doubled each retry
    backoff_max: float = 30.0  # ceiling of one backoff sleep
    max_retry_after: float = 60.0  # a longer Retry-After fails fast instead
    deadline: float = 300.0  # overall budget for one call, retries included
    context_tokens: int = 8192  # the model's context window
    max_output_tokens: int = 1024
    temperature: float = 0.2

    def __post_init__(self) -> None:
        if not self.base_url:
            raise LLMNotConfigured("No LLM endpoint is configured (LLM_BASE_URL is empty).")
        if not self.base_url.startswith(("http://", "https://")):
            raise LLMNotConfigured("LLM_BASE_URL must start with http:// or https://.")
        if not self.model:
            raise LLMNotConfigured("No LLM model is configured (LLM_MODEL is empty).")
        if any(ch in self.api_key for ch in "\r\n"):
            raise LLMNotConfigured("LLM_API_KEY contains a line break.")

    def __repr__(self) -> str:  # the dataclass repr already hides the key; be explicit
        key = REDACTED if self.api_key else "''"
        return f"LLMConfig(base_url={self.base_url!r}, model={self.model!r}, api_key={key})"

    @property
    def chat_url(self) -> str:
        base = self.base_url.rstrip("/")
        if base.endswith("/chat/completions"):
            return base
        return base + "/chat/completions"

    @classmethod
    def from_mapping(cls, env: Mapping[str, Any]) -> "LLMConfig | None":
        """Build from ``LLM_*`` keys (os.environ or Django settings); ``None``
        when no endpoint is configured, which selects the extractive fallback."""
        base_url = str(env.get("LLM_BASE_URL") or "").strip()
        if not base_url:
            return None

        def num(name: str, default: float, kind: type = float):
            raw = env.get(name)
            if raw in (None, ""):
                return default
            try:
                return kind(raw)
            except (TypeError, ValueError):
                raise LLMNotConfigured(f"{name} must be a number, got {raw!r}.") from None

        api_key = str(env.get("LLM_API_KEY") or "").strip()
        key_file = str(env.get("LLM_API_KEY_FILE") or "").strip()
        if key_file and not api_key:
            # A file (systemd credential, Ansible-deployed 0600 file) keeps the
            # key out of the environment that child processes and crash dumps see.
            try:
                with open(key_file, encoding="utf-8") as fh:
                    api_key = fh.read().strip()
            except OSError as exc:
                raise LLMNotConfigured(
                    f"LLM_API_KEY_FILE cannot be read ({exc.strerror or type(exc).__name__})."
                ) from None
        return cls(
            base_url=base_url,
            model=str(env.get("LLM_MODEL") or "").strip(),
            api_key=api_key,
            timeout=num("LLM_TIMEOUT", 60.0),
            max_retries=num("LLM_MAX_RETRIES", 4, int),
            context_tokens=num("LLM_CONTEXT_TOKENS", 8192, int),
            max_output_tokens=num("LLM_MAX_OUTPUT_TOKENS", 1024, int),
            temperature=num("LLM_TEMPERATURE", 0.2),
        )

    @classmethod
    def from_env(cls) -> "LLMConfig | None":
        return cls.from_mapping(os.environ)


# --------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------
Message = Mapping[str, str]  # {"role": "system"|"user"|"assistant", "content": ...}


@dataclass(frozen=True)
class Completion:
    content: str
    model: str
    finish_reason: str | None
    usage: dict[str, Any]
    attempts: int


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an
    HTTP date, RFC 9110 §10.2.3); ``None`` when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


class ChatClient:
    """Send chat messages, get the assistant's text back.

    ``sleep`` and ``rng`` are injectable so tests can observe the backoff
    schedule without waiting for it; ``transport`` lets a caller reuse an
    ``httpx`` transport. One client can be shared by a worker process.
    """

    def __init__(
        self,
        config: LLMConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        transport: httpx.BaseTransport | None = None,
    ):
        self.config = config
        self._sleep = sleep
        self._rng = rng or random.Random()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        self._http = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(config.timeout, connect=config.connect_timeout),
            transport=transport,
            follow_redirects=False,  # a redirect could carry the key elsewhere
            trust_env=True,
        )

    def __repr__(self) -> str:
        return f"ChatClient({self.config!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "ChatClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers -----------------------------------------------------------
    def _redact(self, text: str) -> str:
        key = self.config.api_key
        if key and key in text:
            text = text.replace(key, REDACTED)
        return text

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**attempt)]."""
        ceiling = min(self.config.backoff_max, self.config.backoff_base * (2**attempt))
        return self._rng.uniform(0, ceiling)

    def _body_excerpt(self, response: httpx.Response) -> str:
        try:
            text = response.text
        except Exception:  # undecodable body
            return ""
        text = " ".join(text.split())[:200]
        return self._redact(text)

    # -- the call ----------------------------------------------------------
    def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        json_mode: bool = False,
    ) -> Completion:
        """One chat completion, with retries. Raises ``LLMError``."""
        payload: dict[str, Any] = {
            "model": self.config.model,
            "messages": [dict(m) for m in messages],
            "temperature": self.config.temperature if temperature is None else temperature,
            "max_tokens": max_tokens or self.config.max_output_tokens,
            "stream": False,
        }
        if json_mode:
            # Understood by Mistral, vLLM, Ollama and llama.cpp; the prompt asks
            # for JSON as well, and prompts.parse_structured tolerates prose.
            payload["response_format"] = {"type": "json_object"}

        spent = 0.0  # seconds in requests and backoff sleeps: the deadline's clock
        attempt = 0
        last_error: LLMError | None = None
        while True:
            attempt += 1
            wait: float | None = None
            sent = time.monotonic()
            try:
                response = self._http.post(self.config.chat_url, json=payload)
            except httpx.TimeoutException:
                last_error = LLMTimeout(
                    f"The language model did not answer within {self.config.timeout:g} s.",
                    attempts=attempt,
                )
            except httpx.TransportError as exc:
                last_error = LLMConnectionError(
                    f"Could not reach the language model endpoint ({type(exc).__name__}).",
                    attempts=attempt,
                )
            else:
                spent += time.monotonic() - sent
                status = response.status_code
                if status == 200:
                    return self._parse(response, attempt)
                if status == 429:
                    message = "The language model endpoint is rate limiting requests (HTTP 429)."
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                    if retry_after is not None and retry_after > self.config.max_retry_after:
                        raise LLMRateLimited(
                            f"{message} It asks to wait {retry_after:.0f} s, more than the "
                            f"{self.config.max_retry_after:g} s allowed.",
                            status=status,
                            attempts=attempt,
                        )
                    last_error = LLMRateLimited(message, status=status, attempts=attempt)
                    wait = retry_after
                elif status >= 500:
                    last_error = LLMServerError(
                        f"The language model endpoint failed (HTTP {status}).",
                        status=status,
                        attempts=attempt,
                    )
                    if status == 503:  # may say when it will be back
                        retry_after = parse_retry_after(response.headers.get("Retry-After"))
                        if retry_after is not None:
                            wait = min(retry_after, self.config.max_retry_after)
                else:
                    excerpt = self._body_excerpt(response)
                    detail = f": {excerpt}" if excerpt else ""
                    raise LLMClientError(
                        f"The language model endpoint refused the request (HTTP {status}){detail}",
                        status=status,
                        attempts=attempt,
                    )

            if last_error.kind in ("timeout", "connection"):
                spent += time.monotonic() - sent
            if attempt > self.config.max_retries:
                raise last_error
            if wait is None:
                wait = self._backoff(attempt - 1)
            if spent + wait > self.config.deadline:
                raise last_error
            spent += wait
            log.warning(
                "LLM call failed (%s, attempt %d of %d); retrying in %.2f s",
                last_error.kind,
                attempt,
                self.config.max_retries + 1,
                wait,
            )
            self._sleep(wait)

    def _parse(self, response: httpx.Response, attempt: int) -> Completion:
        try:
            data = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            raise LLMResponseError(
                "The language model endpoint answered with something that is not JSON.",
                status=200,
                attempts=attempt,
            ) from None
        try:
            choice = data["choices"][0]
            content = choice["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise LLMResponseError(
                "The language model endpoint's answer has no choices[0].message.content.",
                status=200,
                attempts=attempt,
            ) from None
        if isinstance(content, list):  # some servers send content parts
            content = "".join(
                part.get("text", "") for part in content if isinstance(part, dict)
            )
        if not isinstance(content, str):
            raise LLMResponseError(
                "The language model's message content is not text.", status=200, attempts=attempt
            )
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        return Completion(
            content=content,
            model=str(data.get("model") or self.config.model),
            finish_reason=choice.get("finish_reason") if isinstance(choice, dict) else None,
            usage=usage,
            attempts=attempt,
        )
