"""The OpenAI-compatible API on the deployed site, with the official ``openai`` package.

A user makes an API token on their profile page (/profil/, "Jetons d'API"), reads
it from the page (shown once), and points the openai client at the site's /v1/:
the espeak meeting is transcribed by the site's workers and appears in the
user's library in the browser; revoked on the same page, the token gets 401.
Read-only runs only check that /v1/ refuses a request without a token, in
OpenAI's error shape, through nginx.
"""
from __future__ import annotations

import re

import pytest

from support import speech


def api_client(cfg, token: str):
    import httpx2
    import openai

    # No proxy from the environment, the test host's certificate when told, and no retries:
    # every answer reaches the test as the site gave it.
    http = httpx2.Client(trust_env=False, verify=cfg.verify, timeout=300)
    return openai.OpenAI(api_key=token, base_url=cfg.url("/v1"), max_retries=0, http_client=http)


def test_the_api_refuses_a_request_without_a_valid_token(cfg):
    s = cfg.session()
    for headers in ({}, {"Authorization": "Bearer bb_not-a-token-of-this-site"}):
        r = s.get(cfg.url("/v1/models"), headers=headers, timeout=30)
        assert r.status_code == 401, f"/v1/models with {headers or 'no token'} answered {r.status_code}"
        error = r.json()["error"]
        assert error["code"] == "invalid_api_key" and error["message"], error
    r = s.post(cfg.url("/v1/audio/transcriptions"), files={"file": ("x.wav", b"RIFF", "audio/wav")},
               data={"model": "whisper-1"}, timeout=30)
    assert r.status_code == 401, f"a POST without a token answered {r.status_code}: {r.text[:200]}"


@pytest.mark.writes
def test_a_token_from_the_profile_page_transcribes_with_the_openai_client(cfg, user_browser, passages, audio_dir,
                                                                         created):
    import openai
    from selenium.webdriver.common.by import By

    b = user_browser
    b.go("/profil/")
    b.driver.find_element(By.ID, "api-token-name").send_keys("acceptance")
    b.driver.find_element(By.ID, "create-api-token").click()
    token = b.wait(lambda: b.text("#new-api-token"), 20, "the new token on the profile page")
    assert re.fullmatch(r"bb_[A-Za-z0-9_-]{40,}", token), f"the page shows {token!r} as the token"
    b.go("/profil/")
    assert token not in b.driver.page_source, "the token is shown again: it must be shown once"
    assert b.driver.find_elements(By.CSS_SELECTOR, f'tr[data-prefix="{token[:10]}"]'), "the new token is not listed"

    client = api_client(cfg, token)
    served = [m.id for m in client.models.list()]
    assert "whisper-1" in served, f"/v1/models lists {served}"
    wav = speech.synthesize(passages["upload"], cfg.language, audio_dir, "api")
    with open(wav, "rb") as fh:
        raw = client.audio.transcriptions.with_raw_response.create(
            model="whisper-1", file=fh, language=cfg.language, response_format="verbose_json",
            timestamp_granularities=["segment"])
    page = raw.headers.get("X-BrefBoard-Recording", "")
    found = re.search(r"/recordings/(\d+)/$", page)
    assert found, f"the answer names no recording (X-BrefBoard-Recording: {page!r})"
    rid = int(found.group(1))
    created.recordings.add(rid)
    result = raw.parse()
    speech.check_transcript(passages["upload"], result.text, "the API's transcript")
    assert result.segments and result.duration == pytest.approx(speech.wav_seconds(wav), abs=1.0)
    with open(wav, "rb") as fh:
        raw = client.audio.transcriptions.with_raw_response.create(model="whisper-1", file=fh,
                                                                   language=cfg.language, response_format="srt")
    created.recordings.update(int(n) for n in re.findall(r"/recordings/(\d+)/",
                                                           raw.headers.get("X-BrefBoard-Recording", "")))
    subtitles = raw.parse()
    assert re.match(r"1\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n", subtitles), subtitles[:200]

    # The same job as the pages' own: in the user's library, transcribed.
    b.go("/profil/")
    item = b.wait(lambda: b.driver.find_element(By.ID, f"rec-{rid}"), 20, f"recording {rid} in the library")
    # The entry shows the transcript's opening (cut short): the API's own words, not a word count.
    opening = " ".join(result.text.split()[:6])
    assert opening in " ".join(item.text.split()), (
        f"the library's entry of recording {rid} does not show the API's transcript {opening!r}: {item.text!r}")

    # Revoked on the profile page: 401 from then on.
    b.driver.find_element(By.CSS_SELECTOR, f'tr[data-prefix="{token[:10]}"] button.revoke-token').click()
    b.wait(lambda: b.path.startswith("/profil/") and not b.driver.find_elements(
        By.CSS_SELECTOR, f'tr[data-prefix="{token[:10]}"]'), 20, "the revoked token to leave the list")
    with pytest.raises(openai.AuthenticationError) as refused:
        client.models.list()
    assert refused.value.status_code == 401
