from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "brefboard.api"
    label = "api"
    verbose_name = "API compatible OpenAI"
