from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("upload/", views.upload, name="upload"),
    path("recordings/<int:pk>/", views.recording_detail, name="recording_detail"),
    path("recordings/<int:pk>/audio/", views.recording_audio, name="recording_audio"),
    path("recordings/<int:pk>/speakers/", views.recording_speakers, name="recording_speakers"),
    path("recordings/<int:pk>/retranscribe/", views.recording_retranscribe, name="recording_retranscribe"),
    # Browser recording sessions.
    path("api/sessions/", views.session_start, name="session_start"),
    path("api/sessions/unfinished/", views.unfinished_sessions, name="unfinished_sessions"),
    path("api/sessions/<int:pk>/", views.session_state, name="session_state"),
    path("api/sessions/<int:pk>/chunks/<int:index>/", views.session_chunk, name="session_chunk"),
    path("api/sessions/<int:pk>/finish/", views.session_finish, name="session_finish"),
    path("api/sessions/<int:pk>/discard/", views.session_discard, name="session_discard"),
    # Jobs.
    path("api/jobs/<str:job_id>/", views.job_status, name="job_status"),
    path("api/jobs/<str:job_id>/cancel/", views.job_cancel, name="job_cancel"),
    # The original's endpoints.
    path("get_transcription/<int:pk>/", views.get_transcription, name="get_transcription"),
    path("delete_transcription/<int:pk>/", views.delete_transcription, name="delete_transcription"),
    path("current_transcription/", views.current_transcription, name="current_transcription"),
]
