"""Ask for a summary when a transcription job finishes.

The recordings app saves the job with ``status=done`` once, inside the
transaction that stores the transcript; the summary is asked for after that
commit, from whichever process finished the job (usually a transcription
worker). An empty transcript (silence) gets no summary.
"""
from __future__ import annotations

import logging

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from brefboard.recordings.models import Recording, TranscriptionJob

log = logging.getLogger(__name__)


@receiver(post_save, sender=TranscriptionJob, dispatch_uid="library-summary-on-transcript")
def summary_after_transcription(sender, instance: TranscriptionJob, created: bool, **kwargs) -> None:
    if created or instance.status != TranscriptionJob.Status.DONE:
        return
    recording_id, job_id = instance.recording_id, instance.pk
    # After the transcript's transaction commits, in a transaction of our own:
    # nothing here can roll back, or delay, the stored transcript.
    transaction.on_commit(lambda: _request(recording_id, job_id))


def _request(recording_id: int, job_id) -> None:
    from ..monitoring import metrics
    from .models import Summary
    from .services import request_summary

    try:
        if Summary.objects.filter(recording_id=recording_id, source_job=job_id).exists():
            return  # already asked for this transcript
        recording = Recording.objects.filter(pk=recording_id).first()
        if recording is not None and recording.transcript.strip():
            request_summary(recording, source_job=job_id)
    except Exception:
        log.exception("could not ask for the summary of recording %s", recording_id)
        metrics.ERRORS.labels(type=metrics.SUMMARY_ERROR_TYPE).inc()
