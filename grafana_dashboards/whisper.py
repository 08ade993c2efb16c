"""Whisper workers: how fast and how well the Celery workers transcribe.

Processing time, real-time factor (processing time / audio duration; above 1
the workers fall behind live recording), errors by exception class, time jobs
wait in the queue, and GPU memory on hosts with CUDA (no data on CPU hosts).
"""

from . import panels as p
from .panels import SEL

UID = "brefboard-whisper"


def build():
    return (
        p.new_dashboard(UID, "BrefBoard / Whisper workers",
                        "Transcription speed, errors, queue wait and GPU memory of the Whisper Celery workers.",
                        ["whisper", "celery"], ".*")
        .with_panel(p.stat(
            "Transcriptions / hour",
            f"sum(rate(whisper_processing_time_seconds_count{{{SEL}}}[$__rate_interval])) * 3600",
            "short", "Whisper runs per hour, all selected workers.", width=6))
        .with_panel(p.stat(
            "Median real-time factor",
            f"histogram_quantile(0.5, sum by (le) "
            f"(rate(brefboard_transcription_realtime_factor_bucket{{{SEL}}}[$__range])))",
            "x", "Processing time divided by audio duration. Below 1: faster than real time.", width=6,
            thresholds=[(None, "green"), (0.8, "orange"), (1, "red")]))
        .with_panel(p.ratio_stat(
            "Whisper error ratio",
            f"whisper_errors_total{{{SEL}}}", f"whisper_processing_time_seconds_count{{{SEL}}}",
            "Failed Whisper runs per Whisper run over the time range.",
            thresholds=[(None, "green"), (0.01, "orange"), (0.05, "red")], window="$__range"))
        .with_panel(p.stat(
            "Audio transcribed",
            f"sum(increase(audio_duration_seconds_sum{{{SEL}}}[$__range]))",
            "s", "Seconds of audio transcribed over the time range (audio_duration_seconds).", width=6))
        .with_panel(p.timeseries(
            "Whisper processing time",
            p.quantiles("whisper_processing_time_seconds", by=""),
            "s", "p50/p95/p99 of whisper_processing_time_seconds (@monitor_whisper_processing).", width=12))
        .with_panel(p.heatmap(
            "Whisper processing time distribution",
            f"sum by (le) (increase(whisper_processing_time_seconds_bucket{{{SEL}}}[$__rate_interval]))",
            "s", "Buckets of whisper_processing_time_seconds over time.", width=12))
        .with_panel(p.timeseries(
            "Real-time factor by device",
            p.quantiles("brefboard_transcription_realtime_factor", by="device", qs=(0.5, 0.95)),
            "x", "brefboard_transcription_realtime_factor by device (cpu, cuda). 1 = as long as the audio.",
            width=12))
        .with_panel(p.timeseries(
            "Whisper errors by type",
            p.series_by("error_type", p.rate(f"whisper_errors_total{{{SEL}}}")),
            "reqps", "whisper_errors_total by exception class.", width=12, stack=True))
        .with_panel(p.timeseries(
            "Queue wait",
            p.quantiles("brefboard_queue_wait_seconds", by="queue", qs=(0.5, 0.95)),
            "s", "Time between enqueue and a worker starting the job (brefboard_queue_wait_seconds).", width=12))
        .with_panel(p.timeseries(
            "Queue depth and oldest job",
            [(f"max by (queue) (brefboard_queue_jobs_waiting{{{SEL}}})", "{{queue}} waiting"),
             (f"max by (queue) (brefboard_queue_oldest_job_age_seconds{{{SEL}}})", "{{queue}} oldest (s)")],
            "short", "Jobs waiting and the age in seconds of the oldest one, per queue.", width=12))
        .with_panel(p.bargauge(
            "Whisper errors by type (time range)",
            f"sum by (error_type) (increase(whisper_errors_total{{{SEL}}}[$__range]))", "{{error_type}}",
            "short", "Failures per exception class over the dashboard's time range.", width=8))
        .with_panel(p.timeseries(
            "GPU memory (GPU hosts)",
            [(f"max by (instance, gpu, kind) (whisper_gpu_memory_bytes{{{SEL}}})",
              "{{instance}} gpu{{gpu}} {{kind}}")],
            "bytes", "whisper_gpu_memory_bytes: allocated, reserved and total per GPU. "
                     "Empty on CPU-only workers, which do not export it.", width=8))
        .with_panel(p.gauge(
            "GPU memory used (max over GPUs)",
            f'max(max by (instance, gpu) (whisper_gpu_memory_bytes{{{SEL}, kind="reserved"}}) / '
            f'max by (instance, gpu) (whisper_gpu_memory_bytes{{{SEL}, kind="total"}}))',
            "percentunit", "Reserved over total memory of the fullest GPU. Empty on CPU-only workers.", width=8,
            thresholds=[(None, "green"), (0.8, "orange"), (0.95, "red")]))
    )
