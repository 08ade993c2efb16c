"""The library pages and endpoints. Thin: the work is in services.py.

Every lookup is ``owner=request.user`` (login is enforced by
LoginRequiredMiddleware), so another user's recording or summary is a 404,
exactly like a missing one, on pages, JSON endpoints and exports alike.
"""
from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _, gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from brefboard.api import tokens as api_tokens
from brefboard.http import own_recording, wants_json as _wants_json
from brefboard.monitoring.decorators import count_requests, monitor_view
from brefboard.recordings.models import Recording
from brefboard.summaries.exports import ExportError, content_disposition, render as render_export, to_pdf

from . import services
from .forms import EditForm
from .models import Summary

PAGE_SIZE = 20
SORT_CHOICES = [
    ("date_desc", gettext_lazy("Plus récentes d'abord")),
    ("date_asc", gettext_lazy("Plus anciennes d'abord")),
    ("title_asc", gettext_lazy("Titre (A → Z)")),
    ("title_desc", gettext_lazy("Titre (Z → A)")),
]


def _own_recording(request, pk: int) -> Recording:
    return own_recording(request, pk, Recording.objects.select_related("summary"))


def _own_summary(request, pk: int) -> Summary:
    return get_object_or_404(Summary.objects.select_related("recording"), pk=pk, recording__owner=request.user)


def _summary_of(rec: Recording) -> Summary | None:
    return getattr(rec, "summary", None)


@monitor_view
@require_GET
def profil(request):
    """The user's transcriptions and summaries: search, sort, pages; their API tokens."""
    return _profil(request)


def _profil(request, *, new_token: str = "", token_error: str = "", status: int = 200):
    search = request.GET.get("search", "").strip()[:200]
    sort = request.GET.get("sort", "date_desc")
    if sort not in services.SORTS and sort != "relevance":
        sort = "date_desc"
    page = Paginator(services.library(request.user, search, sort), PAGE_SIZE).get_page(request.GET.get("page"))
    sort_choices = list(SORT_CHOICES)
    if search and connection.vendor == "postgresql":
        sort_choices.insert(0, ("relevance", _("Pertinence")))
    return render(request, "library/profil.html", {
        "page": page,
        "search": search,
        "sort": sort,
        "sort_choices": sort_choices,
        "pdf_unavailable": services.pdf_unavailable(),
        "api_tokens": api_tokens.for_user(request.user),
        "api_base_url": request.build_absolute_uri("/v1/"),
        "new_token": new_token,
        "token_error": token_error,
    }, status=status)


@monitor_view
@require_POST
def api_token_create(request):
    """A new API token, shown once on the page this POST answers (never stored, never redirected
    through a URL or the session); only its digest and first characters are kept."""
    try:
        _token, raw = api_tokens.create(request.user, request.POST.get("name", ""))
    except api_tokens.TokenError as exc:
        return _profil(request, token_error=str(exc), status=409)
    return _profil(request, new_token=raw)


@monitor_view
@require_POST
def api_token_revoke(request, token_id: int):
    if api_tokens.revoke(request.user, token_id):
        messages.success(request, _("Jeton révoqué : il ne donne plus accès à l'API."))
    else:
        messages.error(request, _("Ce jeton n'existe pas ou est déjà révoqué."))
    return redirect(f"{reverse('profil')}#api-tokens")


@require_GET
def detail(request, pk: int):
    rec = _own_recording(request, pk)
    return render(request, "library/detail.html", {
        "rec": rec,
        "summary": _summary_of(rec),
        "has_segments": rec.segments.exists(),
        "llm_configured": services.llm_configured(),
        "pdf_unavailable": services.pdf_unavailable(),
    })


@require_http_methods(["GET", "POST"])
def edit(request, pk: int):
    rec = _own_recording(request, pk)
    if request.method == "POST":
        form = EditForm(request.POST, instance=rec)
        if form.is_valid():
            changed_text = "transcript" in form.changed_data
            form.save()
            if changed_text:
                messages.info(request, _("Transcription modifiée : régénérez le résumé pour qu'il en tienne compte."))
            return redirect("library_detail", pk=rec.pk)
        return render(request, "library/edit.html", {"rec": rec, "form": form}, status=400)
    return render(request, "library/edit.html", {"rec": rec, "form": EditForm(instance=rec)})


@require_http_methods(["GET", "POST"])
def delete(request, pk: int):
    """GET asks for confirmation; POST deletes the recording, its transcript and summary."""
    rec = _own_recording(request, pk)
    if request.method == "POST":
        title = rec.display_title
        rec.delete()
        messages.success(request, _("« %(title)s » a été supprimé.") % {"title": title})
        return redirect("profil")
    return render(request, "library/confirm_delete.html", {"rec": rec})


@require_POST
def regenerate(request, pk: int):
    rec = _own_recording(request, pk)
    if not rec.transcript.strip():
        message = _("Pas encore de transcription à résumer.")
        if _wants_json(request):
            return JsonResponse({"error": message}, status=409)
        messages.error(request, message)
        return redirect("library_detail", pk=rec.pk)
    summary = services.request_summary(rec)
    if _wants_json(request):
        return JsonResponse(summary.as_dict(), status=202)
    return redirect("library_detail", pk=rec.pk)


@require_GET
def summary_status(request, pk: int):
    rec = _own_recording(request, pk)
    summary = _summary_of(rec)
    if summary is None:
        return JsonResponse({"status": "none", "recording": rec.pk})
    return JsonResponse(summary.as_dict())


@monitor_view
@require_GET
def export(request, pk: int, fmt: str):
    rec = _own_recording(request, pk)
    if rec.status == Recording.Status.RECORDING:  # still recording: nothing final to export
        return HttpResponse(_("Enregistrement inachevé : rien à exporter."), status=409,
                            content_type="text/plain; charset=utf-8")
    try:
        if fmt == "pdf":
            fonts = services.pdf_fonts()
            if fonts is None:
                raise ExportError(services.pdf_unavailable())
            body, content_type = to_pdf(services.export_document(rec), fonts=fonts), "application/pdf"
        else:
            body, content_type = render_export(services.export_document(rec), fmt)
    except ExportError as exc:
        status = 409 if fmt in ("srt", "vtt") else 503
        return HttpResponse(str(exc), status=status, content_type="text/plain; charset=utf-8")
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = content_disposition(rec.display_title, fmt)
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- The original's JSON endpoints (same shapes) --------------------------------------------

@count_requests
@require_GET
def get_summary(request, pk: int):
    summary = _own_summary(request, pk)
    return JsonResponse({"title": summary.title or summary.recording.display_title, "text": summary.text})


@count_requests
@require_http_methods(["POST", "DELETE"])
def delete_summary(request, pk: int):
    """Deletes the summary only; the recording and its transcript stay."""
    _own_summary(request, pk).delete()
    return JsonResponse({"status": "success"})
