#!/usr/bin/env python3
"""A small OpenAI-compatible chat-completions server for tests and the lab.

Python standard library only: it runs with Debian's python3 on a bare host.

    python3 testbed/llm-server.py --host 0.0.0.0 --port 11434 [--api-key-file F] [--model NAME]

Endpoints (also without the /v1 prefix):
  POST /v1/chat/completions  {"model", "messages", ...} -> a chat.completion
  GET  /v1/models            the model list (one model, --model)
  GET  /health               {"status": "ok"} (no key needed: for probes)

With --api-key-file, every /v1 request needs ``Authorization: Bearer <key>``
(401 otherwise, with an OpenAI-style error body). Each request is logged to
stdout as one line (method, path, model, status, time); the key never is.

The answers are deterministic and derived from the text the user message
carries (BrefBoard fences it between ``<<<`` and ``>>>``), so that BrefBoard's
summary path accepts them (app/brefboard/summaries/prompts.py, generate.py):

* JSON asked for (``response_format`` json_object, or "JSON" in the system
  prompt): ``{"key_points": [...], "decisions": [...], "action_items": [...]}``;
  decisions are the sentences saying agreed/decided/décidé/convenu..., action
  items those saying will/shall/must/doit/va..., key points the first other
  sentences;
* a title asked for ("title only", "uniquement par le titre"): the first
  words (at most 8, no final punctuation) of the first sentence of at least
  4 words;
* anything else (summary, part of a long transcript, merge): the model name
  in brackets, then the first sentences: ``[testbed-llm] Bonjour à tous. ...``
  — so a summary from this server is told apart from BrefBoard's extractive
  fallback, which never starts with a bracket.
"""
from __future__ import annotations

import argparse
import hmac
import json
import re
import signal
import socket
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_MODEL = "testbed-llm"
MAX_BODY = 8 * 1024 * 1024
SUMMARY_SENTENCES = 3
TITLE_WORDS = 8

DECISION = re.compile(
    r"\b(agreed|agree|decided|decide|decision|approved|d[ée]cid[ée]e?s?|d[ée]cision|convenu|valid[ée]e?s?|"
    r"adopt[ée]e?s?|approuv[ée]e?s?)\b", re.IGNORECASE)
ACTION = re.compile(
    r"\b(will|shall|must|needs? to|has to|have to|doit|doivent|devra|devront|va|vont|se charge|"
    r"s'occupe|enverra|prépare(?:ra)?)\b", re.IGNORECASE)
TITLE_ASK = re.compile(
    r"(title only|the title\b.*\bonly|uniquement par le titre|donne un titre|give this meeting a title)",
    re.IGNORECASE | re.DOTALL)
SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
FENCE = re.compile(r"<<<\s*(.*?)\s*>>>", re.DOTALL)


def log(line: str) -> None:
    sys.stdout.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}\n")
    sys.stdout.flush()


