"""What a recording is, where its audio lives, and the jobs that transcribe it.

Audio lives in the database (``Chunk`` while recording, ``AudioPart`` once
finished), split into rows of a few MB: a worker on another host reads it over
the database connection it already needs for job state, so no shared file
system, no extra service and no extra secret (see app/README.md).
"""
from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy as _


class Recording(models.Model):
    class Source(models.TextChoices):
        BROWSER = "browser", _("Enregistrement")
        UPLOAD = "upload", _("Fichier envoyé")

    class Status(models.TextChoices):
        RECORDING = "recording", _("En cours d'enregistrement")
        READY = "ready", _("Audio prêt")
        QUEUED = "queued", _("En attente")
        PROCESSING = "processing", _("Transcription en cours")
        DONE = "done", _("Transcrit")
        FAILED = "failed", _("Échec")
        CANCELLED = "cancelled", _("Annulé")

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recordings")
    title = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECORDING)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    finalized_at = models.DateTimeField(null=True, blank=True)

    # Audio: container type of the chunks or of the uploaded file, final size and duration.
    mime_type = models.CharField(max_length=100, blank=True)
    original_filename = models.CharField(max_length=255, blank=True)
    audio_format = models.CharField(max_length=32, blank=True)  # container name PyAV reported
    audio_bytes = models.BigIntegerField(default=0)
    duration = models.FloatField(null=True, blank=True)  # seconds
    # Seconds of audio lost in gaps (chunks that never arrived) when finished anyway.
    missing_seconds = models.FloatField(default=0.0, db_default=0.0)  # db_default: old code during a rollout

    # Browser sessions: chunks are numbered 0, 1, 2 ... by the client.
    chunk_count = models.PositiveIntegerField(default=0)  # distinct chunks stored

    # Live transcript of finished chunks while recording.
    live_text = models.TextField(blank=True)
    live_upto = models.FloatField(default=0.0)  # seconds of audio already live-transcribed
    # When a live pass was last asked for; cleared when it starts. A pass lost with
    # its worker only blocks new ones for LIVE_RETRY seconds.
    live_requested_at = models.DateTimeField(null=True, blank=True)

    # Final transcript (replaces the live one).
    transcript = models.TextField(blank=True)
    language = models.CharField(max_length=16, blank=True)

    # Speakers (transcription/diarize.py): how many the user said there are (None: estimated),
    # and the names the owner gave them, by speaker number ("" or missing: « Intervenant n »).
    speaker_count = models.PositiveSmallIntegerField(null=True, blank=True)
    speaker_names = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title or gettext("Enregistrement %(n)s") % {"n": self.pk}

    @property
    def display_title(self) -> str:
        return str(self)

    @property
    def audio_content_type(self) -> str:
        """MIME type of the stored file, from the container FFmpeg recognised."""
        fmt = self.audio_format
        for key, mime in (("webm", "audio/webm"), ("mp4", "audio/mp4"), ("ogg", "audio/ogg"), ("wav", "audio/wav"),
                          ("mp3", "audio/mpeg"), ("flac", "audio/flac")):
            if key in fmt.split(","):
                return mime
        return "application/octet-stream"

    @property
    def audio_suffix(self) -> str:
        return {"audio/webm": ".webm", "audio/mp4": ".m4a", "audio/ogg": ".ogg", "audio/wav": ".wav",
                "audio/mpeg": ".mp3", "audio/flac": ".flac"}.get(self.audio_content_type, ".bin")

    def speaker_name(self, number: int | None) -> str:
        """The name of speaker ``number`` (0-based) as the owner set it, else « Intervenant n »."""
        if number is None:
            return ""
        names = self.speaker_names or []
        name = names[number] if 0 <= number < len(names) else ""
        return name or gettext("Intervenant %(n)s") % {"n": number + 1}

    def speakers(self) -> list[tuple[int, str]]:
        """(number, name) of every speaker of the transcript, in order of first word."""
        numbers = self.segments.exclude(speaker__isnull=True).values_list("speaker", flat=True).distinct()
        return [(n, self.speaker_name(n)) for n in sorted(set(numbers))]

    def speaker_segments(self) -> list[dict]:
        """The segments as mappings with the speaker's name (``speaker``: "" when not diarized), for
        exports and the summary."""
        return [{"start": s.start, "end": s.end, "text": s.text, "speaker": self.speaker_name(s.speaker)}
                for s in self.segments.all()]

    def latest_job(self) -> "TranscriptionJob | None":
        return self.jobs.order_by("-created_at").first()


