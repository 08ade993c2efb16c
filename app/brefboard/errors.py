"""One set of error answers, in the page's language: a page for a browser, JSON for fetch() and API callers.

Django's handlers (400, 403, 404, 500: see ``urls.py``) and the app's own 413
all go through ``error_response``, so the same refusal reads the same
whichever view, middleware or limit produced it. JSON is ``{"error": "…",
"code": "<status name>"}``; it is chosen for ``Accept: application/json``, a
JSON body, the recorder's calls (they send ``X-CSRFToken``) and any ``/api/``
URL.
"""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.utils.translation import gettext, gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.http import JsonResponse
from django.template import loader

MESSAGES = {
    400: ("bad_request", _("Requête invalide"), _("La requête est mal formée ou incomplète.")),
    403: ("forbidden", _("Accès refusé"), _("Vous n'avez pas le droit d'accéder à cette page.")),
    404: ("not_found", _("Page introuvable"), _("Cette page ou cet élément n'existe pas (ou ne vous appartient pas).")),
    413: ("too_large", _("Fichier trop volumineux"), ""),
    500: ("server_error", _("Erreur du serveur"), _("Une erreur interne est survenue ; réessayez dans un moment.")),
}


def wants_json(request) -> bool:
    meta = request.META
    return ("application/json" in meta.get("HTTP_ACCEPT", "") or "application/json" in meta.get("CONTENT_TYPE", "")
            or "HTTP_X_CSRFTOKEN" in meta or meta.get("HTTP_X_REQUESTED_WITH") == "XMLHttpRequest"
            or request.path.startswith("/api/"))


def too_large_message() -> str:
    limit = settings.BREFBOARD_MAX_UPLOAD_BYTES
    size = gettext("%(n)d Mo") % {"n": limit // (1024 * 1024)} if limit >= 1024 * 1024 else gettext("%(n)d octets") % {"n": limit}
    return gettext("Le fichier dépasse la taille maximale autorisée (%(size)s).") % {"size": size}


def error_response(request, status: int, message: str | None = None, **extra):
    code, title, default = MESSAGES[status]
    if status == 413 and not message:
        message = too_large_message()
    message = str(message or default)
    if wants_json(request):
        return JsonResponse({"error": message, "code": extra.pop("code", code), **extra}, status=status)
    template = loader.get_template("500.html" if status >= 500 else "error.html")
    context = {"title": str(title), "message": message, "status": status}
    try:
        body = template.render(context, request)
    except Exception:  # noqa: BLE001 - the page must come out even when the database is down
        body = loader.get_template("500.html").render(context)
    return _html(body, status)


def _html(body: str, status: int):
    from django.http import HttpResponse

    return HttpResponse(body, status=status, content_type="text/html; charset=utf-8")


def bad_request(request, exception=None):
    return error_response(request, 400)


def permission_denied(request, exception=None):
    return error_response(request, 403)


def page_not_found(request, exception=None):
    return error_response(request, 404)


def server_error(request):
    code, title, message = MESSAGES[500]
    if wants_json(request):
        return JsonResponse({"error": str(message), "code": code}, status=500)
    # No request context: the database (sessions, user) may be what failed.
    return _html(loader.get_template("500.html").render({"title": title, "message": message, "status": 500}), 500)


@login_not_required
@csrf_exempt
def too_large(request):
    """``/errors/413/``: the app's 413 for the reverse proxy to serve as its own.

    nginx refuses a body above its ``client_max_body_size`` before the app sees
    it; with ``error_page 413 = @brefboard_413`` and that location proxying
    here (GET, without the body), the user gets this same French page, or JSON
    for fetch(), instead of nginx's English one. Open to anonymous users (an
    expired session may upload too) and to any method.
    """
    return error_response(request, 413)
