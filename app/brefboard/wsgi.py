"""WSGI entry point (gunicorn brefboard.wsgi)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brefboard.settings")
application = get_wsgi_application()
