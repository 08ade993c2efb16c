"""The protected ``/metrics`` view of the web process."""
from __future__ import annotations

import functools

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.views.decorators.http import require_GET

from . import access, collectors, exposition


def _policy() -> access.Policy:
    """Read per request: cheap, and a settings change needs no restart of this code path."""
    return access.Policy.from_settings()


@functools.lru_cache(maxsize=1)
def _scrape_collectors() -> tuple:
    """Queue and job collectors, built once per process (one Redis connection pool)."""
    import redis
    from django.conf import settings

    found = [collectors.JobsCollector()]
    broker = settings.CELERY_BROKER_URL
    if broker.startswith(("redis://", "rediss://", "unix://")):
        client = redis.Redis.from_url(broker, socket_timeout=2, socket_connect_timeout=2)
        found.insert(0, collectors.QueueCollector(client, collectors.monitored_queues()))
    return tuple(found)


@login_not_required  # guarded by the metrics policy instead of a user session
@require_GET
def metrics(request):
    """Everything Prometheus scrapes from the web host; 403/401 unless the policy allows."""
    verdict = _policy().check(request.META.get("REMOTE_ADDR"), request.META.get("HTTP_AUTHORIZATION"))
    if verdict == access.UNAUTHORIZED:
        response = HttpResponse("authentication required\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = access.REALM
        return response
    if verdict != access.ALLOWED:
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    body, content_type = exposition.render(_scrape_collectors())
    return HttpResponse(body, content_type=content_type)
