"""API tokens: made, checked, revoked; and the per-token rate limit.

A token is ``bb_`` and 43 URL-safe characters (32 random bytes): too much
entropy to guess, so a plain SHA-256 of it is enough to store (no slow hash,
no salt: nothing here is a password a person chose). The database holds the
digest and the first characters for display; the token itself exists only in
the one answer that shows it to its user.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext

from .models import ApiToken

log = logging.getLogger(__name__)

PREFIX = "bb_"
DISPLAY_CHARS = 10  # "bb_" and 7 characters of the random part
MAX_ACTIVE = 20  # per user: a token is for a tool; more is a script making them in a loop
# last_used_at is written at most this often per token (a busy tool must not write on every request).
LAST_USED_RESOLUTION = timedelta(seconds=60)


class TokenError(Exception):
    pass


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def create(user, name: str = "") -> tuple[ApiToken, str]:
    """A new token for ``user``: the row, and the token itself (to be shown once, never stored)."""
    name = " ".join(str(name or "").split())[:100]
    if ApiToken.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_ACTIVE:
        raise TokenError(gettext("%(n)d jetons actifs au plus : révoquez-en un d'abord.") % {"n": MAX_ACTIVE})
    raw = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=raw[:DISPLAY_CHARS], digest=digest(raw))
    return token, raw


def revoke(user, token_id) -> bool:
    """Revoke ``user``'s token ``token_id``; another user's id changes nothing (False)."""
    try:
        token_id = int(token_id)
    except (TypeError, ValueError):
        return False
    return bool(ApiToken.objects.filter(pk=token_id, user=user, revoked_at__isnull=True)
                .update(revoked_at=timezone.now()))


def for_user(user):
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True)


def authenticate(request) -> ApiToken | None:
    """The active token of ``Authorization: Bearer <token>``, or None (missing, unknown, revoked)."""
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    raw = raw.strip()
    if scheme.lower() != "bearer" or not raw.startswith(PREFIX) or len(raw) > 200:
        return None
    token = (ApiToken.objects.select_related("user").filter(digest=digest(raw), revoked_at__isnull=True).first())
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


# --- Rate limit -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Limit:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int  # seconds until the window resets


def _redis():
    """The broker's Redis, shared by every gunicorn worker (the Django cache is per process)."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    import redis

    client = getattr(_redis, "client", None)
    if client is None or getattr(_redis, "url", None) != url:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        _redis.client, _redis.url = client, url
    return client


def hit(token: ApiToken) -> Limit:
    """Count one request against ``token``'s window of BREFBOARD_API_RATE_WINDOW seconds.

    A fixed window in Redis (INCR, EXPIRE): every web worker and host sees the
    same count. Without Redis (another broker) the Django cache counts, per process.
    If the counter cannot be reached the request is let through (the broker
    being down is reported elsewhere; refusing every API call would not help)."""
    limit = settings.BREFBOARD_API_RATE_LIMIT
    window = max(1, settings.BREFBOARD_API_RATE_WINDOW)
    if limit <= 0:
        return Limit(True, 0, 0, 0)
    now = time.time()
    slot = int(now // window)
    retry_after = max(1, int((slot + 1) * window - now + 0.999))
    key = f"brefboard:api:rate:{token.pk}:{slot}"
    try:
        client = _redis()
        if client is not None:
            pipe = client.pipeline()
            pipe.incr(key)
            pipe.expire(key, window + 5)
            count = int(pipe.execute()[0])
        else:
            cache.add(key, 0, window + 5)
            count = cache.incr(key)
    except Exception:  # noqa: BLE001 - a counter that cannot be reached lets the request through
        log.warning("API rate limit counter unreachable: request let through", exc_info=True)
        return Limit(True, limit, limit, 0)
    return Limit(count <= limit, limit, max(0, limit - count), retry_after)
