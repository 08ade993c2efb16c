"""A recording's summary: what the model (or the extractive fallback) wrote, and the job state.

One row per recording. Regenerating reuses the row with a new ``request_id``;
a worker writes its result only if the row still carries the ``request_id``
it was sent, so a late answer to an older request (or a re-delivered message)
never overwrites a newer one.
"""
from __future__ import annotations

import uuid

from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy as _

from brefboard.recordings.models import Recording


class Summary(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("En attente")
        RUNNING = "running", _("En cours")
        DONE = "done", _("Terminé")
        FAILED = "failed", _("Échec")

    class Method(models.TextChoices):
        LLM = "llm", _("Modèle de langue")
        EXTRACTIVE = "extractive", _("Extractif")
        TOO_SHORT = "too_short", _("Transcription trop courte")

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    recording = models.OneToOneField(Recording, on_delete=models.CASCADE, related_name="summary")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    request_id = models.UUIDField(default=uuid.uuid4)
    source_job = models.UUIDField(null=True, blank=True)  # transcription job that asked for it

    text = models.TextField(blank=True)
    title = models.CharField(max_length=200, blank=True)  # the generated title
    key_points = models.JSONField(default=list, blank=True)
    decisions = models.JSONField(default=list, blank=True)
    action_items = models.JSONField(default=list, blank=True)
    structured_valid = models.BooleanField(default=True)
    language = models.CharField(max_length=16, blank=True)
    method = models.CharField(max_length=16, choices=Method.choices, blank=True)
    model = models.CharField(max_length=255, blank=True)
    chunks = models.PositiveIntegerField(default=0)

    error = models.TextField(blank=True)  # safe to show: never holds the API key
    error_kind = models.CharField(max_length=32, blank=True)
    requested_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return self.title or gettext("Résumé %(n)s") % {"n": self.pk}

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def is_extractive(self) -> bool:
        return self.method == self.Method.EXTRACTIVE

    def as_dict(self) -> dict:
        return {
            "id": self.pk,
            "recording": self.recording_id,
            "status": self.status,
            "title": self.title,
            "text": self.text,
            "method": self.method,
            "extractive": self.is_extractive,
            "key_points": self.key_points,
            "decisions": self.decisions,
            "action_items": self.action_items,
            "error": self.error,
        }


class SearchDocument(models.Model):
    """A recording's full-text vector (title, summary, transcript), for the search on PostgreSQL.

    Written only by the database's triggers (see search_index.py for why), never
    by Django: no save() anywhere. The GIN index, the triggers and the foreign
    key (ON DELETE CASCADE, hence ``DO_NOTHING`` and ``db_constraint=False``
    here) are created by migration 0002 on PostgreSQL; on SQLite the table
    exists but stays empty.
    """

    recording = models.OneToOneField(Recording, on_delete=models.DO_NOTHING, primary_key=True,
                                     db_constraint=False, related_name="search_document")
    vector = SearchVectorField()

    class Meta:
        default_permissions = ()
