"""``/v1/``: OpenAI's transcription endpoint and model list, for tools that speak OpenAI's API.

Authenticated by a user's bearer token (never by the session cookie, so the
views are CSRF-exempt: a browser cannot send the header cross-site without the
token). An upload becomes a recording of the token's user, transcribed by the
same queue and workers as the pages' recordings and shown in their library;
the request waits for the job (BREFBOARD_API_WAIT_SECONDS at most, below
gunicorn's timeout) and answers in OpenAI's shapes, errors included:
``{"error": {"message", "type", "param", "code"}}``.
"""
from __future__ import annotations

import logging
import os
import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from ..monitoring import metrics
from ..monitoring.decorators import monitor_view
from ..recordings import services
from ..recordings.models import Recording, TranscriptionJob
from . import formats, tokens

log = logging.getLogger(__name__)

ALIASES = ("whisper-1",)  # what OpenAI's clients and tools send by default
MULTIPART_SLACK = 64 * 1024  # the multipart framing around the file


def error(status: int, message: str, *, type_: str = "invalid_request_error", code: str | None = None,
          param: str | None = None, fmt: str = "none", headers: dict | None = None) -> JsonResponse:
    response = JsonResponse({"error": {"message": message, "type": type_, "param": param, "code": code}},
                            status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return _counted(response, fmt)


def _counted(response, fmt: str):
    metrics.API_REQUESTS.labels(status=str(response.status_code), response_format=fmt).inc()
    return response


def served_models() -> list[str]:
    """The models the workers run: the configured one and those that finished a job lately
    (by name, never a local path), then OpenAI's alias for "the server's Whisper"."""
    names = [settings.BREFBOARD_MODEL] + list(
        TranscriptionJob.objects.filter(status=TranscriptionJob.Status.DONE,
                                        finished_at__gte=timezone.now() - timedelta(days=30))
        .exclude(model="").order_by().values_list("model", flat=True).distinct()[:20])
    out = []
    for name in names:
        name = os.path.basename(str(name).rstrip("/")) if name else ""
        if name and name not in out:
            out.append(name)
    return out + [a for a in ALIASES if a not in out]


def _authenticated(request, fmt: str = "none"):
    """(token, None) or (None, the 401/429 answer)."""
    token = tokens.authenticate(request)
    if token is None:
        return None, error(401, "Incorrect or revoked API key: create one on your BrefBoard profile page.",
                           code="invalid_api_key", fmt=fmt, headers={"WWW-Authenticate": 'Bearer realm="brefboard"'})
    limit = tokens.hit(token)
    if not limit.allowed:
        metrics.API_RATE_LIMITED.inc()
        return None, error(429, f"Rate limit reached: {limit.limit} requests per "
                                f"{settings.BREFBOARD_API_RATE_WINDOW} s for this token; "
                                f"retry in {limit.retry_after} s.",
                           type_="requests", code="rate_limit_exceeded", fmt=fmt,
                           headers={"Retry-After": str(limit.retry_after),
                                    "X-RateLimit-Limit-Requests": str(limit.limit),
                                    "X-RateLimit-Remaining-Requests": "0"})
    return token, None


@csrf_exempt
@login_not_required
@monitor_view
@require_GET
def models(request, model_id: str | None = None):
    token, refused = _authenticated(request)
    if refused:
        return refused
    data = [{"id": name, "object": "model", "created": 0, "owned_by": "brefboard"} for name in served_models()]
    if model_id is not None:
        found = [m for m in data if m["id"] == model_id]
        if not found:
            return error(404, f"The model '{model_id}' does not exist.", code="model_not_found", param="model")
        return _counted(JsonResponse(found[0]), "none")
    return _counted(JsonResponse({"object": "list", "data": data}), "none")


@csrf_exempt
@login_not_required
@monitor_view
@require_POST
def transcriptions(request):
    # Before the body is read: the format is in the body, so these count as "none".
    token, refused = _authenticated(request)
    if refused:
        return refused
    if _declared_length(request) > settings.BREFBOARD_MAX_UPLOAD_BYTES + MULTIPART_SLACK:
        return error(413, f"The file is larger than this server accepts "
                          f"({settings.BREFBOARD_MAX_UPLOAD_BYTES // (1024 * 1024)} MB).",
                     code="file_too_large", param="file")
    fmt = request.POST.get("response_format", "json").strip() or "json"
    if fmt not in formats.FORMATS:
        return error(400, f"response_format must be one of {', '.join(formats.FORMATS)}.",
                     param="response_format", code="invalid_value", fmt="invalid")
    problem = _check_options(request)
    if problem:
        return error(400, problem[1], param=problem[0], code="invalid_value", fmt=fmt)
    granularities = set(request.POST.getlist("timestamp_granularities[]") or
                        request.POST.getlist("timestamp_granularities"))
    if granularities - {"segment", "word"}:
        return error(400, "timestamp_granularities[] takes segment and word.",
                     param="timestamp_granularities", code="invalid_value", fmt=fmt)
    if granularities == {"word"}:
        return error(400, "This server's engines give segment timestamps, not word ones: "
                          "ask for timestamp_granularities[]=segment.",
                     param="timestamp_granularities", code="unsupported_value", fmt=fmt)
    if granularities and fmt != "verbose_json":
        return error(400, "timestamp_granularities needs response_format=verbose_json.",
                     param="timestamp_granularities", code="invalid_value", fmt=fmt)
    granularities = granularities or {"segment"}
    uploaded = request.FILES.get("file")
    if uploaded is None:
        return error(400, "No file: send the audio as the multipart field 'file'.", param="file",
                     code="missing_file", fmt=fmt)
    language = request.POST.get("language", "")
    try:
        rec = services.create_upload(token.user, uploaded, language=language or "auto")
    except services.ServiceError as exc:
        if exc.status == 413:
            return error(413, exc.message, code="file_too_large", param="file", fmt=fmt)
        param = "language" if exc.field == "language" else "file"
        return error(400, f"Invalid {param}: {exc.message}", param=param,
                     code="invalid_language" if param == "language" else "invalid_file", fmt=fmt)
    job = rec.latest_job()
    job = _wait(job)
    page = request.build_absolute_uri(reverse("recording_detail", args=[rec.pk]))
    if job.status == TranscriptionJob.Status.RUNNING or job.status == TranscriptionJob.Status.QUEUED:
        return error(504, f"The transcription is not finished after {settings.BREFBOARD_API_WAIT_SECONDS:g} s; "
                          f"it goes on and will be in the library: {page}",
                     type_="server_error", code="timeout", fmt=fmt)
    if job.status != TranscriptionJob.Status.DONE:
        return error(500, f"The transcription {job.get_status_display().lower()}: {job.error or job.stage}. "
                          f"See {page}", type_="server_error", code="transcription_failed", fmt=fmt)
    rec = Recording.objects.get(pk=rec.pk)
    metrics.API_AUDIO_SECONDS.inc(float(rec.duration or 0.0))
    response = formats.render(fmt, rec, list(rec.segments.filter(job=job)), granularities=granularities)
    response["X-BrefBoard-Recording"] = page
    return _counted(response, fmt)


def _check_options(request) -> tuple[str, str] | None:
    model = request.POST.get("model", "").strip()
    if not model:
        return "model", "model is required (whisper-1, or a name from GET /v1/models)."
    if model not in served_models():
        return "model", f"The model '{model}' is not served here; GET /v1/models lists them."
    raw = request.POST.get("temperature", "").strip()
    if raw:
        try:
            temperature = float(raw)
        except ValueError:
            return "temperature", "temperature must be a number between 0 and 1."
        if not 0.0 <= temperature <= 1.0:
            return "temperature", "temperature must be between 0 and 1."
    if len(request.POST.get("prompt", "")) > 4000:
        return "prompt", "prompt is too long."
    return None


def _wait(job: TranscriptionJob) -> TranscriptionJob:
    """Poll the job row until it ends or BREFBOARD_API_WAIT_SECONDS pass."""
    deadline = time.monotonic() + settings.BREFBOARD_API_WAIT_SECONDS
    pause = 0.2
    while True:
        job = TranscriptionJob.objects.get(pk=job.pk)
        if not job.is_active or time.monotonic() >= deadline:
            return job
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 1.5, 2.0)


def _declared_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


# Only these answer outside a login; every other /v1/ path is a 404 in OpenAI's shape.
@csrf_exempt
@login_not_required
def not_found(request, rest: str = ""):
    return error(404, f"Unknown API path /v1/{rest}: this server has /v1/audio/transcriptions and /v1/models.",
                 code="unknown_url")