# --------------------------------------------------------------------------
# The "model": deterministic answers from the text
# --------------------------------------------------------------------------
def text_of(messages: list, model: str = DEFAULT_MODEL) -> tuple[str, str]:
    """(system prompt, the text to work on) of a chat."""
    system = "\n".join(_content(m) for m in messages if isinstance(m, dict) and m.get("role") == "system")
    users = [_content(m) for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    user = users[-1] if users else ""
    fenced = FENCE.search(user)
    if fenced:
        text = fenced.group(1)
    else:  # "Label:\n text" or plain text
        first, _, rest = user.partition("\n")
        text = rest if rest.strip() and first.rstrip().endswith(":") else user
    # A merge request numbers the partial summaries "[1] ...": drop the numbers
    # and our own model marks, so that a merged summary carries one mark only.
    text = re.sub(r"(?m)^\s*\[\d+\]\s*", "", text)
    for mark in {model, DEFAULT_MODEL}:
        text = text.replace(f"[{mark}]", " ")
    return system, " ".join(text.split())


def _content(message: dict) -> str:
    content = message.get("content", "")
    if isinstance(content, list):  # content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_END.split(text) if s.strip()]


def structured(text: str) -> dict:
    found = sentences(text)
    decisions = [s for s in found if DECISION.search(s)]
    actions = [s for s in found if ACTION.search(s) and s not in decisions]
    others = [s for s in found if s not in decisions and s not in actions]
    return {"key_points": (others or found)[:3], "decisions": decisions[:10], "action_items": actions[:10]}


def title(text: str) -> str:
    """The first words of the first sentence of at least 4 words (greetings skipped)."""
    found = sentences(text) or [text]
    first = next((s for s in found if len(s.split()) >= 4), found[0])
    words = first.split()[:TITLE_WORDS]
    out = " ".join(words).strip()
    return out.rstrip(".,;:!?…-–— ") or "Réunion"


def summary(text: str, model: str) -> str:
    body = " ".join(sentences(text)[:SUMMARY_SENTENCES]) or text
    return f"[{model}] {body}".strip()


def answer(request: dict, model: str) -> str:
    messages = request.get("messages") or []
    system, text = text_of(messages, model)
    response_format = request.get("response_format")
    wants_json = (isinstance(response_format, dict) and response_format.get("type") in ("json_object", "json_schema")) \
        or "json" in system.lower()
    if wants_json:
        return json.dumps(structured(text), ensure_ascii=False)
    if TITLE_ASK.search(system):
        return title(text)
    return summary(text, model)


def tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4) if text else 0


def cut_to(content: str, max_tokens) -> tuple[str, str]:
    """Honour max_tokens (4 characters a token): (content, finish_reason)."""
    if isinstance(max_tokens, int) and max_tokens > 0 and tokens(content) > max_tokens:
        return content[: max_tokens * 4], "length"
    return content, "stop"


