"""BrefBoard's settings without the monitoring, for the "bare" side of bench/web.py.

The app has no switch that turns its instrumentation off (it is meant to be
always on), so the benchmark compares it with this override: the same
settings minus django-prometheus' and BrefBoard's middlewares, with Django's
own database and cache backends instead of django-prometheus' wrappers. The
``@monitor_view`` decorators stay in the views' code; bench/stack.py runs this
variant without prometheus_client's multiprocess directory, so they only
touch in-memory counters.
"""
from brefboard.settings import *  # noqa: F401,F403
from brefboard.settings import CACHES, DATABASES, MIDDLEWARE

MIDDLEWARE = [m for m in MIDDLEWARE if not m.startswith(("django_prometheus.", "brefboard.monitoring."))]
for _db in DATABASES.values():
    _db["ENGINE"] = _db["ENGINE"].replace("django_prometheus.db.backends.", "django.db.backends.")
CACHES = {name: {**conf, "BACKEND": "django.core.cache.backends.locmem.LocMemCache"} for name, conf in CACHES.items()}
