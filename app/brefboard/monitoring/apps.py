from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "brefboard.monitoring"
    label = "brefboard_monitoring"

    def ready(self) -> None:
        # Define the metrics; connect the model signals and the Celery ones (publish time stamps).
        from . import metrics, signals, worker  # noqa: F401
