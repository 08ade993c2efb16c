"""testbed/llm-server.py, the lab's OpenAI-compatible server, against the app's real
summary path: started as a subprocess (with -I -S: the standard library only, as
Debian's bare python3 would run it), on a free loopback port, with a key file."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import pytest
from django.urls import reverse

from brefboard.library import services
from brefboard.library.models import Summary
from tests.helpers import APP_DIR

from .test_library import FR_TRANSCRIPT, make_recording

pytestmark = pytest.mark.django_db

SERVER = APP_DIR.parent / "testbed" / "llm-server.py"
KEY = "sk-testbed-0123456789abcdef"
MODEL = "testbed-mistral"

EN_TRANSCRIPT = (
    "Good morning everyone. We are reviewing the launch plan of the mobile app. "
    "The launch slips by two weeks because of the payment provider. "
    "We agreed to move the launch to June. Anna will update the roadmap by Friday."
)


class LabServer:
    def __init__(self, key_file):
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", str(SERVER), "--host", "127.0.0.1", "--port", "0",
             "--api-key-file", str(key_file)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        first = self.proc.stdout.readline()  # "... listening on http://127.0.0.1:PORT/v1 ..."
        assert "listening on http://127.0.0.1:" in first, first + (self.proc.stdout.read() or "")
        self.base_url = first.split("listening on ", 1)[1].split()[0]
        self.lines = [first]
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    def output(self) -> str:
        return "".join(self.lines)

    def stop(self) -> int:
        self.proc.terminate()
        code = self.proc.wait(timeout=10)
        self._reader.join(timeout=5)
        return code


@pytest.fixture
def lab_llm(tmp_path):
    key_file = tmp_path / "llm.key"
    key_file.write_text(KEY + "\n")
    server = LabServer(key_file)
    try:
        yield server
    finally:
        server.stop()


def point_app_at(settings, monkeypatch, base_url, key_file):
    for name in services.LLM_SETTINGS:
        monkeypatch.delenv(name, raising=False)
        setattr(settings, name, "")
    settings.LLM_BASE_URL = base_url
    settings.LLM_MODEL = MODEL
    settings.LLM_API_KEY_FILE = str(key_file)
    settings.LLM_MAX_RETRIES = "0"
    settings.LLM_TIMEOUT = "10"


def summarise(rec, django_capture_on_commit_callbacks) -> Summary:
    with django_capture_on_commit_callbacks(execute=False):
        services.request_summary(rec)
    summary = Summary.objects.get(recording=rec)
    services.run_summary(summary.pk, str(summary.request_id))
    summary.refresh_from_db()
    return summary


def call(url, body=None, key=KEY):
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_app_gets_an_llm_summary_from_the_lab_server(alice, alice_client, lab_llm, settings, monkeypatch,
                                                         tmp_path, django_capture_on_commit_callbacks):
    point_app_at(settings, monkeypatch, lab_llm.base_url, tmp_path / "llm.key")
    rec = make_recording(alice, title="")
    summary = summarise(rec, django_capture_on_commit_callbacks)
    assert summary.status == "done", summary.error
    assert summary.method == "llm" and summary.model == MODEL and summary.structured_valid
    # The server's mark and the transcript's first sentences: not the extractive fallback.
    assert summary.text.startswith(f"[{MODEL}] Bonjour à tous. Nous faisons le point sur le budget")
    assert summary.decisions == ["Nous avons décidé de renégocier le contrat avec le fournisseur."]
    assert summary.action_items == ["Paul doit envoyer le nouveau planning avant le 15 mars."]
    assert summary.key_points and all(p in FR_TRANSCRIPT for p in summary.key_points)
    rec.refresh_from_db()
    assert summary.title == rec.title == "Nous faisons le point sur le budget du"
    page = alice_client.get(reverse("library_detail", args=[rec.pk])).content.decode()
    assert f"[{MODEL}]" in page and "Résumé extractif" not in page
    # The log: one line per request (summary, structured part, title), never the key.
    lab_llm.stop()
    out = lab_llm.output()
    assert out.count(f"POST /v1/chat/completions model={MODEL} status=200") == 3, out
    assert KEY not in out


def test_english_transcript_and_the_protocol(alice, lab_llm, settings, monkeypatch, tmp_path,
                                             django_capture_on_commit_callbacks):
    point_app_at(settings, monkeypatch, lab_llm.base_url, tmp_path / "llm.key")
    rec = make_recording(alice, title="", transcript=EN_TRANSCRIPT, language="en")
    summary = summarise(rec, django_capture_on_commit_callbacks)
    assert summary.method == "llm" and summary.language == "en"
    assert summary.decisions == ["We agreed to move the launch to June."]
    assert summary.action_items == ["Anna will update the roadmap by Friday."]
    assert summary.title == "We are reviewing the launch plan of the"
    # The wire format, as an OpenAI client reads it.
    status, body = call(lab_llm.base_url + "/chat/completions",
                        {"model": "m", "messages": [{"role": "user", "content": "Hello there. We decided."}]})
    assert status == 200 and body["object"] == "chat.completion" and body["model"] == "m"
    assert body["id"].startswith("chatcmpl-") and body["choices"][0]["message"]["role"] == "assistant"
    assert body["choices"][0]["finish_reason"] == "stop" and body["usage"]["total_tokens"] > 0
    status, body = call(lab_llm.base_url + "/models")
    assert status == 200 and body["data"][0]["id"] == "testbed-llm"
    status, body = call(lab_llm.base_url + "/chat/completions", {"model": "m", "messages": []})
    assert status == 400 and "messages" in body["error"]["message"]
    status, body = call(lab_llm.base_url + "/models", key="wrong")
    assert status == 401 and body["error"]["code"] == "invalid_api_key"
    assert lab_llm.stop() == 0  # SIGTERM: a clean stop, as systemd expects


def test_a_wrong_key_fails_the_summary_and_says_why(alice, alice_client, lab_llm, settings, monkeypatch, tmp_path,
                                                    django_capture_on_commit_callbacks):
    """What the app does today on an LLM error: the summary job fails with the
    endpoint's answer recorded (no silent extractive fallback); the transcript stays."""
    wrong = tmp_path / "wrong.key"
    wrong.write_text("sk-not-the-right-one")
    point_app_at(settings, monkeypatch, lab_llm.base_url, wrong)
    rec = make_recording(alice, title="Réunion")
    summary = summarise(rec, django_capture_on_commit_callbacks)
    assert summary.status == "failed" and summary.error_kind == "client_error"
    assert "HTTP 401" in summary.error and "sk-not-the-right-one" not in summary.error
    assert summary.text == "" and summary.method != "llm"
    rec.refresh_from_db()
    assert rec.transcript == FR_TRANSCRIPT and rec.title == "Réunion"
    page = alice_client.get(reverse("library_detail", args=[rec.pk])).content.decode()
    assert "La génération du résumé a échoué" in page and "HTTP 401" in page
    lab_llm.stop()
    out = lab_llm.output()
    assert f"POST /v1/chat/completions model={MODEL} status=401" in out and "sk-not-the-right-one" not in out
    # Without an endpoint at all, the same recording gets the extractive summary.
    for name in services.LLM_SETTINGS:
        setattr(settings, name, "")
    summary = summarise(rec, django_capture_on_commit_callbacks)
    assert summary.status == "done" and summary.method == "extractive"
    assert not summary.text.startswith("[")
