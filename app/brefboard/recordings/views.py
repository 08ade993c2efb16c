"""Pages and JSON endpoints. Thin: the work is in services.py (which alone sends tasks).

Every view is login-protected by LoginRequiredMiddleware and looks objects up
with ``owner=request.user``, so another user's id is a 404 like a missing one.
"""
from __future__ import annotations

import json
import uuid

from django.conf import settings
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ..errors import error_response
from ..http import own_recording as _own_recording
from ..http import ranged_response
from ..http import wants_json as _wants_json
from ..monitoring.decorators import monitor_view
from ..monitoring.jobs import recording_rejected
from . import services, storage
from .models import Recording, TranscriptionJob
from .services import ServiceError


def _error(exc: ServiceError) -> JsonResponse:
    return JsonResponse({"error": exc.message, **exc.extra}, status=exc.status)


def _own_job(request, job_id: str) -> TranscriptionJob:
    try:
        uuid.UUID(str(job_id))
    except ValueError:
        raise Http404(_("travail inconnu")) from None
    return get_object_or_404(TranscriptionJob, pk=job_id, recording__owner=request.user)


# --- Pages ---------------------------------------------------------------------------------

@monitor_view
@require_GET
def home(request):
    """The recorder, the upload form, and the latest recordings."""
    recent = Recording.objects.filter(owner=request.user).prefetch_related("jobs")[:10]
    return render(request, "recordings/home.html", {
        "recent": recent,
        "max_upload_mb": settings.BREFBOARD_MAX_UPLOAD_BYTES // (1024 * 1024),
        "default_language": services.default_language() or "auto",
    })


@require_GET
def recording_detail(request, pk: int):
    rec = _own_recording(request, pk)
    segments = list(rec.segments.all())
    speakers = rec.speakers()
    names = dict(speakers)
    for s in segments:
        s.speaker_label = names.get(s.speaker, "")
    return render(request, "recordings/detail.html", {
        "rec": rec,
        "job": rec.latest_job(),
        "segments": segments,
        "speakers": speakers,
    })


@require_POST
def recording_speakers(request, pk: int):
    """Rename the recording's speakers: form fields ``speaker-<n>`` (a plain form, CSRF token)."""
    rec = _own_recording(request, pk)
    names = {}
    for key, value in request.POST.items():
        if key.startswith("speaker-") and key[8:].isdigit():
            names[int(key[8:])] = value
    try:
        services.rename_speakers(rec, names)
    except ServiceError as exc:
        return error_response(request, exc.status, exc.message)
    if _wants_json(request):
        return JsonResponse({"speakers": [{"number": n, "name": name} for n, name in rec.speakers()]})
    return redirect("recording_detail", pk=rec.pk)


@monitor_view
@require_POST
def upload(request):
    """Upload an audio or video file; 413 above the size limit, before anything is read."""
    if _declared_length(request) > settings.BREFBOARD_MAX_UPLOAD_BYTES + 64 * 1024:  # + multipart framing
        recording_rejected(413)
        return error_response(request, 413)  # the same 413 as a file found too big once read
    uploaded = request.FILES.get("audio")
    try:
        if uploaded is None:
            raise ServiceError(_("aucun fichier reçu (champ « audio »)"))
        rec = services.create_upload(
            request.user, uploaded, title=request.POST.get("title", ""), language=request.POST.get("language"),
            speakers=request.POST.get("speakers"),
        )
    except ServiceError as exc:
        recording_rejected(exc.status)
        if exc.status == 413:
            return error_response(request, 413)
        if _wants_json(request):
            return _error(exc)
        return render(request, "recordings/upload_error.html", {"error": exc.message}, status=exc.status)
    job = rec.latest_job()
    if _wants_json(request):
        return JsonResponse({"recording": rec.pk, "job": str(job.pk), "url": rec_url(rec)}, status=201)
    return redirect("recording_detail", pk=rec.pk)


def _declared_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def rec_url(rec: Recording) -> str:
    from django.urls import reverse

    return reverse("recording_detail", args=[rec.pk])


# --- Browser recording session API -----------------------------------------------------------

@monitor_view
@require_POST
def session_start(request):
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"error": _("JSON invalide")}, status=400)
    try:
        rec = services.start_session(
            request.user,
            mime_type=str(body.get("mime_type", "audio/webm")),
            title=str(body.get("title", "")),
            language=body.get("language"),
            speakers=body.get("speakers"),
        )
    except ServiceError as exc:
        return _error(exc)
    return JsonResponse(_session_state(rec), status=201)