class Chunk(models.Model):
    """One MediaRecorder chunk, stored (committed) before the client gets its ack."""

    recording = models.ForeignKey(Recording, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    data = models.BinaryField()
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    # True for the first chunk of each MediaRecorder stream: it carries the container
    # header. Index 0 always does; a recording resumed after a reload starts another.
    starts_stream = models.BooleanField(default=False)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["index"]
        constraints = [models.UniqueConstraint(fields=["recording", "index"], name="chunk_unique_index")]


class AudioPart(models.Model):
    """A slice of the finished audio file; parts concatenated in order give the file."""

    recording = models.ForeignKey(Recording, on_delete=models.CASCADE, related_name="audio_parts")
    index = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        ordering = ["index"]
        constraints = [models.UniqueConstraint(fields=["recording", "index"], name="audiopart_unique_index")]


def claim_lease_seconds() -> float:
    """A running job whose heartbeat is older than this has lost its worker: three missed beats."""
    return max(3.0, 3 * float(settings.BREFBOARD_HEARTBEAT_SECONDS))


class TranscriptionJob(models.Model):
    """One request to transcribe a recording, as seen by the user and by the workers.

    Celery may deliver the same message twice (a worker killed mid-job, Redis'
    visibility timeout). The job row is the source of truth: a worker *claims*
    it (``claim_token``) and only the holder of the current claim may write the
    result, so a job completes exactly once whatever the broker does.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("En attente")
        RUNNING = "running", _("En cours")
        DONE = "done", _("Terminé")
        FAILED = "failed", _("Échec")
        CANCELLED = "cancelled", _("Annulé")

    ACTIVE = (Status.QUEUED, Status.RUNNING)
    STAGE_LABELS = {
        "queued": _("en file d'attente"),
        "waiting_for_broker": _("en attente de la file de travaux"),
        "starting": _("démarrage"),
        "retrying": _("nouvel essai prévu"),
        "fetching_audio": _("récupération de l'audio"),
        "loading_model": _("chargement du modèle"),
        "transcribing": _("transcription"),
        "diarizing": _("attribution des intervenants"),
        "done": _("terminé"),
        "failed": _("échec"),
        "cancelled": _("annulé"),
    }

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    recording = models.ForeignKey(Recording, on_delete=models.CASCADE, related_name="jobs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    stage = models.CharField(max_length=64, default="queued")
    progress = models.FloatField(default=0.0)  # percent, 0..100
    queue = models.CharField(max_length=64)
    language = models.CharField(max_length=16, blank=True)  # requested; "" = detect
    celery_task_id = models.CharField(max_length=64, blank=True)

    attempts = models.PositiveIntegerField(default=0)  # claims taken, one per (re)start
    completions = models.PositiveIntegerField(default=0)  # must end at 1 for a done job
    claim_token = models.UUIDField(null=True, blank=True)
    worker = models.CharField(max_length=255, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    stuck = models.BooleanField(default=False)
    stuck_reason = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)

    engine = models.CharField(max_length=32, blank=True)
    model = models.CharField(max_length=255, blank=True)
    device = models.CharField(max_length=16, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def stage_label(self) -> str:
        return str(self.STAGE_LABELS.get(self.stage, self.stage))  # str: as_dict goes into JSON

    @property
    def notice(self) -> str:
        """What the page says while a lost worker's job is being taken over, and after."""
        if self.status != self.Status.RUNNING:
            return ""
        if self.heartbeat_at and timezone.now() - self.heartbeat_at > timedelta(seconds=claim_lease_seconds()):
            return gettext("Worker perdu — relance en cours…")
        if not self.stuck and self.stuck_reason:
            return self.stuck_reason  # "worker … perdu — travail relancé", set by the takeover
        return ""

    def as_dict(self) -> dict:
        return {
            "id": str(self.id),
            "recording": self.recording_id,
            "status": self.status,
            "status_label": self.get_status_display(),
            "stage": self.stage,
            "stage_label": self.stage_label,
            "progress": round(self.progress, 1),
            "queue": self.queue,
            "attempts": self.attempts,
            "stuck": self.stuck,
            "stuck_reason": self.stuck_reason,
            "notice": self.notice,
            "error": self.error,
        }


class Segment(models.Model):
    """A timed piece of the final transcript, as Whisper returned it."""

    recording = models.ForeignKey(Recording, on_delete=models.CASCADE, related_name="segments")
    job = models.ForeignKey(TranscriptionJob, on_delete=models.CASCADE, related_name="segments")
    index = models.PositiveIntegerField()
    start = models.FloatField()
    end = models.FloatField()
    text = models.TextField()
    avg_logprob = models.FloatField(default=0.0)
    no_speech_prob = models.FloatField(default=0.0)
    speaker = models.PositiveSmallIntegerField(null=True, blank=True)  # 0-based; None: not diarized

    class Meta:
        ordering = ["index"]
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="segment_unique_index")]


class JobPiece(models.Model):
    """One piece of a long recording's job (split.py): ``start``..``end`` seconds of the
    recording, cut in a silence, transcribed by whichever worker takes it.

    Claimed like a job (``claim_token``, heartbeat); its segments, already on the
    recording's clock, wait here until the last piece is done and the job is joined.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("En attente")
        RUNNING = "running", _("En cours")
        DONE = "done", _("Terminé")
        CANCELLED = "cancelled", _("Annulé")

    job = models.ForeignKey(TranscriptionJob, on_delete=models.CASCADE, related_name="pieces")
    index = models.PositiveIntegerField()
    start = models.FloatField()  # seconds on the recording's clock
    end = models.FloatField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0)  # percent of this piece
    claim_token = models.UUIDField(null=True, blank=True)
    worker = models.CharField(max_length=255, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    celery_task_id = models.CharField(max_length=64, blank=True)
    segments = models.JSONField(default=list, blank=True)  # [[start, end, text, avg_logprob, no_speech_prob]]
    text = models.TextField(blank=True)
    language = models.CharField(max_length=16, blank=True)

    class Meta:
        ordering = ["index"]
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="jobpiece_unique_index")]
