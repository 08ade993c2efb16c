"""Top-level URLs: accounts, recordings, and whatever optional apps add."""
from django.apps import apps
from django.contrib import admin
from django.urls import include, path

from brefboard.errors import too_large
from brefboard.monitoring.health import healthz
from brefboard.monitoring.views import metrics

urlpatterns = [
    path("admin/", admin.site.urls),
    # Not django_prometheus.urls: that /metrics is public; ours checks BREFBOARD_METRICS_*.
    path("metrics", metrics, name="prometheus-metrics"),
    # For load balancers and the deploy: 200 when this process can serve, 503 when not.
    path("healthz", healthz, name="healthz"),
    # The app's 413 page/JSON, for nginx to serve when its own body limit refuses a request.
    path("errors/413/", too_large, name="error_413"),
    path("", include("brefboard.accounts.urls")),
    path("", include("brefboard.recordings.urls")),
]

# Optional apps (e.g. the library) plug in their own URLs when installed; they come
# first so that they may take over a page of ours (the library's `profil`).
if apps.is_installed("brefboard.library"):
    urlpatterns.insert(1, path("", include("brefboard.library.urls")))

# One set of French error answers (page or JSON): see brefboard/errors.py.
handler400 = "brefboard.errors.bad_request"
handler403 = "brefboard.errors.permission_denied"
handler404 = "brefboard.errors.page_not_found"
handler500 = "brefboard.errors.server_error"