def _session_state(rec: Recording) -> dict:
    return {
        "id": rec.pk,
        "status": rec.status,
        "mime_type": rec.mime_type,
        "received": rec.chunk_count,
        "next_index": services.next_chunk_index(rec) if rec.status == Recording.Status.RECORDING else None,
        "missing": services.missing_chunks(rec) if rec.status == Recording.Status.RECORDING else [],
        "live_text": rec.live_text,
        "url": rec_url(rec),
    }


@require_GET
def session_state(request, pk: int):
    return JsonResponse(_session_state(_own_recording(request, pk)))


@require_GET
def unfinished_sessions(request):
    """Recordings left open (reload, network cut): the page offers to resume or finish them."""
    recs = Recording.objects.filter(owner=request.user, status=Recording.Status.RECORDING, chunk_count__gt=0)
    return JsonResponse({"sessions": [_session_state(r) for r in recs[:20]]})


@monitor_view
@require_http_methods(["PUT", "POST"])
def session_chunk(request, pk: int, index: int):
    """Store chunk ``index`` (raw body); the 200 is sent only once it is committed."""
    rec = _own_recording(request, pk)
    if _declared_length(request) > settings.BREFBOARD_MAX_CHUNK_BYTES:
        return error_response(request, 413, "morceau trop gros")  # before reading it
    try:
        ack = services.add_chunk(rec, index, request.body, stream_start=request.GET.get("stream_start") == "1")
    except ServiceError as exc:
        recording_rejected(exc.status)
        return _error(exc)
    return JsonResponse(ack.as_dict())


@monitor_view
@require_POST
def session_finish(request, pk: int):
    rec = _own_recording(request, pk)
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = {}
    try:
        job = services.finalize(rec, language=body.get("language"), allow_gaps=body.get("allow_gaps") is True)
    except ServiceError as exc:
        recording_rejected(exc.status)
        return _error(exc)
    rec.refresh_from_db()
    return JsonResponse({"recording": rec.pk, "job": str(job.pk), "duration": rec.duration,
                         "missing_seconds": rec.missing_seconds, "url": rec_url(rec)})


@require_POST
def session_discard(request, pk: int):
    rec = _own_recording(request, pk)
    if rec.status != Recording.Status.RECORDING:
        return JsonResponse({"error": _("cet enregistrement est déjà terminé")}, status=409)
    rec.delete()
    return JsonResponse({"status": "success"})


# --- Jobs -----------------------------------------------------------------------------------------

@require_GET
def job_status(request, job_id):
    job = _own_job(request, job_id)
    data = job.as_dict()
    data["recording_status"] = job.recording.status
    return JsonResponse(data)


@require_POST
def job_cancel(request, job_id):
    job = _own_job(request, job_id)
    try:
        job = services.cancel_job(job)
    except ServiceError as exc:
        return _error(exc)
    if _wants_json(request):
        return JsonResponse(job.as_dict())
    return redirect("recording_detail", pk=job.recording_id)


@require_POST
def recording_retranscribe(request, pk: int):
    rec = _own_recording(request, pk)
    try:
        job = services.retranscribe(rec, request.POST.get("language"))
    except ServiceError as exc:
        return _error(exc)
    if _wants_json(request):
        return JsonResponse(job.as_dict(), status=201)
    return redirect("recording_detail", pk=rec.pk)


@require_http_methods(["GET", "HEAD"])
def recording_audio(request, pk: int):
    """The finished audio file, for the page's player and for downloads.

    Streamed from its stored parts, one part in memory at a time, and by byte
    range (206) so that a player seeks without fetching the whole file.
    """
    rec = _own_recording(request, pk)
    if rec.finalized_at is None:
        raise Http404(_("audio pas encore finalisé"))
    return ranged_response(request, storage.audio_size(rec), lambda first, last: storage.audio_range(rec, first, last),
                           content_type=rec.audio_content_type, filename=f"recording-{rec.pk}{rec.audio_suffix}")


# --- The original's JSON endpoints (same shapes) -------------------------------------------------

@monitor_view
@require_GET
def get_transcription(request, pk: int):
    rec = _own_recording(request, pk)
    return JsonResponse({"title": rec.display_title, "text": rec.transcript})


@monitor_view
@require_POST
def delete_transcription(request, pk: int):
    rec = _own_recording(request, pk)
    rec.delete()
    return JsonResponse({"status": "success"})


@monitor_view
@require_GET
def current_transcription(request):
    """The live transcript of the user's recording in progress (the original's polling endpoint)."""
    rec = Recording.objects.filter(owner=request.user, status=Recording.Status.RECORDING).order_by("-created_at").first()
    if rec is None:
        return JsonResponse({"transcription": "", "recording": None})
    return JsonResponse({"transcription": rec.live_text, "recording": rec.pk})
