"""``/healthz``: is this web process able to serve, and which release is it?

Load balancers and the deploy (roles/brefboard) ask it. It answers 200 when the
process can reach its database, 503 when it cannot, and names the release the
process runs: the directory its code was imported from, so a rollout can check
that the new code is what actually answers (roles/brefboard installs each
release under ``releases/<id>-<flavour>/`` and HUP reloads load it afresh).
No login, no session, no secret in the answer.
"""
from __future__ import annotations

import os
import re

from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

_RELEASE_DIR = re.compile(r"/releases/([^/]+)/")


def running_release(path: str = __file__) -> str:
    """The release directory this code was imported from ("" outside a deployed release)."""
    found = _RELEASE_DIR.search(os.path.realpath(path))
    return found.group(1) if found else ""


# Read once, at import: the code a process runs does not change under it.
RELEASE = running_release()


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except DatabaseError:
        return False


@login_not_required
@never_cache
@require_GET
def healthz(request):
    ok = database_ok()
    return JsonResponse(
        {"status": "ok" if ok else "unavailable", "database": "ok" if ok else "unreachable", "release": RELEASE},
        status=200 if ok else 503,
    )
