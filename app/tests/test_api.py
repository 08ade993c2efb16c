"""The OpenAI-compatible API (/v1/), driven by the official ``openai`` package.

The client talks HTTP to a live test server; the transcriptions are done by a
real `celery worker` with tiny.en, from espeak-ng speech. Tokens are made and
revoked on the profile page as a user does it (a form POST with its CSRF token).
"""
from __future__ import annotations

import os
import re

import openai
import pytest
import srt
import webvtt
from django.conf import settings
from django.test import Client, override_settings

from brefboard.api.models import ApiToken
from brefboard.recordings.models import Recording
from tests.helpers import words
from tests.monitoring.promtool import samples, value

EXPECTED = {"budget", "meeting", "marketing", "report", "sales"}


def scrape():
    with override_settings(BREFBOARD_METRICS_ALLOWED_CIDRS=["127.0.0.1/32"]):
        return samples(Client().get("/metrics").content.decode())


def make_token(client, name="tool") -> str:
    """Create a token on the profile page, CSRF included, and read it from the page."""
    page = client.get("/profil/").content.decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    r = client.post("/profil/api-tokens/", {"name": name, "csrfmiddlewaretoken": csrf})
    assert r.status_code == 200, r.content
    return re.search(r'id="new-api-token"[^>]*>(bb_[A-Za-z0-9_-]+)<', r.content.decode()).group(1)


def revoke(client, raw: str) -> None:
    token = ApiToken.objects.get(prefix=raw[:10], revoked_at__isnull=True)
    page = client.get("/profil/").content.decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    r = client.post(f"/profil/api-tokens/{token.pk}/revoke/", {"csrfmiddlewaretoken": csrf})
    assert r.status_code == 302


def api(live_server, token: str) -> openai.OpenAI:
    # No retries: a 429 or a 5xx must reach the test as it was answered.
    return openai.OpenAI(api_key=token, base_url=live_server.url + "/v1", max_retries=0, timeout=150)


@pytest.fixture
def csrf_alice(alice):
    c = Client(enforce_csrf_checks=True)
    c.force_login(alice)
    return c


@pytest.fixture
def csrf_bob(bob):
    c = Client(enforce_csrf_checks=True)
    c.force_login(bob)
    return c


# --- With a worker: every response format, through the official client ------------------------

