"""Counters fed by model signals, so views need no extra line for them."""
from __future__ import annotations

from django.db.models.signals import post_save
from django.dispatch import receiver

from . import metrics


@receiver(post_save, sender="recordings.Recording", dispatch_uid="brefboard-monitoring-recording-started")
def _recording_started(sender, instance, created, raw=False, **kwargs) -> None:
    """``django_audio_recordings_total``: a recording row is created when one starts (browser or upload)."""
    if created and not raw:
        metrics.AUDIO_RECORDINGS.inc()
