from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "brefboard.monitoring"
    label = "brefboard_monitoring"

    def ready(self) -> None:
        from . import metrics, signals  # noqa: F401 - define the metrics, connect the model signals
