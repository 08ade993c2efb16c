from django.urls import path, re_path

from . import views

urlpatterns = [
    # The original's `profil`, now the library (takes over the recordings app's page).
    path("profil/", views.profil, name="profil"),
    # API tokens, made and revoked on the profile page (brefboard/api).
    path("profil/api-tokens/", views.api_token_create, name="api_token_create"),
    path("profil/api-tokens/<int:token_id>/revoke/", views.api_token_revoke, name="api_token_revoke"),
    path("library/<int:pk>/", views.detail, name="library_detail"),
    path("library/<int:pk>/edit/", views.edit, name="library_edit"),
    path("library/<int:pk>/delete/", views.delete, name="library_delete"),
    path("library/<int:pk>/summary/", views.regenerate, name="summary_regenerate"),
    re_path(r"^library/(?P<pk>\d+)/export/(?P<fmt>pdf|txt|md|srt|vtt)/$", views.export, name="library_export"),
    path("api/library/<int:pk>/summary/", views.summary_status, name="summary_status"),
    # The original's JSON endpoints for summaries (same shapes as for transcriptions).
    path("get_summary/<int:pk>/", views.get_summary, name="get_summary"),
    path("delete_summary/<int:pk>/", views.delete_summary, name="delete_summary"),
]
