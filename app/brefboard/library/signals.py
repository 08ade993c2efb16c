"""Ask for a summary when a transcription job finishes.

The recordings app saves the job with ``status=done`` once, inside the
transaction that stores the transcript; the request is sent after commit
(``request_summary`` uses ``on_commit``), from whichever process finished
the job (usually a transcription worker).
"""
from __future__ import annotations

from django.db.models.signals import post_save
from django.dispatch import receiver

from brefboard.recordings.models import TranscriptionJob


@receiver(post_save, sender=TranscriptionJob, dispatch_uid="library-summary-on-transcript")
def summary_after_transcription(sender, instance: TranscriptionJob, created: bool, **kwargs) -> None:
    if created or instance.status != TranscriptionJob.Status.DONE:
        return
    from .models import Summary
    from .services import request_summary

    if Summary.objects.filter(recording_id=instance.recording_id, source_job=instance.pk).exists():
        return  # already asked for this transcript
    request_summary(instance.recording, source_job=instance.pk)