@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_openai_client_transcribes_in_every_format_and_the_job_is_the_users(
            live_server, csrf_alice, csrf_bob, alice, bob, english_wav, start_worker):
    start_worker()
    raw = make_token(csrf_alice)
    client = api(live_server, raw)
    before = scrape()

    served = [m.id for m in client.models.list()]
    model = os.path.basename(settings.BREFBOARD_MODEL.rstrip("/"))  # a name, never the worker's path
    assert served == [model, "whisper-1"], served

    with open(english_wav, "rb") as fh:
        result = client.audio.transcriptions.create(model="whisper-1", file=fh, language="en")
    assert EXPECTED <= set(words(result.text)), result.text

    with open(english_wav, "rb") as fh:
        verbose = client.audio.transcriptions.create(
            model=model, file=fh, response_format="verbose_json", timestamp_granularities=["segment"],
            temperature=0.0, prompt="Quarterly budget.")
    assert verbose.language == "english" and EXPECTED <= set(words(verbose.text))
    assert 6.0 < verbose.duration < 15.0, verbose.duration
    assert verbose.segments and all(s.start < s.end <= verbose.duration + 0.5 for s in verbose.segments)
    assert all(a.end <= b.start + 0.01 for a, b in zip(verbose.segments, verbose.segments[1:]))
    assert " ".join(s.text.strip() for s in verbose.segments) == verbose.text

    with open(english_wav, "rb") as fh:
        text = client.audio.transcriptions.create(model="whisper-1", file=fh, response_format="text")
    assert isinstance(text, str) and EXPECTED <= set(words(text))
    with open(english_wav, "rb") as fh:
        subtitles = list(srt.parse(client.audio.transcriptions.create(model="whisper-1", file=fh,
                                                                        response_format="srt")))
    assert subtitles and EXPECTED <= set(words(" ".join(s.content for s in subtitles)))
    with open(english_wav, "rb") as fh:
        vtt = client.audio.transcriptions.create(model="whisper-1", file=fh, response_format="vtt")
    cues = webvtt.from_string(vtt)
    assert vtt.startswith("WEBVTT") and EXPECTED <= set(words(" ".join(c.text for c in cues)))

    # Same queue, same workers, same library: five recordings of Alice's, all transcribed.
    mine = Recording.objects.filter(owner=alice)
    assert mine.count() == 5 and set(mine.values_list("status", flat=True)) == {"done"}
    assert "marketing" in csrf_alice.get("/profil/").content.decode().lower()
    token = ApiToken.objects.get(user=alice)
    assert token.last_used_at is not None and token.digest != raw and raw not in token.digest

    # Metrics: by status and format, audio seconds; no token or user anywhere on /metrics.
    after = scrape()
    for fmt in ("json", "text", "srt", "vtt", "verbose_json"):
        assert value(after, "brefboard_api_requests_total", status="200", response_format=fmt) - (
            value(before, "brefboard_api_requests_total", status="200", response_format=fmt) or 0) == 1, fmt
    seconds = value(after, "brefboard_api_audio_seconds_total") - (value(before, "brefboard_api_audio_seconds_total") or 0)
    assert abs(seconds - 5 * verbose.duration) < 1.0, seconds
    with override_settings(BREFBOARD_METRICS_ALLOWED_CIDRS=["127.0.0.1/32"]):
        exposition = Client().get("/metrics").content.decode()
    assert raw not in exposition and token.prefix not in exposition and "alice" not in exposition

    # Bob's token: his upload is his, and nothing of Alice's is reachable with it.
    bob_raw = make_token(csrf_bob, "bob's tool")
    with open(english_wav, "rb") as fh:
        api(live_server, bob_raw).audio.transcriptions.create(model="whisper-1", file=fh, language="en")
    assert Recording.objects.filter(owner=bob).count() == 1 and mine.count() == 5
    alice_rec = mine.first()
    for path in (f"/get_transcription/{alice_rec.pk}/", f"/recordings/{alice_rec.pk}/",
                 f"/library/{alice_rec.pk}/export/txt/", f"/v1/recordings/{alice_rec.pk}"):
        r = Client().get(path, HTTP_AUTHORIZATION=f"Bearer {bob_raw}")
        assert r.status_code in (302, 404), (path, r.status_code)
        assert "marketing" not in r.content.decode().lower()

    # Revoked on the profile page: 401 from then on, in OpenAI's error shape.
    revoke(csrf_alice, raw)
    with pytest.raises(openai.AuthenticationError) as refused, open(english_wav, "rb") as fh:
        client.audio.transcriptions.create(model="whisper-1", file=fh)
    assert refused.value.status_code == 401 and refused.value.code == "invalid_api_key"
    assert mine.count() == 5  # nothing was stored for the refused request


