"""A local OpenAI-compatible chat-completions server for the LLM tests.

The real endpoints (Mistral's API, a GPU box running vLLM) cannot be reached
from the test machines, so the tests run the client against this server on
127.0.0.1: a real HTTP server on a real socket, so timeouts, status codes,
headers and broken bodies go through the real httpx stack. It records every
request and answers, in order, whatever the test scripted (429, 500, a slow
answer, a malformed body), then falls back to a ``responder`` function that
plays a rule-following model.
"""
from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def messages(self) -> list[dict]:
        return self.body.get("messages", []) if isinstance(self.body, dict) else []

    @property
    def system(self) -> str:
        return next((m["content"] for m in self.messages if m["role"] == "system"), "")

    @property
    def user(self) -> str:
        return next((m["content"] for m in self.messages if m["role"] == "user"), "")


@dataclass
class Reply:
    status: int = 200
    content: str | None = None  # assistant text, wrapped in a completion
    raw: bytes | None = None  # exact body instead of a completion
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering


def completion(content: str, model: str = "fake-model") -> bytes:
    return json.dumps(
        {
            "id": "cmpl-test",
            "object": "chat.completion",
            "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
    ).encode()


def default_responder(req: Recorded) -> str:
    """A model that follows the prompts: JSON when asked, a title when asked."""
    system = req.system.lower()
    if "json" in system:
        return json.dumps({"key_points": ["Point A"], "decisions": ["Décision B"],
                           "action_items": ["Action C"]})
    if re.search(r"(au plus|at most) \d+ (mots|words)", system):
        return "Réunion de test"
    return "Résumé formel de la réunion."


class FakeLLM:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.script: deque[Reply] = deque()
        self.responder: Callable[[Recorded], str | Reply] = default_responder
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw
                rec = Recorded("POST", self.path, {k: v for k, v in self.headers.items()}, body)
                with outer._lock:
                    outer.requests.append(rec)
                    reply = outer.script.popleft() if outer.script else None
                if reply is None:
                    answer = outer.responder(rec)
                    reply = answer if isinstance(answer, Reply) else Reply(content=answer)
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.raw if reply.raw is not None else completion(reply.content or "")
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def push(self, *replies: Reply) -> None:
        self.script.extend(replies)

    def start(self) -> "FakeLLM":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


SECRET = "sk-test-5e1c2e7-DO-NOT-LEAK"
