"""`manage.py detect_stuck_jobs`: the stuck-job check, for hosts without celery beat.

Celery beat runs the same check every BREFBOARD_STUCK_CHECK_SECONDS; this
command lets a systemd timer or cron do it instead, and exits 1 when it found
stuck jobs so that the timer's failure shows up too.
"""
from django.core.management.base import BaseCommand

from brefboard.recordings.tasks import detect_stuck_jobs


class Command(BaseCommand):
    help = "Flag transcription jobs whose worker went silent or that no worker took, and requeue the silent ones."

    def handle(self, *args, **options):
        found = detect_stuck_jobs()
        self.stdout.write(f"running jobs with a silent worker: {found['running']}; queued too long: {found['queued']}")
        if found["running"] or found["queued"]:
            raise SystemExit(1)
