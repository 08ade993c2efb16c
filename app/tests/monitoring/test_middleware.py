"""RequestMiddleware, ExceptionMiddleware and the decorators through the whole Django stack;
the numbers are read back from /metrics."""
from __future__ import annotations

import pytest
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponse
from django.test import Client, override_settings
from django.urls import include, path

from brefboard.monitoring.decorators import count_requests, monitor_view
from tests.monitoring.promtool import samples, value

pytestmark = pytest.mark.django_db


@login_not_required
def crash(request):
    raise RuntimeError("disk full")


@login_not_required
def missing(request):
    raise Http404("no such thing")


@login_not_required
@monitor_view
def decorated(request):
    return HttpResponse("ok")


@login_not_required
@count_requests
def counted(request):
    return HttpResponse("ok")


urlpatterns = [
    # A crash in a view named like the upload view: the audio it carried was not kept.
    path("bench/upload-crash/", crash, name="upload"),
    path("bench/missing/", missing, name="bench_missing"),
    path("bench/decorated/", decorated, name="bench_decorated"),
    path("bench/counted/", counted, name="bench_counted"),
    path("", include("brefboard.urls")),
]


def scrape():
    with override_settings(BREFBOARD_METRICS_ALLOWED_CIDRS=["127.0.0.1/32"]):
        return samples(Client().get("/metrics").content.decode())


def delta(before, after, name, **labels):
    return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)


@override_settings(ROOT_URLCONF=__name__)
def test_exceptions_errors_and_single_count_per_request():
    client = Client(raise_request_exception=False)
    before = scrape()
    assert client.get("/bench/upload-crash/").status_code == 500
    assert client.get("/bench/missing/").status_code == 404
    for _ in range(3):
        assert client.get("/bench/decorated/").status_code == 200
        assert client.get("/bench/counted/").status_code == 200
    after = scrape()
    assert delta(before, after, "django_exceptions_total", type="RuntimeError") == 1
    assert delta(before, after, "django_exceptions_total", type="Http404") == 0  # handled by Django
    assert delta(before, after, "django_error_total", type="audio_save_error") == 1
    assert delta(before, after, "django_error_total", type="http_5xx") == 1
    assert delta(before, after, "django_error_total", type="http_4xx") == 1
    # Decorator and middleware both see these requests: each is counted and timed once.
    assert delta(before, after, "django_request_count_total", view_name="bench_decorated") == 3
    assert delta(before, after, "django_view_latency_seconds_count", view_name="bench_decorated") == 3
    assert delta(before, after, "django_request_count_total", view_name="bench_counted") == 3
    assert delta(before, after, "django_view_latency_seconds_count", view_name="bench_counted") == 3
    assert delta(before, after, "django_request_count_total", view_name="upload") == 1


def test_a_cancelled_job_is_not_a_whisper_error():
    """Cancelling raises JobCancelled inside the Whisper call; only real failures count."""
    from brefboard.monitoring.decorators import monitor_whisper_processing
    from brefboard.recordings.tasks import JobCancelled

    @monitor_whisper_processing
    def whisper(exc):
        raise exc

    before = scrape()
    for exc in (JobCancelled("cancelled by the user"), ValueError("not audio")):
        with pytest.raises(type(exc)):
            whisper(exc)
    after = scrape()
    assert delta(before, after, "whisper_errors_total", error_type="JobCancelled") == 0
    assert delta(before, after, "whisper_errors_total", error_type="ValueError") == 1
    assert delta(before, after, "whisper_processing_time_seconds_count") == 2


@override_settings(ROOT_URLCONF=__name__)
def test_django_prometheus_families_the_dashboards_read():
    """PrometheusMiddleware (in place of django-prometheus' Before/After pair): the four
    families of grafana_dashboards/METRICS.md, with their labels; the unread ones are gone."""
    client = Client(raise_request_exception=False)
    before = scrape()
    for _ in range(2):
        assert client.get("/bench/decorated/").status_code == 200
    assert client.post("/bench/counted/").status_code == 200
    assert client.get("/bench/upload-crash/").status_code == 500
    assert client.get("/profil/").status_code == 302  # LoginRequiredMiddleware answers: no view ran
    after = scrape()
    req = "django_http_requests_total_by_view_transport_method_total"
    resp = "django_http_responses_total_by_status_view_method_total"
    lat = "django_http_requests_latency_seconds_by_view_method_count"
    assert delta(before, after, req, view="bench_decorated", transport="http", method="GET") == 2
    assert delta(before, after, req, view="bench_counted", transport="http", method="POST") == 1
    assert delta(before, after, resp, status="200", view="bench_decorated", method="GET") == 2
    assert delta(before, after, resp, status="500", view="upload", method="GET") == 1
    assert delta(before, after, lat, view="bench_decorated", method="GET") == 2
    assert delta(before, after, lat, view="upload", method="GET") == 1  # once, not twice
    assert delta(before, after, "django_http_exceptions_total_by_type_total", type="RuntimeError") == 1
    # the redirect: a response of the library view, but its view never ran
    assert delta(before, after, resp, status="302", view="profil", method="GET") == 1
    assert delta(before, after, req, view="profil", transport="http", method="GET") == 0
    le = [labels for (name, labels) in after if name == "django_http_requests_latency_seconds_by_view_method_bucket"]
    assert {dict(l)["le"] for l in le} >= {"0.01", "0.1", "1.0", "75.0", "+Inf"}  # django-prometheus' buckets
    names = {name for name, _ in after}
    for unread in ("django_http_requests_before_middlewares_total", "django_http_requests_total_by_method_total",
                   "django_http_responses_body_total_bytes_bucket", "django_http_responses_total_by_templatename_total"):
        assert unread not in names
