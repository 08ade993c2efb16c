from django.urls import path, re_path

from . import views

urlpatterns = [
    path("v1/audio/transcriptions", views.transcriptions, name="api_transcriptions"),
    path("v1/models", views.models, name="api_models"),
    path("v1/models/<str:model_id>", views.models, name="api_model"),
    re_path(r"^v1/(?P<rest>.*)$", views.not_found),
]