# --------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------
class Handler(BaseHTTPRequestHandler):
    server_version = "brefboard-testbed-llm/1"
    protocol_version = "HTTP/1.1"
    # set on the class by main()
    api_key = ""
    model = DEFAULT_MODEL
    delay = 0.0

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class' name
        pass  # one line per request from _done(), without headers

    # -- helpers -------------------------------------------------------------
    def _send_json(self, status: int, data: dict, model: str = "-") -> None:
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if status == 401:
            self.send_header("WWW-Authenticate", 'Bearer realm="testbed-llm"')
        self.end_headers()
        self.wfile.write(body)
        self._done(status, model)

    def _error(self, status: int, message: str, kind: str, code: str | None = None, model: str = "-") -> None:
        self._send_json(status, {"error": {"message": message, "type": kind, "param": None, "code": code}}, model)

    def _done(self, status: int, model: str) -> None:
        took = (time.monotonic() - getattr(self, "_started", time.monotonic())) * 1000
        path = self.path.split("?", 1)[0]
        log(f"{self.client_address[0]} {self.command} {path} model={model} status={status} {took:.0f}ms")

    def _route(self) -> str:
        path = self.path.split("?", 1)[0].rstrip("/")
        return path[3:] if path.startswith("/v1/") else path

    def _authorized(self) -> bool:
        if not self.api_key:
            return True
        header = self.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.api_key.encode())

    def _read_body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self._error(413 if length > MAX_BODY else 400, "Bad Content-Length.", "invalid_request_error")
            return None
        return self.rfile.read(length) if length else b""

    # -- methods -------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - http.server's names
        self._started = time.monotonic()
        route = self._route()
        if route in ("/health", ""):
            return self._send_json(200, {"status": "ok", "model": self.model})
        if route == "/models":
            if not self._authorized():
                return self._error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
            return self._send_json(200, {"object": "list", "data": [
                {"id": self.model, "object": "model", "created": 0, "owned_by": "brefboard-testbed"}]})
        if route == "/chat/completions":
            return self._error(405, "Use POST.", "invalid_request_error")
        return self._error(404, f"Unknown path {self.path.split('?', 1)[0]}.", "invalid_request_error")

    def do_POST(self) -> None:  # noqa: N802
        self._started = time.monotonic()
        route = self._route()
        body = self._read_body()
        if body is None:
            return
        if route != "/chat/completions":
            return self._error(404, f"Unknown path {self.path.split('?', 1)[0]}.", "invalid_request_error")
        try:
            request = json.loads(body or b"null")
        except (ValueError, UnicodeDecodeError):
            request = None
        asked = request.get("model") if isinstance(request, dict) else None
        shown = asked.strip()[:200] if isinstance(asked, str) and asked.strip() else "-"
        if not self._authorized():  # the model is logged, the key never is
            return self._error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key",
                               model=shown)
        if not isinstance(request, dict):
            return self._error(400, "The body must be a JSON object.", "invalid_request_error")
        model = request.get("model")
        if not isinstance(model, str) or not model.strip():
            return self._error(400, "'model' is required.", "invalid_request_error", "missing_model")
        model = model.strip()[:200]
        messages = request.get("messages")
        if not isinstance(messages, list) or not messages or not all(
                isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
            return self._error(400, "'messages' must be a non-empty list of {role, content}.",
                               "invalid_request_error", model=model)
        if self.delay:
            time.sleep(self.delay)
        content, finish = cut_to(answer(request, model), request.get("max_tokens"))
        prompt_tokens = sum(tokens(_content(m)) for m in messages)
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": tokens(content),
                 "total_tokens": prompt_tokens + tokens(content)}
        ident, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        if request.get("stream") is True:
            return self._stream(ident, created, model, content, finish, usage)
        self._send_json(200, {
            "id": ident,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": finish, "logprobs": None}],
            "usage": usage,
        }, model)

    def _stream(self, ident: str, created: int, model: str, content: str, finish: str, usage: dict) -> None:
        """``stream: true``: server-sent events, one delta, then [DONE]."""
        def event(delta: dict, reason) -> bytes:
            chunk = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                     "choices": [{"index": 0, "delta": delta, "finish_reason": reason}]}
            return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode("utf-8")

        body = (event({"role": "assistant", "content": content}, None) + event({}, finish) + b"data: [DONE]\n\n")
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self._done(200, model)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; '::' for IPv6)")
    parser.add_argument("--port", type=int, default=11434, help="port (default 11434; 0 picks a free one)")
    parser.add_argument("--api-key-file", help="file holding the bearer key every /v1 request must send")
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"model name /v1/models lists (default {DEFAULT_MODEL})")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before each answer (default 0)")
    args = parser.parse_args(argv)

    Handler.model = args.model
    Handler.delay = max(0.0, args.delay)
    if args.api_key_file:
        try:
            with open(args.api_key_file, encoding="utf-8") as fh:
                Handler.api_key = fh.read().strip()
        except OSError as exc:
            print(f"llm-server: cannot read --api-key-file: {exc.strerror}", file=sys.stderr)
            return 2
        if not Handler.api_key:
            print("llm-server: --api-key-file is empty", file=sys.stderr)
            return 2

    Server.address_family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    try:
        server = Server((args.host, args.port), Handler)
    except OSError as exc:
        print(f"llm-server: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    host, port = server.server_address[:2]
    shown = f"[{host}]" if ":" in host else host
    log(f"listening on http://{shown}:{port}/v1 model={args.model} auth={'bearer' if Handler.api_key else 'none'}")

    class Stop(Exception):
        pass

    def stop(signum, frame):  # systemd's SIGTERM, Ctrl-C: stop, exit 0
        # Raised in the main thread out of serve_forever's wait; starting a thread
        # here instead could deadlock on a lock the interrupted main thread holds.
        raise Stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.5)
    except Stop:
        pass
    finally:
        server.server_close()
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
