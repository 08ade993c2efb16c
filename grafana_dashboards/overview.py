"""BrefBoard overview: the five panels the user's document asks for, then
errors, exceptions and the transcription queue.

The document lists: Django view response time, number of audio recordings,
duration of transcription tasks, transcription quality and summary
generation time. Metric names are those of ``METRICS.md``.
"""

from . import panels as p
from .panels import SEL

UID = "brefboard-overview"


def build():
    return (
        p.new_dashboard(UID, "BrefBoard / Overview",
                        "BrefBoard at a glance: the panels of the monitoring document, errors and the job queue.",
                        ["overview"], ".*")
        .with_row(p.row("The document's five panels"))
        .with_panel(p.stat(
            "Audio recordings",
            f"sum(increase(django_audio_recordings_total{{{SEL}}}[$__range]))",
            "short", "Recordings started over the dashboard's time range (django_audio_recordings_total).",
            width=6, height=5))
        .with_panel(p.stat(
            "Summaries generated",
            f"sum(increase(django_summaries_generated_total{{{SEL}}}[$__range]))",
            "short", "Summaries generated over the dashboard's time range (django_summaries_generated_total).",
            width=6, height=5))
        .with_panel(p.stat(
            "Mean transcription quality",
            f"sum(increase(brefboard_transcription_quality_sum{{{SEL}}}[$__range])) / "
            f"sum(increase(brefboard_transcription_quality_count{{{SEL}}}[$__range]))",
            "percentunit", "Mean of brefboard_transcription_quality over the time range.", width=6,
            thresholds=[(None, "red"), (0.4, "orange"), (0.7, "green")], height=5))
        .with_panel(p.gauge(
            "Recording quality (last)",
            f"max(recording_quality{{{SEL}}})",
            "percentunit", "Quality score of the last recording (level, clipping, signal to noise), 0 to 1 "
                           "(recording_quality).", width=6,
            thresholds=[(None, "red"), (0.4, "orange"), (0.7, "green")], height=5))
        .with_panel(p.timeseries(
            "Django view response time (p95 by view)",
            p.quantiles("django_view_latency_seconds", by="view_name", qs=(0.95,)),
            "s", "95th percentile of django_view_latency_seconds per view (RequestMiddleware, @monitor_view).",
            width=12))
        .with_panel(p.timeseries(
            "Transcription task duration",
            p.quantiles("django_transcription_duration_seconds", by=""),
            "s", "p50/p95/p99 of a whole transcription task in the Celery workers "
                 "(django_transcription_duration_seconds).", width=12))
        .with_panel(p.heatmap(
            "Transcription quality",
            f"sum by (le) (increase(brefboard_transcription_quality_bucket{{{SEL}}}[$__rate_interval]))",
            "percentunit", "Distribution of the quality Whisper reports (exp(avg_logprob) x (1 - no_speech_prob), "
                           "0 to 1) per transcription: brefboard_transcription_quality.", width=12))
        .with_panel(p.timeseries(
            "Summary generation time",
            p.quantiles("django_summary_generation_seconds", by=""),
            "s", "p50/p95/p99 of the LLM summary and title generation (django_summary_generation_seconds).",
            width=12))
        .with_row(p.row("Errors and exceptions"))
        .with_panel(p.timeseries(
            "Application errors by type",
            p.series_by("type", p.rate(f"django_error_total{{{SEL}}}")),
            "reqps", "django_error_total: transcription_failed, audio_save_error, summary_generation_error...",
            width=8, stack=True))
        .with_panel(p.timeseries(
            "Unhandled exceptions by class",
            p.series_by("type", p.rate(f"django_exceptions_total{{{SEL}}}")),
            "reqps", "django_exceptions_total, counted by ExceptionMiddleware.", width=8, stack=True))
        .with_panel(p.timeseries(
            "Recording and Whisper errors",
            [(f"sum by (error_type) (rate(recording_errors_total{{{SEL}}}[$__rate_interval]))",
              "recording {{error_type}}"),
             (f"sum by (error_type) (rate(whisper_errors_total{{{SEL}}}[$__rate_interval]))",
              "whisper {{error_type}}")],
            "reqps", "recording_errors_total and whisper_errors_total by error_type.", width=8, stack=True))
        .with_row(p.row("Job queue"))
        .with_panel(p.timeseries(
            "Jobs waiting per queue",
            p.series_by("queue", f"brefboard_queue_jobs_waiting{{{SEL}}}", agg="max"),
            "short", "Jobs waiting in the broker, per queue (brefboard_queue_jobs_waiting).", width=8))
        .with_panel(p.timeseries(
            "Jobs by state",
            p.series_by("state", f"brefboard_jobs{{{SEL}}}", agg="max"),
            "short", "Recordings by processing state, from the database (brefboard_jobs).", width=8))
        .with_panel(p.timeseries(
            "Upload to transcript",
            p.quantiles("brefboard_upload_to_transcript_seconds", by="", qs=(0.5, 0.95)),
            "s", "Time from the upload to the stored transcript, what the user waits "
                 "(brefboard_upload_to_transcript_seconds).", width=8))
    )
