"""Top-level URLs: accounts, recordings, and whatever optional apps add."""
from django.apps import apps
from django.contrib import admin
from django.urls import include, path

from brefboard.monitoring.health import healthz
from brefboard.monitoring.views import metrics

urlpatterns = [
    path("admin/", admin.site.urls),
    # Not django_prometheus.urls: that /metrics is public; ours checks BREFBOARD_METRICS_*.
    path("metrics", metrics, name="prometheus-metrics"),
    # For load balancers and the deploy: 200 when this process can serve, 503 when not.
    path("healthz", healthz, name="healthz"),
    path("", include("brefboard.accounts.urls")),
    path("", include("brefboard.recordings.urls")),
]

# Optional apps (e.g. the library) plug in their own URLs when installed; they come
# first so that they may take over a page of ours (the library's `profil`).
if apps.is_installed("brefboard.library"):
    urlpatterns.insert(1, path("", include("brefboard.library.urls")))
