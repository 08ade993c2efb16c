"""Top-level URLs: accounts, the library, recordings."""
from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog, set_language

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
    # Browsers ask /favicon.ico for pages that declare no icon (JSON, PDFs, and
    # headless Chromium even for pages that do): a 404 there is a console error.
    path("favicon.ico", login_not_required(lambda request: HttpResponsePermanentRedirect(static("brefboard/favicon.svg"))),
         name="favicon"),
    # The language switch (POST, remembered in a cookie), on the login page too; and the
    # scripts' strings (djangojs from LOCALE_PATHS; the package named only keeps Django's own out).
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("jsi18n/", login_not_required(JavaScriptCatalog.as_view(packages=["brefboard.recordings"])),
         name="javascript-catalog"),
    # The OpenAI-compatible API: bearer tokens, no session, no CSRF (brefboard/api/views.py).
    path("", include("brefboard.api.urls")),
    path("", include("brefboard.accounts.urls")),
    # Before the recordings': the library's `profil` page takes over that URL.
    path("", include("brefboard.library.urls")),
    path("", include("brefboard.recordings.urls")),
]

# One set of French error answers (page or JSON): see brefboard/errors.py.
handler400 = "brefboard.errors.bad_request"
handler403 = "brefboard.errors.permission_denied"
handler404 = "brefboard.errors.page_not_found"
handler500 = "brefboard.errors.server_error"
