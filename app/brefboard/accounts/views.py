"""Signup view and the CSRF failure answer; login and logout are Django's own views (see urls.py)."""
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext, gettext_lazy as _
from django.views.decorators.http import require_http_methods

from .forms import SignupForm


@login_not_required
@require_http_methods(["GET", "POST"])
def inscription(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("home")
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/inscription.html", {"form": form}, status=status)


# Django's reasons (django.middleware.csrf.REASON_*), by their start, in the page's language.
_CSRF_REASONS = (
    ("Origin checking failed", _("l'origine de la requête (%(origin)s) n'est pas une origine de confiance "
                                 "(le site doit être ouvert à une adresse listée dans DJANGO_CSRF_TRUSTED_ORIGINS)")),
    ("Referer checking failed - no Referer", _("l'en-tête Referer manque (requis en HTTPS)")),
    ("Referer checking failed", _("la page d'origine (Referer) n'est pas une origine de confiance")),
    ("CSRF cookie not set", _("le cookie CSRF est absent (cookies bloqués, ou cookie « Secure » "
                              "refusé sur une connexion HTTP)")),
    ("CSRF token missing", _("le jeton CSRF est absent")),
    ("CSRF token", _("le jeton CSRF est invalide ou périmé")),
)


def _csrf_reason_fr(request, reason: str) -> str:
    for start, text in _CSRF_REASONS:
        if reason.startswith(start):
            return str(text) % {"origin": request.META.get("HTTP_ORIGIN", "?")} if "%(origin)s" in str(text) else str(text)
    return gettext("la vérification CSRF a échoué")


def _wants_json(request) -> bool:
    meta = request.META
    return ("application/json" in meta.get("HTTP_ACCEPT", "") or "application/json" in meta.get("CONTENT_TYPE", "")
            or "HTTP_X_CSRFTOKEN" in meta or meta.get("HTTP_X_REQUESTED_WITH") == "XMLHttpRequest")


def csrf_failure(request, reason: str = ""):
    """CSRF_FAILURE_VIEW: 403, as JSON for fetch() callers (the recorder sends
    Accept: application/json and X-CSRFToken), else a French page."""
    why = _csrf_reason_fr(request, reason)
    message = gettext("Requête refusée par la protection CSRF : %(why)s. Rechargez la page et réessayez.") % {"why": why}
    if _wants_json(request):
        return JsonResponse({"error": message, "code": "csrf"}, status=403)
    return render(request, "accounts/csrf_failure.html", {"message": message}, status=403)
