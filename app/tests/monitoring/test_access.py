"""Who may read /metrics: the allowlist, basic auth, and everyone else.

Requests go through the full Django stack (middlewares, URL resolver, view)
with the address and headers a real client would send.
"""
from __future__ import annotations

import base64

import pytest
from django.test import Client, override_settings

from brefboard.monitoring.access import FORBIDDEN, UNAUTHORIZED, Policy

pytestmark = pytest.mark.django_db


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def get(addr: str, auth: str | None = None):
    extra = {"HTTP_AUTHORIZATION": auth} if auth else {}
    return Client(REMOTE_ADDR=addr).get("/metrics", **extra)


@override_settings(BREFBOARD_METRICS_ALLOWED_CIDRS=["10.0.0.0/24", "2001:db8::/64"], BREFBOARD_METRICS_PASSWORD="")
def test_allowlist_hit_and_miss():
    ok = get("10.0.0.7")
    assert ok.status_code == 200 and b"django_request_count_total" in ok.content
    assert get("2001:db8::5").status_code == 200
    assert get("::ffff:10.0.0.9").status_code == 200  # IPv4 seen through a dual-stack socket
    for outsider in ("10.0.1.7", "127.0.0.1", "2001:db9::1"):
        r = get(outsider)
        assert r.status_code == 403 and b"django_" not in r.content, outsider
    # A forwarded header is not an address: it cannot talk its way in.
    r = Client(REMOTE_ADDR="192.0.2.1").get("/metrics", HTTP_X_FORWARDED_FOR="10.0.0.7")
    assert r.status_code == 403


@override_settings(BREFBOARD_METRICS_ALLOWED_CIDRS=[], BREFBOARD_METRICS_USERNAME="prom",
                   BREFBOARD_METRICS_PASSWORD="s3cret-pass: with colon")
def test_basic_auth_good_bad_missing():
    good = get("192.0.2.1", basic("prom", "s3cret-pass: with colon"))
    assert good.status_code == 200 and b"django_request_count_total" in good.content
    missing = get("192.0.2.1")
    assert missing.status_code == 401 and missing["WWW-Authenticate"].startswith("Basic ")
    for auth in (basic("prom", "wrong"), basic("other", "s3cret-pass: with colon"), "Basic !!notbase64",
                 "Bearer s3cret-pass", basic("prom", "")):
        r = get("192.0.2.1", auth)
        assert r.status_code == 401 and b"django_" not in r.content, auth


@override_settings(BREFBOARD_METRICS_ALLOWED_CIDRS=["10.0.0.0/8"], BREFBOARD_METRICS_PASSWORD="pw")
def test_both_allowlist_or_credentials():
    assert get("10.1.2.3").status_code == 200
    assert get("192.0.2.1", basic("metrics", "pw")).status_code == 200  # default user name
    assert get("192.0.2.1").status_code == 401


@override_settings(BREFBOARD_METRICS_ALLOWED_CIDRS=[], BREFBOARD_METRICS_PASSWORD="")
def test_nothing_configured_means_nobody():
    assert get("127.0.0.1").status_code == 403


def test_malformed_network_is_a_clear_error():
    with pytest.raises(ValueError, match="not a network"):
        Policy.build(["10.0.0.300/24"])
    assert Policy.build(["10.0.0.0/8"]).check("not-an-ip", None) == FORBIDDEN
    assert Policy.build([], password="x").check(None, None) == UNAUTHORIZED


@override_settings(BREFBOARD_METRICS_ALLOWED_CIDRS=["127.0.0.1/32"])
def test_no_user_names_or_ids_in_labels(alice_client, alice):
    """Pages with ids in their path are labelled by view name, never by path, user or id."""
    alice_client.get("/recordings/987654/")  # 404: not hers / not there
    alice_client.get("/get_transcription/987654/")
    alice_client.get("/no/such/page/")
    text = Client().get("/metrics").content.decode()
    assert 'django_request_count_total{view_name="recording_detail"}' in text
    assert 'django_request_count_total{view_name="unresolved"}' in text
    for secret in ("987654", "alice", "no/such"):
        assert secret not in text
