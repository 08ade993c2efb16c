from django.apps import AppConfig


class LibraryConfig(AppConfig):
    name = "brefboard.library"
    label = "library"
    verbose_name = "Bibliothèque"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # A finished transcription asks for its summary (see signals.py).
        from . import signals  # noqa: F401
