from django.apps import AppConfig


class RecordingsConfig(AppConfig):
    name = "brefboard.recordings"
    label = "recordings"
