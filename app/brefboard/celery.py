"""The Celery application shared by the web host (which sends jobs) and the workers.

Configuration comes from Django settings (``CELERY_*``), so a worker reads the
same environment as the web process. Start a worker with, for example::

    celery -A brefboard worker -Q transcribe.cpu --concurrency 1
"""
from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brefboard.settings")

app = Celery("brefboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Worker metrics endpoint and queue timings (Celery signals; imports no metrics library yet).
from brefboard.monitoring import worker as _worker_metrics  # noqa: E402,F401