# --- Without a worker: refusals, tokens, the rate limit --------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_bad_requests_get_400_or_413_and_store_nothing(live_server, csrf_alice, alice, english_wav, tmp_path):
    kept = Recording.objects.create(owner=alice, source="upload", status="done", transcript="kept text")
    client = api(live_server, make_token(csrf_alice))
    garbage = tmp_path / "notes.wav"
    garbage.write_bytes(b"RIFF\x00\x00\x00\x00WAVEthis is not audio" * 50)
    with pytest.raises(openai.BadRequestError) as bad, open(garbage, "rb") as fh:
        client.audio.transcriptions.create(model="whisper-1", file=fh)
    assert bad.value.status_code == 400 and bad.value.body["param"] == "file"
    assert bad.value.body["type"] == "invalid_request_error" and bad.value.body["message"]
    for kwargs, param in (({"model": "gpt-9-transcribe"}, "model"),
                          ({"model": "whisper-1", "response_format": "docx"}, "response_format"),
                          ({"model": "whisper-1", "language": "english!"}, "language"),
                          ({"model": "whisper-1", "temperature": 3}, "temperature"),
                          ({"model": "whisper-1", "timestamp_granularities": ["word"],
                            "response_format": "verbose_json"}, "timestamp_granularities")):
        with pytest.raises(openai.BadRequestError) as bad, open(english_wav, "rb") as fh:
            client.audio.transcriptions.create(file=fh, **kwargs)
        assert bad.value.body["param"] == param, (kwargs, bad.value.body)
    with override_settings(BREFBOARD_MAX_UPLOAD_BYTES=10_000):
        with pytest.raises(openai.APIStatusError) as big, open(english_wav, "rb") as fh:
            client.audio.transcriptions.create(model="whisper-1", file=fh)
    assert big.value.status_code == 413 and big.value.body["code"] == "file_too_large"
    assert list(Recording.objects.filter(owner=alice)) == [kept]
    kept.refresh_from_db()
    assert kept.transcript == "kept text" and kept.status == "done"


@pytest.mark.django_db
def test_tokens_are_shown_once_stored_hashed_and_revoked_only_by_their_owner(csrf_alice, csrf_bob, alice):
    raw = make_token(csrf_alice, "my script")
    assert len(raw) > 40
    row = ApiToken.objects.get(user=alice)
    assert row.name == "my script" and row.prefix == raw[:10] and raw not in (row.digest, row.prefix)
    page = csrf_alice.get("/profil/").content.decode()
    assert raw not in page and row.prefix in page and "my script" in page  # shown once, listed after
    # Without the CSRF token the form is refused and no token is made.
    assert csrf_alice.post("/profil/api-tokens/", {"name": "forged"}).status_code == 403
    assert ApiToken.objects.filter(user=alice).count() == 1
    # A valid token, sent as OpenAI's clients send it; an unknown one and none are 401.
    assert Client().get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    for header in (f"Bearer {raw[:-1]}x", "", f"Basic {raw}", "Bearer bb_"):
        r = Client().get("/v1/models", HTTP_AUTHORIZATION=header)
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key", header
    # Bob cannot revoke Alice's token, even by its id.
    page = csrf_bob.get("/profil/").content.decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    csrf_bob.post(f"/profil/api-tokens/{row.pk}/revoke/", {"csrfmiddlewaretoken": csrf})
    assert Client().get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    revoke(csrf_alice, raw)
    assert Client().get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
    assert raw not in csrf_alice.get("/profil/").content.decode()
    # A logged-in browser session is no API credential: /v1/ wants the bearer token.
    r = csrf_alice.post("/v1/audio/transcriptions", {"model": "whisper-1"})
    assert r.status_code == 401 and r.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.django_db
def test_rate_limit_answers_429_with_retry_after(csrf_alice, csrf_bob, redis_server):
    redis_server.flushall()
    raw, other = make_token(csrf_alice), make_token(csrf_bob)
    before = scrape()
    with override_settings(BREFBOARD_API_RATE_LIMIT=3, BREFBOARD_API_RATE_WINDOW=60):
        codes = [Client().get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code for _ in range(3)]
        refused = Client().post("/v1/audio/transcriptions", {"model": "whisper-1"},
                                HTTP_AUTHORIZATION=f"Bearer {raw}")
        # The limit is per token: Bob's is untouched.
        assert Client().get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {other}").status_code == 200
    assert codes == [200, 200, 200]
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert 1 <= int(refused["Retry-After"]) <= 60
    after = scrape()
    assert value(after, "brefboard_api_rate_limited_total") - (value(before, "brefboard_api_rate_limited_total") or 0) == 1
    assert value(after, "brefboard_api_requests_total", status="429", response_format="none") >= 1
